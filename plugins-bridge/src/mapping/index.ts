/** The field mapping: a JSON file with a schema, loaded and validated at start-up. */
export * from "./schema";
export * from "./settings";
export { loadMapping, fieldsForLink, overlay, MappingError, DEFAULT_MAPPING } from "./load";
export type { FieldMapping, Mapping, MappingIssue } from "./load";
export { transformFor, picklistOptions } from "./transforms";
export type { TransformImpl, WriteResult } from "./transforms";
export { canonicalJson, jsonEquals, toJson } from "./json";
export type { JsonValue, JsonPrimitive } from "./json";
export { applyOps, opToSet, parsePath, getAt } from "./pointer";
export type { PartnerCenterPath } from "./pointer";
