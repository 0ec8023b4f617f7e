/**
 * Read-only metadata endpoints, enough for smoke checks after an import:
 * `EntityDefinitions`, `EntityDefinitions(LogicalName='x')` (`$select`, `$expand=Attributes,Keys`),
 * `EntityDefinitions(LogicalName='x')/Attributes[/Microsoft.Dynamics.CRM.<Type>AttributeMetadata][(LogicalName='y')]`
 * (`$select`, `$filter`, `$expand=OptionSet,GlobalOptionSet`), `…/Keys`, and
 * `GlobalOptionSetDefinitions(Name='x')`. Metadata writes (CreateAttribute & co.) are not emulated.
 */
import { evaluateFilter, parseFilter, parseSelect } from "../../odata";
import { Errors } from "../errors";
import type { AttributeMetadata, EntityMetadata, KeyMetadata, OptionSetMetadata } from "../metadata/types";
import type { Schema } from "../metadata/schema";
import type { Organization } from "../org";
import { jsonResponse, type ApiContext, type ApiRequest, type ApiResponse } from "./http";
import { odata, parseExpand } from "./query";
import type { PathSegment } from "./url";

const label = (text: string, metadataId: string) => {
  const l = { Label: text, LanguageCode: 1033, IsManaged: false, MetadataId: metadataId, HasChanged: null };
  return { LocalizedLabels: text === "" ? [] : [l], UserLocalizedLabel: text === "" ? null : l };
};

const ATTRIBUTE_TYPES: Record<AttributeMetadata["kind"], { type: string; odataType: string; typeName: string }> = {
  uniqueidentifier: { type: "Uniqueidentifier", odataType: "UniqueIdentifierAttributeMetadata", typeName: "UniqueidentifierType" },
  string: { type: "String", odataType: "StringAttributeMetadata", typeName: "StringType" },
  memo: { type: "Memo", odataType: "MemoAttributeMetadata", typeName: "MemoType" },
  integer: { type: "Integer", odataType: "IntegerAttributeMetadata", typeName: "IntegerType" },
  bigint: { type: "BigInt", odataType: "BigIntAttributeMetadata", typeName: "BigIntType" },
  decimal: { type: "Decimal", odataType: "DecimalAttributeMetadata", typeName: "DecimalType" },
  double: { type: "Double", odataType: "DoubleAttributeMetadata", typeName: "DoubleType" },
  money: { type: "Money", odataType: "MoneyAttributeMetadata", typeName: "MoneyType" },
  boolean: { type: "Boolean", odataType: "BooleanAttributeMetadata", typeName: "BooleanType" },
  datetime: { type: "DateTime", odataType: "DateTimeAttributeMetadata", typeName: "DateTimeType" },
  picklist: { type: "Picklist", odataType: "PicklistAttributeMetadata", typeName: "PicklistType" },
  multiselectpicklist: { type: "Virtual", odataType: "MultiSelectPicklistAttributeMetadata", typeName: "MultiSelectPicklistType" },
  state: { type: "State", odataType: "StateAttributeMetadata", typeName: "StateType" },
  status: { type: "Status", odataType: "StatusAttributeMetadata", typeName: "StatusType" },
  lookup: { type: "Lookup", odataType: "LookupAttributeMetadata", typeName: "LookupType" },
  customer: { type: "Customer", odataType: "LookupAttributeMetadata", typeName: "CustomerType" },
  owner: { type: "Owner", odataType: "LookupAttributeMetadata", typeName: "OwnerType" },
  entityname: { type: "EntityName", odataType: "EntityNameAttributeMetadata", typeName: "EntityNameType" },
  virtual: { type: "Virtual", odataType: "AttributeMetadata", typeName: "VirtualType" },
};

function optionSetJson(os: OptionSetMetadata): Record<string, unknown> {
  return {
    "@odata.type": "#Microsoft.Dynamics.CRM.OptionSetMetadata",
    MetadataId: os.metadataId,
    Name: os.name,
    IsGlobal: os.isGlobal,
    IsCustomOptionSet: os.isGlobal,
    OptionSetType: { picklist: "Picklist", boolean: "Boolean", state: "State", status: "Status" }[os.optionSetType],
    DisplayName: label(os.displayName, os.metadataId),
    Options: os.options.map((o) => ({
      Value: o.value,
      Label: label(o.label, `${os.metadataId}:${o.value}`),
      ...(o.state !== undefined ? { State: o.state } : {}),
      ...(o.defaultStatus !== undefined ? { DefaultStatus: o.defaultStatus } : {}),
    })),
  };
}

export function attributeJson(entity: EntityMetadata, a: AttributeMetadata): Record<string, unknown> {
  const t = ATTRIBUTE_TYPES[a.kind];
  const out: Record<string, unknown> = {
    "@odata.type": `#Microsoft.Dynamics.CRM.${t.odataType}`,
    MetadataId: a.metadataId,
    LogicalName: a.logicalName,
    SchemaName: a.schemaName,
    EntityLogicalName: entity.logicalName,
    AttributeType: t.type,
    AttributeTypeName: { Value: t.typeName },
    IsCustomAttribute: a.isCustom,
    IsPrimaryId: a.isPrimaryId === true,
    IsPrimaryName: a.isPrimaryName === true,
    IsValidForCreate: a.validForCreate,
    IsValidForUpdate: a.validForUpdate,
    IsValidForRead: a.validForRead && !a.writeOnly,
    RequiredLevel: { Value: a.requiredLevel, CanBeChanged: true, ManagedPropertyLogicalName: "canmodifyrequirementlevelsettings" },
    DisplayName: label(a.displayName, a.metadataId),
  };
  if (a.maxLength !== undefined) out.MaxLength = a.maxLength;
  if (a.format !== undefined && (a.kind === "string" || a.kind === "memo")) out.Format = a.format[0]!.toUpperCase() + a.format.slice(1);
  if (a.kind === "datetime") {
    out.Format = a.dateTimeBehavior === "DateOnly" ? "DateOnly" : "DateAndTime";
    out.DateTimeBehavior = { Value: a.dateTimeBehavior ?? "UserLocal" };
  }
  if (a.minValue !== undefined) out.MinValue = a.minValue;
  if (a.maxValue !== undefined) out.MaxValue = a.maxValue;
  if (a.precision !== undefined) out.Precision = a.precision;
  if (a.targets) out.Targets = [...a.targets];
  if (a.defaultValue !== undefined) out.DefaultValue = a.defaultValue;
  return out;
}

function keyJson(schema: Schema, entity: EntityMetadata, k: KeyMetadata): Record<string, unknown> {
  return {
    MetadataId: k.metadataId,
    LogicalName: k.logicalName,
    SchemaName: k.schemaName,
    EntityLogicalName: entity.logicalName,
    KeyAttributes: [...k.attributes],
    EntityKeyIndexStatus: schema.keyIndexStatus(entity.logicalName, k.logicalName),
    DisplayName: label(k.displayName, k.metadataId),
  };
}

export function entityJson(e: EntityMetadata): Record<string, unknown> {
  return {
    MetadataId: e.metadataId,
    LogicalName: e.logicalName,
    SchemaName: e.schemaName,
    EntitySetName: e.entitySetName,
    LogicalCollectionName: e.entitySetName,
    PrimaryIdAttribute: e.primaryIdAttribute,
    PrimaryNameAttribute: e.primaryNameAttribute ?? null,
    ObjectTypeCode: e.objectTypeCode,
    IsCustomEntity: e.isCustom,
    IsActivity: e.logicalName === "opportunityclose",
    OwnershipType: e.ownership === "UserOwned" ? "UserOwned" : e.ownership === "OrganizationOwned" ? "OrganizationOwned" : "None",
    DisplayName: label(e.displayName, e.metadataId),
    DisplayCollectionName: label(e.displayCollectionName, `${e.metadataId}:c`),
  };
}

/** `$select` on metadata: keeps `@odata.type` and MetadataId as Dataverse does. */
function select(obj: Record<string, unknown>, names: readonly string[] | undefined, typeName: string, knownNames: ReadonlySet<string>): Record<string, unknown> {
  if (!names) return obj;
  const out: Record<string, unknown> = {};
  if (obj["@odata.type"] !== undefined) out["@odata.type"] = obj["@odata.type"];
  for (const n of names) {
    if (!knownNames.has(n)) throw Errors.unknownProperty(typeName, n);
    if (n in obj) out[n] = obj[n];
  }
  out.MetadataId = obj.MetadataId;
  return out;
}

const ENTITY_PROPS = new Set(Object.keys(entityJson({ attributes: new Map(), keys: new Map() } as unknown as EntityMetadata)));
const ATTRIBUTE_PROPS = new Set([
  ...Object.keys(attributeJson({ logicalName: "x" } as EntityMetadata, { kind: "string" } as AttributeMetadata)),
  "MaxLength",
  "Format",
  "DateTimeBehavior",
  "MinValue",
  "MaxValue",
  "Precision",
  "Targets",
  "DefaultValue",
  "OptionSet",
  "GlobalOptionSet",
]);
const KEY_PROPS = new Set(["MetadataId", "LogicalName", "SchemaName", "EntityLogicalName", "KeyAttributes", "EntityKeyIndexStatus", "DisplayName"]);

function selectList(req: ApiRequest): string[] | undefined {
  const s = req.query.get("$select");
  return s === null ? undefined : odata(() => parseSelect(s));
}

function filterList<T extends Record<string, unknown>>(req: ApiRequest, items: T[]): T[] {
  const f = req.query.get("$filter");
  if (f === null) return items;
  const expr = odata(() => parseFilter(f));
  return items.filter((i) => odata(() => evaluateFilter(expr, i, { caseInsensitive: true })));
}

function findEntity(org: Organization, seg: PathSegment): EntityMetadata {
  const key = seg.key ?? [];
  const part = key[0];
  if (key.length === 1 && part) {
    if (part.name === "LogicalName" && part.value.kind === "string") {
      const e = org.schema.entity(part.value.value);
      if (e) return e;
      throw Errors.invalidArgument(`Could not find an entity with name ${part.value.value}`);
    }
    if (part.name === undefined && part.value.kind === "guid") {
      const id = part.value.value;
      for (const e of org.schema.entities()) if (e.metadataId === id) return e;
      throw Errors.invalidArgument(`Could not find an entity with MetadataId ${id}`);
    }
  }
  throw Errors.querySyntax("EntityDefinitions expects (LogicalName='<name>') or (<MetadataId>).");
}

function attributesWithExpand(req: ApiRequest, entity: EntityMetadata, attrs: AttributeMetadata[]): Record<string, unknown>[] {
  const names = selectList(req);
  const expand = req.query.get("$expand");
  const items = expand ? parseExpand(expand) : [];
  return attrs.map((a) => {
    const json = select(attributeJson(entity, a), names, "AttributeMetadata", ATTRIBUTE_PROPS);
    for (const item of items) {
      if (item.navigation === "OptionSet") json.OptionSet = a.optionSet && !a.optionSet.isGlobal ? optionSetJson(a.optionSet) : null;
      else if (item.navigation === "GlobalOptionSet") json.GlobalOptionSet = a.optionSet?.isGlobal ? optionSetJson(a.optionSet) : null;
      else throw Errors.unknownProperty("AttributeMetadata", item.navigation);
    }
    return json;
  });
}

export function handleEntityDefinitions(ctx: ApiContext, req: ApiRequest, segments: readonly PathSegment[]): ApiResponse {
  if (req.method !== "GET") throw Errors.methodNotAllowed(req.method, req.url);
  const { org, apiUrl } = ctx;
  const [first, second, third, fourth] = segments;
  if (!first) throw Errors.unknownSegment("EntityDefinitions");
  if (!first.key) {
    const all = [...org.schema.entities()].map((e) => entityJson(e));
    const names = selectList(req);
    return jsonResponse(200, {
      "@odata.context": `${apiUrl}/$metadata#EntityDefinitions`,
      value: filterList(req, all).map((e) => select(e, names, "EntityMetadata", ENTITY_PROPS)),
    });
  }
  const entity = findEntity(org, first);
  if (!second) {
    const json = select(entityJson(entity), selectList(req), "EntityMetadata", ENTITY_PROPS);
    const expand = req.query.get("$expand");
    for (const item of expand ? parseExpand(expand) : []) {
      if (item.navigation === "Keys") json.Keys = [...entity.keys.values()].map((k) => keyJson(org.schema, entity, k));
      else if (item.navigation === "Attributes")
        json.Attributes = [...entity.attributes.values()].map((a) => select(attributeJson(entity, a), item.select, "AttributeMetadata", ATTRIBUTE_PROPS));
      else throw Errors.unknownProperty("EntityMetadata", item.navigation);
    }
    return jsonResponse(200, { "@odata.context": `${apiUrl}/$metadata#EntityDefinitions/$entity`, ...json });
  }
  if (second.name === "Keys") {
    const keys = [...entity.keys.values()].map((k) => keyJson(org.schema, entity, k));
    return jsonResponse(200, {
      "@odata.context": `${apiUrl}/$metadata#EntityDefinitions('${entity.metadataId}')/Keys`,
      value: filterList(req, keys).map((k) => select(k, selectList(req), "EntityKeyMetadata", KEY_PROPS)),
    });
  }
  if (second.name === "Attributes") {
    let attrs = [...entity.attributes.values()];
    let cast: PathSegment | undefined = third;
    let single: PathSegment | undefined = second.key ? second : undefined;
    if (cast && cast.name.startsWith("Microsoft.Dynamics.CRM.")) {
      const typeName = cast.name.slice("Microsoft.Dynamics.CRM.".length);
      attrs = attrs.filter((a) => ATTRIBUTE_TYPES[a.kind].odataType === typeName);
      if (cast.key) single = cast;
      cast = fourth;
    }
    if (cast) throw Errors.unknownSegment(cast.name);
    if (single) {
      const part = single.key?.[0];
      const name = part?.name === "LogicalName" && part.value.kind === "string" ? part.value.value : undefined;
      const a = attrs.find((x) => x.logicalName === name || (part?.value.kind === "guid" && x.metadataId === part.value.value));
      if (!a) throw Errors.invalidArgument(`Could not find an attribute with specified name ${name ?? ""} on entity ${entity.logicalName}.`);
      return jsonResponse(200, {
        "@odata.context": `${apiUrl}/$metadata#EntityDefinitions('${entity.metadataId}')/Attributes/$entity`,
        ...attributesWithExpand(req, entity, [a])[0],
      });
    }
    const rows = attributesWithExpand(req, entity, attrs);
    return jsonResponse(200, {
      "@odata.context": `${apiUrl}/$metadata#EntityDefinitions('${entity.metadataId}')/Attributes`,
      value: filterList(req, rows),
    });
  }
  throw Errors.unknownSegment(second.name);
}

export function handleGlobalOptionSets(ctx: ApiContext, req: ApiRequest, seg: PathSegment): ApiResponse {
  if (req.method !== "GET") throw Errors.methodNotAllowed(req.method, req.url);
  const { org, apiUrl } = ctx;
  if (!seg.key) {
    return jsonResponse(200, {
      "@odata.context": `${apiUrl}/$metadata#GlobalOptionSetDefinitions`,
      value: [...org.schema.globalOptionSets.values()].map(optionSetJson),
    });
  }
  const part = seg.key[0];
  const lit = part?.value;
  const os =
    part?.name === "Name" && lit?.kind === "string"
      ? org.schema.globalOptionSet(lit.value)
      : lit?.kind === "guid"
        ? [...org.schema.globalOptionSets.values()].find((o) => o.metadataId === lit.value)
        : undefined;
  if (!os) throw Errors.invalidArgument(`Could not find optionset with name or id ${part && part.value.kind !== "null" ? String(part.value.value) : ""}`);
  return jsonResponse(200, { "@odata.context": `${apiUrl}/$metadata#GlobalOptionSetDefinitions/$entity`, ...optionSetJson(os) });
}
