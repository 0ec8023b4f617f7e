/**
 * Retrieve and retrieve multiple: `$select`, `$filter`, `$orderby`, `$top`, `$count`, `$expand`,
 * `Prefer: odata.maxpagesize` with `@odata.nextLink` (spec §4.3). The `$filter` grammar and its
 * evaluation are the shared `src/odata` module; this file maps Dataverse columns onto it.
 *
 * Paging is keyset-based: the skip token carries the sort values and primary key of the last row
 * returned, so a page boundary stays put while rows are added or changed elsewhere, and a token from
 * another query is refused. Like Dataverse's paging cookie, the next page is "after the last sort
 * values, or equal to them with a greater primary key", while rows tied on every `$orderby` column
 * come in an order of their own (a hash of the primary key): an `$orderby` that is not unique (no
 * primary key as its last column) loses and repeats rows across pages, as Dataverse warns it may.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  compareForOrder,
  evaluateFilter,
  filterPropertyPaths,
  ODataEvaluationError,
  ODataSyntaxError,
  parseFilter,
  parseOrderBy,
  parseSelect,
  type FilterExpression,
  type OrderByItem,
} from "../../odata";
import { DataverseError, Errors } from "../errors";
import { isLookupValue, type Row, type StoredRecord, type StoredValue } from "../data/store";
import { findNavigation } from "../metadata/schema";
import { isLookup, lookupFromValueProperty, type AttributeMetadata, type EntityMetadata } from "../metadata/types";
import type { Organization } from "../org";
import { annotationMatcher, emptyResponse, jsonResponse, type ApiContext, type ApiResponse, type Preferences } from "./http";
import { etagOf, projectRow, validateSelect, type ExpandItem, type Projection } from "./rows";

export const MAX_PAGE_SIZE = 5000;
const MAX_COUNT = 5000;

/** Turns the shared parser's errors into Dataverse's 400. */
function odata<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ODataSyntaxError || err instanceof ODataEvaluationError)
      throw new DataverseError(400, "0x0", err.message, {}, { cause: err });
    throw err;
  }
}

/** The comparable value of a column for `$filter`/`$orderby`: lookups by id, multi-select as text. */
function comparable(v: StoredValue | undefined): unknown {
  if (v === undefined || v === null) return null;
  if (isLookupValue(v)) return v.id;
  if (Array.isArray(v)) return v.join(",");
  return v;
}

/** Resolves a filter/orderby property path on `entity` into a reader; throws for unknown names. */
function propertyReader(org: Organization, entity: EntityMetadata, path: readonly string[]): (row: Row) => unknown {
  const [first, second, ...rest] = path;
  if (first === undefined || rest.length > 0) throw Errors.querySyntax(`The property path '${path.join("/")}' is not supported.`);
  const lookup = lookupFromValueProperty(first);
  if (lookup !== undefined) {
    const a = entity.attributes.get(lookup);
    if (!a || !isLookup(a) || second !== undefined) throw Errors.unknownProperty(entity.logicalName, first);
    return (row) => comparable(row[lookup]);
  }
  const nav = findNavigation(entity, first);
  if (nav && second !== undefined) {
    const target = org.schema.entity(nav.target);
    const targetAttr = target?.attributes.get(lookupFromValueProperty(second) ?? second);
    if (!target || !targetAttr) throw Errors.unknownProperty(nav.target, second);
    return (row) => {
      const v = row[nav.attribute.logicalName];
      if (!isLookupValue(v) || v.entity !== nav.target) return null;
      return comparable(org.row(nav.target, v.id)?.[targetAttr.logicalName]);
    };
  }
  if (nav) throw Errors.querySyntax(`A binary operator with incompatible types was detected. Found operand types for the navigation property '${first}'; use '_${nav.attribute.logicalName}_value'.`);
  const a = entity.attributes.get(first);
  if (!a || a.writeOnly || second !== undefined) throw Errors.unknownProperty(entity.logicalName, path.join("/"));
  if (isLookup(a)) throw Errors.unknownProperty(entity.logicalName, first);
  return (row) => comparable(row[a.logicalName]);
}

interface CompiledQuery {
  readonly filter?: FilterExpression;
  readonly matches: (row: Row) => boolean;
  readonly order: OrderByItem[];
  readonly readers: Array<(row: Row) => unknown>;
}

function compileQuery(org: Organization, entity: EntityMetadata, filterText: string | null, orderText: string | null): CompiledQuery {
  let filter: FilterExpression | undefined;
  let matches: (row: Row) => boolean = () => true;
  if (filterText !== null && filterText.trim() !== "") {
    const expr = odata(() => parseFilter(filterText));
    const readers = new Map<string, (row: Row) => unknown>();
    for (const p of filterPropertyPaths(expr)) readers.set(p.join("/"), propertyReader(org, entity, p));
    const resolve = (base: unknown, path: readonly string[]) => readers.get(path.join("/"))?.(base as Row) ?? null;
    filter = expr;
    matches = (row) => odata(() => evaluateFilter(expr, row, { resolve, caseInsensitive: true }));
  }
  const order = orderText !== null && orderText.trim() !== "" ? odata(() => parseOrderBy(orderText)) : [];
  const readers = order.map((o) => propertyReader(org, entity, o.path));
  return { ...(filter ? { filter } : {}), matches, order, readers };
}

const NUMERIC_KINDS = new Set(["integer", "bigint", "decimal", "double", "money", "picklist", "state", "status"]);
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}/;

/** An `eq` on an indexable column narrows the scan to an index lookup (backfill scale). */
function candidates(org: Organization, entity: EntityMetadata, filter: FilterExpression | undefined): Iterable<StoredRecord> {
  const all = () => org.store.scan(entity.logicalName);
  if (!filter) return all();
  const terms = filter.kind === "logical" && filter.operator === "and" ? filter.operands : [filter];
  for (const t of terms) {
    if (t.kind !== "comparison" || t.operator !== "eq") continue;
    const [prop, lit] =
      t.left.kind === "property" && t.right.kind === "literal" ? [t.left, t.right] : t.right.kind === "property" && t.left.kind === "literal" ? [t.right, t.left] : [undefined, undefined];
    if (!prop || !lit || prop.variable !== undefined || prop.path.length !== 1) continue;
    const name = prop.path[0]!;
    const lookup = lookupFromValueProperty(name);
    const a: AttributeMetadata | undefined = entity.attributes.get(lookup ?? name);
    if (!a) continue;
    const l = lit.literal;
    let value: StoredValue | undefined;
    if (lookup !== undefined || a.kind === "uniqueidentifier") {
      if (l.type === "guid" || (l.type === "string" && /^[0-9a-f-]{36}$/i.test(l.value))) value = l.value.toLowerCase();
    } else if ((a.kind === "string" || a.kind === "memo" || a.kind === "entityname") && l.type === "string") {
      if (!ISO_LIKE.test(l.value) && !/^\s*-?\d/.test(l.value)) value = l.value;
    } else if (NUMERIC_KINDS.has(a.kind) && l.type === "number") value = l.value;
    else if (a.kind === "boolean" && l.type === "boolean") value = l.value;
    if (value === undefined) continue;
    const ids = org.store.idsWhereEquals(entity.logicalName, a.logicalName, value);
    const recs: StoredRecord[] = [];
    for (const id of ids) {
      const r = org.store.get(entity.logicalName, id);
      if (r) recs.push(r);
    }
    return recs;
  }
  return all();
}

interface Ordered {
  readonly rec: StoredRecord;
  readonly keys: unknown[];
  /** The primary key, lower case (the paging cookie's tie-breaker). */
  readonly id: string;
  /** The order among rows tied on every `$orderby` column: neither primary-key nor insertion order. */
  readonly tie: number;
}

/** FNV-1a: a cheap, deterministic scramble of the primary key. */
function tieOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function ordered(entity: EntityMetadata, q: CompiledQuery, rec: StoredRecord): Ordered {
  const raw = rec.row[entity.primaryIdAttribute];
  const id = typeof raw === "string" ? raw.toLowerCase() : "";
  return { rec, keys: q.readers.map((r) => r(rec.row)), id, tie: tieOf(id) };
}

/** Compares the `$orderby` columns only. */
function compareKeys(q: CompiledQuery, a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < q.order.length; i++) {
    const c = compareForOrder(a[i], b[i], { caseInsensitive: true });
    if (c !== 0) return q.order[i]!.direction === "desc" ? -c : c;
  }
  return 0;
}

function comparator(q: CompiledQuery): (a: Ordered, b: Ordered) => number {
  return (a, b) => {
    const c = compareKeys(q, a.keys, b.keys);
    if (c !== 0) return c;
    // Without $orderby, insertion order (which the skip token follows exactly).
    if (q.order.length === 0) return a.rec.seq - b.rec.seq;
    return a.tie - b.tie || a.rec.seq - b.rec.seq;
  };
}

// ---------------------------------------------------------------------------------------------
// Skip tokens
// ---------------------------------------------------------------------------------------------

const CursorSchema = z.object({
  q: z.string(),
  p: z.number().int().min(2),
  s: z.number().int(),
  /** Primary key of the last row (lower case). */
  i: z.string(),
  k: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
type Cursor = z.infer<typeof CursorSchema>;

const queryHash = (entity: string, filter: string | null, order: string | null) =>
  createHash("sha256").update(`${entity}\n${filter ?? ""}\n${order ?? ""}`).digest("base64url").slice(0, 16);

/** Dataverse-looking, opaque: `<cookie pagenumber="2" pagingcookie="…" istracking="False" />`. */
function encodeSkipToken(c: Cursor): string {
  return `<cookie pagenumber="${c.p}" pagingcookie="${Buffer.from(JSON.stringify(c)).toString("base64url")}" istracking="False" />`;
}

function decodeSkipToken(token: string, expectedQuery: string): Cursor {
  const m = /pagingcookie="([A-Za-z0-9_-]+)"/.exec(token);
  const invalid = () => Errors.querySyntax("The $skiptoken is not valid for this query.");
  if (!m) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(m[1]!, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const r = CursorSchema.safeParse(parsed);
  if (!r.success || r.data.q !== expectedQuery) throw invalid();
  return r.data;
}

const jsonKey = (v: unknown): string | number | boolean | null =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : null;

// ---------------------------------------------------------------------------------------------
// $expand
// ---------------------------------------------------------------------------------------------

function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = "";
  for (const ch of text) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === "(") depth++;
    if (!quoted && ch === ")") depth--;
    if (!quoted && depth === 0 && ch === sep) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== "");
}

export function parseExpand(text: string): ExpandItem[] {
  return splitTopLevel(text, ",").map((item) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/s.exec(item);
    if (!m) throw Errors.querySyntax(`Bad Request - Error in query syntax: invalid $expand item '${item}'.`);
    const options: { select?: string[]; filter?: string; orderby?: string; top?: number } = {};
    for (const opt of splitTopLevel(m[2] ?? "", ";")) {
      const eq = opt.indexOf("=");
      const name = opt.slice(0, eq).trim().toLowerCase();
      const value = opt.slice(eq + 1);
      if (name === "$select") options.select = odata(() => parseSelect(value));
      else if (name === "$filter") options.filter = value;
      else if (name === "$orderby") options.orderby = value;
      else if (name === "$top" && /^\d+$/.test(value.trim())) options.top = Number(value);
      else throw Errors.querySyntax(`The query option '${name}' is not supported inside $expand by the sandbox.`);
    }
    return { navigation: m[1]!, ...options };
  });
}

/** Validates `$expand` items against `entity` and returns the reader that fills them per row. */
function expander(org: Organization, entity: EntityMetadata, items: readonly ExpandItem[], annotate: (t: string) => boolean): (item: ExpandItem, row: Row) => unknown {
  const plans = new Map<string, (row: Row) => unknown>();
  for (const item of items) {
    const single = findNavigation(entity, item.navigation);
    if (single) {
      const target = org.schema.requireEntity(single.target);
      const projection: Projection = { annotate, ...(item.select ? { select: validateSelect(target, item.select) } : {}) };
      plans.set(item.navigation, (row) => {
        const v = row[single.attribute.logicalName];
        if (!isLookupValue(v) || v.entity !== single.target) return null;
        const related = org.row(single.target, v.id);
        return related ? projectRow(org, target, related, projection) : null;
      });
      continue;
    }
    const rel = org.schema.collectionNavigation(entity.logicalName, item.navigation);
    if (!rel) throw Errors.querySyntax(`Could not find a property named '${item.navigation}' on type 'Microsoft.Dynamics.CRM.${entity.logicalName}'.`);
    const target = org.schema.requireEntity(rel.referencingEntity);
    const projection: Projection = { annotate, ...(item.select ? { select: validateSelect(target, item.select) } : {}) };
    const q = compileQuery(org, target, item.filter ?? null, item.orderby ?? null);
    plans.set(item.navigation, (row) => {
      const id = row[entity.primaryIdAttribute];
      if (typeof id !== "string") return [];
      const recs: Ordered[] = [];
      for (const rid of org.store.idsWhereEquals(target.logicalName, rel.referencingAttribute, id)) {
        const rec = org.store.get(target.logicalName, rid);
        if (rec && q.matches(rec.row)) recs.push(ordered(target, q, rec));
      }
      recs.sort(comparator(q));
      return recs.slice(0, item.top ?? MAX_PAGE_SIZE).map((r) => projectRow(org, target, r.rec.row, projection));
    });
  }
  return (item, row) => plans.get(item.navigation)?.(row) ?? null;
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

const UNSUPPORTED_OPTIONS = ["$skip", "$apply", "$search", "$compute", "$levels"];
const KNOWN_OPTIONS = new Set(["$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$format", "fetchXml", "savedQuery", "userQuery", "tag"]);

function projectionFor(org: Organization, entity: EntityMetadata, query: URLSearchParams, prefer: Preferences): { projection: Projection; contextSelect?: string[] } {
  const annotate = annotationMatcher(prefer.includeAnnotations);
  const selectText = query.get("$select");
  const select = selectText !== null ? validateSelect(entity, odata(() => parseSelect(selectText))) : undefined;
  const expandText = query.get("$expand");
  const expand = expandText !== null ? parseExpand(expandText) : undefined;
  const projection: Projection = { annotate, ...(select ? { select } : {}), ...(expand ? { expand } : {}) };
  return { projection, ...(select ? { contextSelect: select } : {}) };
}

function preferenceApplied(prefer: Preferences, pageSize?: number): Record<string, string> {
  const applied: string[] = [];
  if (pageSize !== undefined) applied.push(`odata.maxpagesize=${pageSize}`);
  if (prefer.includeAnnotations !== undefined) applied.push(`odata.include-annotations="${prefer.includeAnnotations}"`);
  return applied.length > 0 ? { "Preference-Applied": applied.join(",") } : {};
}

export function retrieveMultiple(ctx: ApiContext, entity: EntityMetadata, query: URLSearchParams, prefer: Preferences): ApiResponse {
  const { org } = ctx;
  for (const o of UNSUPPORTED_OPTIONS)
    if (query.has(o)) throw Errors.querySyntax(`The query parameter ${o} is not supported`);
  for (const k of query.keys()) if (k.startsWith("$") && !KNOWN_OPTIONS.has(k)) throw Errors.querySyntax(`The query parameter ${k} is not supported`);
  if (query.has("fetchXml") || query.has("savedQuery") || query.has("userQuery"))
    throw Errors.querySyntax("FetchXML and saved queries are not emulated by the sandbox; use $filter.");
  const { projection, contextSelect } = projectionFor(org, entity, query, prefer);
  const filterText = query.get("$filter");
  const orderText = query.get("$orderby");
  const q = compileQuery(org, entity, filterText, orderText);
  const topText = query.get("$top");
  let top: number | undefined;
  if (topText !== null) {
    if (!/^\d+$/.test(topText)) throw Errors.querySyntax(`Invalid value '${topText}' for $top query option found.`);
    top = Number(topText);
  }
  // With odata.maxpagesize, $top is ignored (spec §4.3); without it, $top caps the single answer.
  const pageSize = Math.max(1, Math.min(prefer.maxPageSize ?? (top ?? MAX_PAGE_SIZE), MAX_PAGE_SIZE));
  const paging = prefer.maxPageSize !== undefined || top === undefined;
  const hash = queryHash(entity.logicalName, filterText, orderText);
  const tokenText = query.get("$skiptoken");
  const cursor = tokenText !== null ? decodeSkipToken(tokenText, hash) : undefined;

  const cmp = comparator(q);
  let matching: Ordered[] = [];
  for (const rec of candidates(org, entity, q.filter)) if (q.matches(rec.row)) matching.push(ordered(entity, q, rec));
  matching.sort(cmp);
  const total = matching.length;
  if (cursor) {
    // After the last row's sort values, or equal to them with a greater primary key (without
    // $orderby, after its insertion sequence); tied rows are not in primary-key order.
    const after = (m: Ordered) => {
      const c = compareKeys(q, m.keys, cursor.k);
      if (c !== 0) return c > 0;
      return q.order.length === 0 ? m.rec.seq > cursor.s : m.id > cursor.i;
    };
    matching = matching.filter(after);
  }
  const page = top === 0 && prefer.maxPageSize === undefined ? [] : matching.slice(0, pageSize);
  const more = paging && pageSize < matching.length;

  const expandRows = projection.expand ? expander(org, entity, projection.expand, projection.annotate) : undefined;
  const body: Record<string, unknown> = {
    "@odata.context": `${ctx.apiUrl}/$metadata#${entity.entitySetName}${contextSelect ? `(${contextSelect.join(",")})` : ""}`,
  };
  if (query.get("$count") === "true") {
    body["@odata.count"] = Math.min(total, MAX_COUNT);
    if (total > MAX_COUNT) body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = true;
  }
  body.value = page.map((m) => projectRow(org, entity, m.rec.row, projection, expandRows));
  if (more) {
    const last = page[page.length - 1]!;
    const next: Cursor = { q: hash, p: (cursor?.p ?? 1) + 1, s: last.rec.seq, i: last.id, k: last.keys.map(jsonKey) };
    const params = new URLSearchParams();
    for (const [k, v] of query) if (k !== "$skiptoken") params.append(k, v);
    params.append("$skiptoken", encodeSkipToken(next));
    body["@odata.nextLink"] = `${ctx.apiUrl}/${entity.entitySetName}?${params.toString().replace(/\+/g, "%20")}`;
  }
  return jsonResponse(200, body, preferenceApplied(prefer, prefer.maxPageSize !== undefined ? pageSize : undefined));
}

export function retrieveOne(
  ctx: ApiContext,
  entity: EntityMetadata,
  row: Row,
  query: URLSearchParams,
  prefer: Preferences,
  ifNoneMatch: string | undefined,
): ApiResponse {
  const { projection, contextSelect } = projectionFor(ctx.org, entity, query, prefer);
  const etag = etagOf(row);
  if (ifNoneMatch !== undefined && ifNoneMatch === etag && !projection.expand && prefer.includeAnnotations === undefined)
    return emptyResponse(304, { ETag: etag });
  const expandRows = projection.expand ? expander(ctx.org, entity, projection.expand, projection.annotate) : undefined;
  const body = {
    "@odata.context": `${ctx.apiUrl}/$metadata#${entity.entitySetName}${contextSelect ? `(${contextSelect.join(",")})` : ""}/$entity`,
    ...projectRow(ctx.org, entity, row, projection, expandRows),
  };
  return jsonResponse(200, body, { ETag: etag, ...preferenceApplied(prefer) });
}

/** The body of a row after a write with `Prefer: return=representation`. */
export function representation(ctx: ApiContext, entity: EntityMetadata, row: Row, query: URLSearchParams, prefer: Preferences): Record<string, unknown> {
  const { projection, contextSelect } = projectionFor(ctx.org, entity, query, prefer);
  return {
    "@odata.context": `${ctx.apiUrl}/$metadata#${entity.entitySetName}${contextSelect ? `(${contextSelect.join(",")})` : ""}/$entity`,
    ...projectRow(ctx.org, entity, row, projection),
  };
}

export { odata };
