/**
 * Reading and writing rows as JSON: resolving keys (`(<guid>)`, alternate keys), turning a request
 * body into column values (with `@odata.bind` lookups), and projecting a stored row into the JSON
 * Dataverse returns (`@odata.etag`, `_x_value`, annotations, `$select`, `$expand`).
 */
import { Errors } from "../errors";
import { isLookupValue, type LookupValue, type Row, type StoredValue } from "../data/store";
import { formattedValue, jsonValue, parseColumnValue } from "../data/values";
import { isWritable } from "../data/operations";
import { isLookup, lookupFromValueProperty, lookupValueProperty, type AttributeMetadata, type EntityMetadata } from "../metadata/types";
import type { Organization } from "../org";
import { ASSOCIATED_NAVIGATION, FORMATTED_VALUE, LOOKUP_LOGICAL_NAME } from "./http";
import { parsePath, type KeyLiteral, type KeyPart } from "./url";

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

export type ResolvedKey =
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "alternate"; readonly keyName: string; readonly values: Record<string, StoredValue>; readonly id: string | undefined };

function literalToStored(entity: EntityMetadata, a: AttributeMetadata, lit: KeyLiteral): StoredValue {
  const bad = () => Errors.invalidArgument(`Invalid value for key attribute '${a.logicalName}' of entity '${entity.logicalName}'.`);
  if (lit.kind === "null") return null;
  if (isLookup(a)) {
    if (lit.kind !== "guid") throw bad();
    return { entity: a.targets?.[0] ?? "", id: lit.value };
  }
  switch (a.kind) {
    case "string":
    case "memo":
    case "entityname":
      if (lit.kind !== "string") throw bad();
      return lit.value;
    case "uniqueidentifier":
      if (lit.kind !== "guid") throw bad();
      return lit.value;
    case "boolean":
      if (lit.kind !== "boolean") throw bad();
      return lit.value;
    default:
      if (lit.kind !== "number") throw bad();
      return lit.value;
  }
}

/** Finds the row a key addresses; `id` undefined when no row has those alternate-key values. */
export function resolveKey(org: Organization, entity: EntityMetadata, parts: readonly KeyPart[]): ResolvedKey {
  const first = parts[0];
  if (parts.length === 1 && first && (first.name === undefined || first.name === entity.primaryIdAttribute)) {
    if (first.value.kind !== "guid") throw Errors.querySyntax(`Bad Request - Error in query syntax: '${entity.primaryIdAttribute}' expects a GUID.`);
    return { kind: "id", id: first.value.value };
  }
  const named = new Map<string, KeyLiteral>();
  for (const p of parts) {
    if (p.name === undefined) throw Errors.querySyntax("Bad Request - Error in query syntax: key values of an alternate key must be named.");
    // "Work with alternate keys": with one of / < > * % & : \ ? + in the value, retrieve, update and
    // upsert by the key don't work. The emulator refuses them outright (the docs do not say how).
    if (p.value.kind === "string" && /[/<>*%&:\\?+]/.test(p.value.value))
      throw Errors.invalidArgument(
        `The alternate key value '${p.value.value}' of '${p.name}' contains a character (/ < > * % & : \\ ? +) that cannot be used to address a record by its key; query it with $filter instead.`,
      );
    const logical = lookupFromValueProperty(p.name) ?? p.name;
    named.set(logical, p.value);
  }
  for (const key of entity.keys.values()) {
    if (key.attributes.length !== named.size || !key.attributes.every((a) => named.has(a))) continue;
    const status = org.schema.keyIndexStatus(entity.logicalName, key.logicalName);
    if (status !== "Active") throw Errors.keyNotActive(entity.logicalName, key.logicalName, status);
    const values: Record<string, StoredValue> = {};
    for (const attrName of key.attributes) {
      const a = entity.attributes.get(attrName);
      if (!a) continue;
      values[attrName] = literalToStored(entity, a, named.get(attrName)!);
    }
    const id = org.store.findByKey(
      entity.logicalName,
      key.logicalName,
      key.attributes.map((a) => values[a] ?? null),
    );
    return { kind: "alternate", keyName: key.logicalName, values, id };
  }
  throw Errors.invalidArgument(
    `Invalid EntityKey Operation performed : Entity ${entity.logicalName} does not contain an alternate key with the attributes ${[...named.keys()].join(", ")}.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

export function parseJsonBody(body: Buffer | undefined): Record<string, unknown> {
  if (!body || body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw Errors.malformedJson((err as Error).message);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw Errors.malformedJson("the body is not a JSON object");
  return parsed as Record<string, unknown>;
}

/**
 * Where an `@odata.bind` (or `@odata.id`) points: `/accounts(<id>)`, `accounts(<id>)`, an absolute
 * URL under the API, a key form `/accounts(accountnumber='A1')`, or a `$1` Content-ID reference.
 */
export function resolveReference(org: Organization, value: string, apiUrl: string, contentIds?: ReadonlyMap<string, string>): LookupValue {
  let path = value.trim();
  const marker = path.indexOf("/api/data/v9.2/");
  if (/^https?:\/\//i.test(path)) path = marker >= 0 ? path.slice(marker + "/api/data/v9.2/".length) : path;
  else if (path.startsWith(apiUrl)) path = path.slice(apiUrl.length);
  path = path.replace(/^\/+/, "");
  const ref = /^\$([A-Za-z0-9_.-]+)$/.exec(path);
  if (ref) {
    const target = contentIds?.get(ref[1]!);
    if (!target) throw Errors.invalidArgument(`Content-ID reference '${value}' does not name an earlier request of this change set.`);
    path = target;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    decoded = path; // not percent-encoded after all (a key value may hold a bare '%')
  }
  const segments = parsePath(decoded);
  const seg = segments[0];
  if (segments.length !== 1 || !seg || !seg.key) throw Errors.invalidArgument(`Invalid reference '${value}': expected /<entityset>(<key>).`);
  const entity = org.schema.entityBySet(seg.name);
  if (!entity) throw Errors.unknownSegment(seg.name);
  const key = resolveKey(org, entity, seg.key);
  const id = key.id;
  if (id === undefined || !org.store.get(entity.logicalName, id)) {
    if (key.kind === "alternate") throw Errors.notFoundByKey(entity.logicalName, decoded);
    throw Errors.notFound(entity.logicalName, id ?? "");
  }
  return { entity: entity.logicalName, id: org.store.get(entity.logicalName, id)!.row[entity.primaryIdAttribute] as string };
}

/** Turns a create/update body into column values, validating every property against the table. */
export function parseRowBody(
  org: Organization,
  entity: EntityMetadata,
  body: Record<string, unknown>,
  options: { isCreate: boolean; apiUrl: string; contentIds?: ReadonlyMap<string, string> },
): Record<string, StoredValue> {
  const set = entity.entitySetName;
  const values: Record<string, StoredValue> = {};
  for (const [prop, raw] of Object.entries(body)) {
    if (prop.startsWith("@")) continue; // @odata.type, @odata.context, …
    const at = prop.indexOf("@");
    if (at > 0) {
      const name = prop.slice(0, at);
      const annotation = prop.slice(at + 1);
      if (annotation !== "odata.bind") continue; // other instance annotations are ignored, as OData does
      const candidates = navigationTargets(entity, name);
      if (candidates.length === 0) throw Errors.unknownNavigation(set, name);
      const attribute = candidates[0]!.attribute;
      if (raw === null) {
        values[attribute.logicalName] = null;
        continue;
      }
      if (typeof raw !== "string") throw Errors.badPayloadValue(set, `The value of '${prop}' must be a URL string.`);
      const target = resolveReference(org, raw, options.apiUrl, options.contentIds);
      if (!candidates.some((c) => c.target === target.entity))
        throw Errors.badPayloadValue(
          set,
          `The entity '${target.entity}' is not a valid target of the navigation property '${name}' (expected ${candidates.map((c) => c.target).join(" or ")}).`,
        );
      values[attribute.logicalName] = target;
      continue;
    }
    if (lookupFromValueProperty(prop) !== undefined && entity.attributes.get(lookupFromValueProperty(prop)!)) {
      throw Errors.badPayloadValue(set, `CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.`);
    }
    const a = entity.attributes.get(prop);
    if (!a) {
      // Writing a navigation property directly is a deep insert/update, which we do not emulate.
      if (navigationTargets(entity, prop).length > 0)
        throw Errors.badPayloadValue(set, `Deep insert through the navigation property '${prop}' is not supported by the sandbox; use '${prop}@odata.bind'.`);
      throw Errors.unknownBodyProperty(set, entity.logicalName, prop);
    }
    if (isLookup(a))
      throw Errors.badPayloadValue(
        set,
        `A primitive value was specified for the navigation property '${prop}'; use '${prop}@odata.bind'.`,
      );
    if (a.isPrimaryId) {
      if (!options.isCreate) continue;
      values[a.logicalName] = parseColumnValue(entity, set, a, raw);
      continue;
    }
    if (!isWritable(a, options.isCreate)) continue;
    values[a.logicalName] = parseColumnValue(entity, set, a, raw);
  }
  return values;
}

/** Every (column, target) a navigation property name stands for on `entity`. */
export function navigationTargets(entity: EntityMetadata, navigation: string): Array<{ attribute: AttributeMetadata; target: string }> {
  const out: Array<{ attribute: AttributeMetadata; target: string }> = [];
  for (const a of entity.attributes.values()) {
    if (!a.navigation) continue;
    for (const [target, nav] of Object.entries(a.navigation)) if (nav === navigation) out.push({ attribute: a, target });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Row projection
// ---------------------------------------------------------------------------------------------

export interface ExpandItem {
  readonly navigation: string;
  readonly select?: readonly string[];
  readonly filter?: string;
  readonly orderby?: string;
  readonly top?: number;
}

export interface Projection {
  /** Output properties (`name`, `_customerid_value`); undefined = every column. */
  readonly select?: readonly string[];
  readonly annotate: (term: string) => boolean;
  readonly expand?: readonly ExpandItem[];
}

/** The property names a `$select` may use on `entity`, checked; throws 0x80060888 for an unknown one. */
export function validateSelect(entity: EntityMetadata, select: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of select) {
    if (s === "*") return [...defaultProperties(entity)];
    const lookup = lookupFromValueProperty(s);
    const a = entity.attributes.get(lookup ?? s);
    if (!a || a.writeOnly || (lookup !== undefined) !== isLookup(a)) throw Errors.unknownProperty(entity.logicalName, s);
    out.push(s);
  }
  return out;
}

/** Every readable property of a table, as a read without `$select` returns them. */
export function defaultProperties(entity: EntityMetadata): string[] {
  const out: string[] = [];
  for (const a of entity.attributes.values()) {
    if (!a.validForRead || a.writeOnly || a.kind === "virtual") continue;
    out.push(isLookup(a) ? lookupValueProperty(a.logicalName) : a.logicalName);
  }
  return out;
}

export function etagOf(row: Row): string {
  return `W/"${typeof row.versionnumber === "number" ? row.versionnumber : 0}"`;
}

export function currencySymbol(org: Organization, row: Row): string {
  const cur = row.transactioncurrencyid;
  if (isLookupValue(cur)) {
    const sym = org.row("transactioncurrency", cur.id)?.currencysymbol;
    if (typeof sym === "string") return sym;
  }
  return "$";
}

export function primaryName(org: Organization, entityName: string, id: string): string | undefined {
  const entity = org.schema.entity(entityName);
  if (!entity?.primaryNameAttribute) return undefined;
  const v = org.row(entityName, id)?.[entity.primaryNameAttribute];
  return typeof v === "string" ? v : undefined;
}

export function projectRow(org: Organization, entity: EntityMetadata, row: Row, projection: Projection, expandRows?: (item: ExpandItem, row: Row) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { "@odata.etag": etagOf(row) };
  const props = projection.select ?? defaultProperties(entity);
  const pk = entity.primaryIdAttribute;
  const list = props.includes(pk) ? props : [...props, pk];
  const fmtCtx = { lookupName: (e: string, id: string) => primaryName(org, e, id), currencySymbol: () => currencySymbol(org, row) };
  for (const prop of list) {
    const lookup = lookupFromValueProperty(prop);
    const a = entity.attributes.get(lookup ?? prop);
    if (!a) continue;
    const v = row[a.logicalName];
    if (lookup !== undefined) {
      if (isLookupValue(v)) {
        if (projection.annotate(FORMATTED_VALUE)) {
          const name = primaryName(org, v.entity, v.id);
          if (name !== undefined) out[`${prop}@${FORMATTED_VALUE}`] = name;
        }
        if (projection.annotate(ASSOCIATED_NAVIGATION) && a.navigation?.[v.entity])
          out[`${prop}@${ASSOCIATED_NAVIGATION}`] = a.navigation[v.entity];
        if (projection.annotate(LOOKUP_LOGICAL_NAME)) out[`${prop}@${LOOKUP_LOGICAL_NAME}`] = v.entity;
      }
      out[prop] = isLookupValue(v) ? v.id : null;
      continue;
    }
    if (projection.annotate(FORMATTED_VALUE)) {
      const f = formattedValue(a, v, fmtCtx);
      if (f !== undefined) out[`${prop}@${FORMATTED_VALUE}`] = f;
    }
    out[prop] = jsonValue(a, v);
  }
  if (projection.expand && expandRows) for (const item of projection.expand) out[item.navigation] = expandRows(item, row);
  return out;
}
