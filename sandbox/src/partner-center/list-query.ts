/**
 * The list endpoint's query options: `$filter` (bound to the referral's property names,
 * case-insensitively, and checked against them), `$orderby` (createdDateTime / updatedDateTime only,
 * the documented sort fields), `$top`, `$skip`, `$select`, `$count`, and the opaque `$skiptoken`.
 *
 * The skip token carries the whole query and a keyset cursor (the sort instant + id of the last row
 * served), signed with a per-emulator key: it survives concurrent inserts (no offsets), cannot be
 * forged, and a tampered one is a 400.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import {
  ODataSyntaxError,
  parseFilter,
  parseOrderBy,
  parseSelect,
  type FilterExpression,
  type PropertyExpression,
} from "../odata";
import { badRequest } from "./errors";
import { canonicalField, REFERRAL_SHAPE, type Shape } from "./referral-shape";
import type { Cursor, SortKey } from "./referral-store";

export interface ListQuery {
  readonly filterText: string | null;
  readonly filter: FilterExpression | null;
  readonly orderBy: SortKey;
  readonly direction: "asc" | "desc";
  readonly selectText: string | null;
  /** Canonical `a/b` paths for selectProperties. */
  readonly select: string[] | null;
  readonly count: boolean;
  /** Rows still to serve under `$top` (null: no limit). */
  readonly remaining: number | null;
  readonly skip: number;
  readonly after: Cursor | null;
}

const SORT_KEYS: readonly SortKey[] = ["createdDateTime", "updatedDateTime"];

function syntax(option: string, e: unknown): never {
  if (e instanceof ODataSyntaxError) throw badRequest(`Invalid ${option}: ${e.message}`, e);
  throw e;
}

type ObjectShape = Extract<Shape, { t: "object" }>;

/** Walks a property path through the referral shape with canonical names; throws 400 when unknown. */
function bindPath(path: readonly string[], root: Shape, option: string, allowArrayEnd: boolean): { path: string[]; shape: Shape } {
  const out: string[] = [];
  let shape: Shape = root;
  for (const seg of path) {
    if (shape.t === "open") {
      out.push(seg);
      continue;
    }
    if (shape.t !== "object") {
      const where = out.join("/") || "the value";
      throw badRequest(
        shape.t === "array"
          ? `Invalid ${option}: '${where}' is a collection; use ${where}/any(x: x/${seg} …) to test its items.`
          : `Invalid ${option}: '${where}' has no property '${seg}'.`,
      );
    }
    const canonical = canonicalField(shape as ObjectShape, seg);
    if (canonical === undefined) throw badRequest(`Invalid ${option}: could not find a property named '${seg}' on the referral.`);
    out.push(canonical);
    shape = (shape as ObjectShape).fields[canonical] as Shape;
  }
  if (shape.t === "array" && !allowArrayEnd) throw badRequest(`Invalid ${option}: '${out.join("/")}' is a collection; use any() or all().`);
  return { path: out, shape };
}

/** Rewrites a filter with canonical property names, checking every name against the referral. */
export function bindFilter(expr: FilterExpression, variables: ReadonlyMap<string, Shape> = new Map()): FilterExpression {
  const property = (p: PropertyExpression, allowArray = false): PropertyExpression => {
    if (p.variable === undefined) return { kind: "property", path: bindPath(p.path, REFERRAL_SHAPE, "$filter", allowArray).path };
    const shape = variables.get(p.variable) as Shape;
    return { kind: "property", variable: p.variable, path: bindPath(p.path, shape, "$filter", allowArray).path };
  };
  switch (expr.kind) {
    case "literal":
      return expr;
    case "property":
      return property(expr);
    case "comparison":
      return { ...expr, left: bindFilter(expr.left, variables), right: bindFilter(expr.right, variables) };
    case "logical":
      return { ...expr, operands: expr.operands.map((o) => bindFilter(o, variables)) };
    case "not":
      return { ...expr, operand: bindFilter(expr.operand, variables) };
    case "stringPredicate":
      return { ...expr, subject: bindFilter(expr.subject, variables), argument: bindFilter(expr.argument, variables) };
    case "stringFunction":
      return { ...expr, argument: bindFilter(expr.argument, variables) };
    case "lambda": {
      const collection = property(expr.collection, true);
      const base: Shape =
        collection.variable === undefined ? REFERRAL_SHAPE : (variables.get(collection.variable) as Shape);
      const shape = bindPath(collection.path, base, "$filter", true).shape;
      if (shape.t !== "array" && shape.t !== "open")
        throw badRequest(`Invalid $filter: '${collection.path.join("/")}' is not a collection; ${expr.operator}() needs one.`);
      if (expr.predicate === undefined || expr.variable === undefined) return { ...expr, collection };
      const inner = new Map(variables);
      inner.set(expr.variable, shape.t === "array" ? shape.items : shape);
      return { ...expr, collection, predicate: bindFilter(expr.predicate, inner) };
    }
    case "queryFunction":
      throw badRequest(`Invalid $filter: Microsoft.Dynamics.CRM.${expr.name} is a Dataverse function, not supported by Partner Center.`);
  }
}

const TokenSchema = z
  .object({
    v: z.literal(1),
    f: z.string().nullable(),
    o: z.enum(["createdDateTime", "updatedDateTime"]),
    d: z.enum(["asc", "desc"]),
    s: z.string().nullable(),
    c: z.boolean(),
    r: z.number().int().min(0).nullable(),
    a: z.object({ ms: z.number().int(), sub: z.number().min(0).max(1), id: z.string() }),
  })
  .strict();

type TokenPayload = z.infer<typeof TokenSchema>;

/** Signs and checks skip tokens; one key per emulator instance. */
export class SkipTokens {
  private readonly key = randomBytes(32);

  private mac(body: string): Buffer {
    return createHmac("sha256", this.key).update(body).digest().subarray(0, 16);
  }

  encode(q: ListQuery, after: Cursor, remaining: number | null): string {
    const payload: TokenPayload = {
      v: 1,
      f: q.filterText,
      o: q.orderBy,
      d: q.direction,
      s: q.selectText,
      c: q.count,
      r: remaining,
      a: { ms: after.at.ms, sub: after.at.sub, id: after.id },
    };
    const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
    return `${body}.${this.mac(body).toString("base64url")}`;
  }

  decode(token: string): TokenPayload {
    const [body, mac, extra] = token.split(".");
    const invalid = () => badRequest("Invalid $skiptoken: it was not issued by this service, or it was altered.");
    if (!body || !mac || extra !== undefined) throw invalid();
    const given = Buffer.from(mac, "base64url");
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    } catch (e) {
      throw badRequest("Invalid $skiptoken.", e);
    }
    const parsed = TokenSchema.safeParse(json);
    if (!parsed.success) throw invalid();
    return parsed.data;
  }
}

const OPTIONS = new Set(["$filter", "$orderby", "$top", "$skip", "$select", "$count", "$skiptoken", "$expand"]);

function nonNegativeInteger(option: string, text: string): number {
  if (!/^\d{1,9}$/.test(text.trim())) throw badRequest(`Invalid ${option}: '${text}' is not a non-negative integer.`);
  return Number(text.trim());
}

/**
 * Reads the list query. Option names match case-insensitively; unknown `$` options are a 400,
 * other parameters are ignored (as ASP.NET does).
 */
export function readListQuery(raw: Readonly<Record<string, unknown>>, tokens: SkipTokens): ListQuery {
  const options = new Map<string, string>();
  for (const [name, value] of Object.entries(raw)) {
    const key = name.toLowerCase();
    if (!key.startsWith("$")) continue;
    if (!OPTIONS.has(key)) throw badRequest(`The query option '${name}' is not supported.`);
    if (typeof value !== "string") throw badRequest(`The query option '${name}' was given more than once.`);
    options.set(key, value);
  }
  if (options.has("$expand")) throw badRequest("The query option '$expand' is not supported: a referral has no navigation properties.");

  const token = options.get("$skiptoken");
  if (token !== undefined) {
    const t = tokens.decode(token);
    return {
      ...buildQuery(t.f, `${t.o} ${t.d}`, t.s, t.c ? "true" : null, t.r, 0),
      after: { at: { ms: t.a.ms, sub: t.a.sub }, id: t.a.id },
    };
  }
  const top = options.has("$top") ? nonNegativeInteger("$top", options.get("$top") as string) : null;
  const skip = options.has("$skip") ? nonNegativeInteger("$skip", options.get("$skip") as string) : 0;
  return buildQuery(options.get("$filter") ?? null, options.get("$orderby") ?? null, options.get("$select") ?? null, options.get("$count") ?? null, top, skip);
}

function buildQuery(
  filterText: string | null,
  orderByText: string | null,
  selectText: string | null,
  countText: string | null,
  remaining: number | null,
  skip: number,
): ListQuery {
  let filter: FilterExpression | null = null;
  if (filterText !== null) {
    try {
      filter = parseFilter(filterText);
    } catch (e) {
      syntax("$filter", e);
    }
    filter = bindFilter(filter);
  }
  let orderBy: SortKey = "createdDateTime";
  let direction: "asc" | "desc" = "asc";
  if (orderByText !== null) {
    let items;
    try {
      items = parseOrderBy(orderByText);
    } catch (e) {
      syntax("$orderby", e);
    }
    const keys = items.map((item) => {
      const name = item.path.length === 1 ? SORT_KEYS.find((k) => k.toLowerCase() === (item.path[0] as string).toLowerCase()) : undefined;
      if (!name) throw badRequest(`Invalid $orderby: '${item.path.join("/")}' cannot be sorted on; use createdDateTime or updatedDateTime.`);
      return { name, direction: item.direction };
    });
    // Each sort key is unique per referral, so the first one decides the whole order.
    orderBy = (keys[0] as { name: SortKey }).name;
    direction = (keys[0] as { direction: "asc" | "desc" }).direction;
  }
  let select: string[] | null = null;
  if (selectText !== null) {
    let names: string[];
    try {
      names = parseSelect(selectText);
    } catch (e) {
      syntax("$select", e);
    }
    select = names.map((n) => bindPath(n.split("/"), REFERRAL_SHAPE, "$select", true).path.join("/"));
  }
  let count = false;
  if (countText !== null) {
    const t = countText.trim().toLowerCase();
    if (t !== "true" && t !== "false") throw badRequest(`Invalid $count: '${countText}' (use true or false).`);
    count = t === "true";
  }
  return { filterText, filter, orderBy, direction, selectText, select, count, remaining, skip, after: null };
}
