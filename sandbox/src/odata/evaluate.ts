/**
 * Evaluates a filter AST over plain JavaScript rows. Semantics follow OData 4.01 §5.1.1:
 *  - `x eq null` is true when x is null or missing; `x ne null` when it is present;
 *  - `gt ge lt le` with a null operand are false;
 *  - functions of null are null, `not null` is null, and/or are three-valued; a row matches only
 *    when the whole filter is true.
 * Values are compared by meaning, not by JavaScript type: numbers with numeric strings, instants
 * with ISO 8601 strings (offsets honoured), GUIDs case-insensitively.
 */
import type { ComparisonOperator, FilterExpression, Literal, PropertyExpression, QueryFunctionParameter } from "./ast";
import { ODataEvaluationError } from "./errors";
import { compareInstants, parseInstantParts, type InstantParts } from "./instant";

export type PropertyResolver = (base: unknown, path: readonly string[]) => unknown;

export interface QueryFunctionContext {
  /** Value of a row property, via the resolver in force. */
  readonly valueOf: (path: readonly string[]) => unknown;
  /** OData `eq` between two values, with this evaluation's options. */
  readonly equals: (a: unknown, b: unknown) => boolean;
  /** Ordering of two values (negative, 0, positive), or undefined when they are not comparable. */
  readonly compare: (a: unknown, b: unknown) => number | undefined;
}

export type QueryFunctionImplementation = (
  parameters: Readonly<Record<string, QueryFunctionParameter>>,
  context: QueryFunctionContext,
) => boolean | null;

export interface EvaluateOptions {
  /**
   * Reads a property path from a row (or from a lambda element). Default: walks own properties of
   * plain objects, exact names. An emulator with computed columns or case-insensitive names plugs in here.
   */
  resolve?: PropertyResolver;
  /** Compare strings ignoring case (Dataverse's collation does; Partner Center's is not known). */
  caseInsensitive?: boolean;
  /** Extra Dataverse query functions by name (`LastXDays`, …). In/NotIn/Between/NotBetween are built in. */
  queryFunctions?: Readonly<Record<string, QueryFunctionImplementation>>;
}

const GUID_TEXT = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const NUMERIC_TEXT = /^\s*-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$/;

/** A value tagged with what it means, so that comparisons do not depend on how it was stored. */
type Tagged =
  | { t: "null" }
  | { t: "string"; v: string }
  | { t: "number"; v: number }
  | { t: "boolean"; v: boolean }
  | { t: "instant"; v: InstantParts }
  | { t: "guid"; v: string }
  | { t: "other"; v: unknown };

/** Literal instants and GUIDs travel through evaluation wrapped, so they keep their meaning. */
class TypedLiteralValue {
  constructor(readonly tagged: Tagged) {}
}

const NULL: Tagged = { t: "null" };

const instantOfText = parseInstantParts;

function tag(value: unknown): Tagged {
  if (value === null || value === undefined) return NULL;
  if (value instanceof TypedLiteralValue) return value.tagged;
  switch (typeof value) {
    case "string":
      return { t: "string", v: value };
    case "number":
      return Number.isNaN(value) ? NULL : { t: "number", v: value };
    case "bigint":
      return { t: "number", v: Number(value) };
    case "boolean":
      return { t: "boolean", v: value };
    default:
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? NULL : { t: "instant", v: { ms: value.getTime(), sub: 0 } };
      return { t: "other", v: value };
  }
}

function literalValue(l: Literal): unknown {
  switch (l.type) {
    case "null":
      return null;
    case "guid":
      return new TypedLiteralValue({ t: "guid", v: l.value.toLowerCase() });
    case "datetime":
    case "date":
      return new TypedLiteralValue({ t: "instant", v: parseInstantParts(l.value) ?? { ms: l.epochMs, sub: 0 } });
    default:
      return l.value;
  }
}

const sign = (d: number): number => (d < 0 ? -1 : d > 0 ? 1 : 0);
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Orders two tagged non-null values, or undefined when they are of kinds that do not compare
 * (a word and a number, an object and anything).
 */
function compareTagged(a: Tagged, b: Tagged, caseInsensitive: boolean): number | undefined {
  if (a.t === "number" && b.t === "number") return sign(a.v - b.v);
  if (a.t === "number" && b.t === "string") return NUMERIC_TEXT.test(b.v) ? sign(a.v - Number(b.v)) : undefined;
  if (a.t === "string" && b.t === "number") return NUMERIC_TEXT.test(a.v) ? sign(Number(a.v) - b.v) : undefined;
  if (a.t === "boolean" && b.t === "boolean") return Number(a.v) - Number(b.v);
  if (a.t === "instant" || b.t === "instant") {
    const x = a.t === "instant" ? a.v : a.t === "string" ? instantOfText(a.v) : undefined;
    const y = b.t === "instant" ? b.v : b.t === "string" ? instantOfText(b.v) : undefined;
    return x === undefined || y === undefined ? undefined : compareInstants(x, y);
  }
  if (a.t === "guid" || b.t === "guid") {
    const x = a.t === "guid" ? a.v : a.t === "string" && GUID_TEXT.test(a.v) ? a.v.toLowerCase() : undefined;
    const y = b.t === "guid" ? b.v : b.t === "string" && GUID_TEXT.test(b.v) ? b.v.toLowerCase() : undefined;
    return x === undefined || y === undefined ? undefined : compareText(x, y);
  }
  if (a.t === "string" && b.t === "string") {
    if (GUID_TEXT.test(a.v) && GUID_TEXT.test(b.v)) return compareText(a.v.toLowerCase(), b.v.toLowerCase());
    const x = instantOfText(a.v);
    if (x !== undefined) {
      const y = instantOfText(b.v);
      if (y !== undefined) return compareInstants(x, y);
    }
    return caseInsensitive ? compareText(a.v.toLowerCase(), b.v.toLowerCase()) : compareText(a.v, b.v);
  }
  return undefined;
}

function equalTagged(a: Tagged, b: Tagged, caseInsensitive: boolean): boolean {
  if (a.t === "null" || b.t === "null") return a.t === b.t;
  if (a.t === "other" || b.t === "other") return a.t === b.t && a.v === b.v;
  return compareTagged(a, b, caseInsensitive) === 0;
}

function applyComparison(op: ComparisonOperator, left: unknown, right: unknown, caseInsensitive: boolean): boolean {
  const a = tag(left);
  const b = tag(right);
  if (op === "eq") return equalTagged(a, b, caseInsensitive);
  if (op === "ne") return !equalTagged(a, b, caseInsensitive);
  if (a.t === "null" || b.t === "null") return false;
  const c = compareTagged(a, b, caseInsensitive);
  if (c === undefined) return false;
  switch (op) {
    case "gt":
      return c > 0;
    case "ge":
      return c >= 0;
    case "lt":
      return c < 0;
    default:
      return c <= 0;
  }
}

/** Default resolver: own properties of plain objects only (never the prototype chain). */
export function defaultResolve(base: unknown, path: readonly string[]): unknown {
  let current: unknown = base;
  for (const segment of path) {
    if (current === null || typeof current !== "object" || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function asText(v: unknown): string | null {
  if (v instanceof TypedLiteralValue) {
    const t = v.tagged;
    return t.t === "guid" ? t.v : t.t === "instant" ? new Date(t.v.ms).toISOString() : null;
  }
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

function literalsOf(p: QueryFunctionParameter | undefined): unknown[] | undefined {
  if (p === undefined) return undefined;
  return (Array.isArray(p) ? (p as readonly Literal[]) : [p as Literal]).map(literalValue);
}

function requirePropertyName(name: string, parameters: Readonly<Record<string, QueryFunctionParameter>>): string[] {
  const p = parameters["PropertyName"];
  if (p === undefined || Array.isArray(p) || (p as Literal).type !== "string")
    throw new ODataEvaluationError(`Microsoft.Dynamics.CRM.${name} needs PropertyName='<column>'`);
  return [(p as Extract<Literal, { type: "string" }>).value];
}

const BUILT_IN_QUERY_FUNCTIONS: Readonly<Record<string, QueryFunctionImplementation>> = {
  In: (parameters, ctx) => {
    const value = ctx.valueOf(requirePropertyName("In", parameters));
    const values = literalsOf(parameters["PropertyValues"]);
    if (!values) throw new ODataEvaluationError("Microsoft.Dynamics.CRM.In needs PropertyValues=[…]");
    return values.some((v) => ctx.equals(value, v));
  },
  NotIn: (parameters, ctx) => {
    const value = ctx.valueOf(requirePropertyName("NotIn", parameters));
    const values = literalsOf(parameters["PropertyValues"]);
    if (!values) throw new ODataEvaluationError("Microsoft.Dynamics.CRM.NotIn needs PropertyValues=[…]");
    return !values.some((v) => ctx.equals(value, v));
  },
  Between: (parameters, ctx) => between("Between", parameters, ctx),
  NotBetween: (parameters, ctx) => {
    const r = between("NotBetween", parameters, ctx);
    return r === null ? null : !r;
  },
};

function between(name: string, parameters: Readonly<Record<string, QueryFunctionParameter>>, ctx: QueryFunctionContext): boolean | null {
  const value = ctx.valueOf(requirePropertyName(name, parameters));
  const bounds = literalsOf(parameters["PropertyValues"]);
  if (!bounds || bounds.length !== 2) throw new ODataEvaluationError(`Microsoft.Dynamics.CRM.${name} needs PropertyValues=[low,high]`);
  if (value === null || value === undefined) return null;
  const lo = ctx.compare(value, bounds[0]);
  const hi = ctx.compare(value, bounds[1]);
  return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
}

type Scope = ReadonlyMap<string, unknown>;
const EMPTY_SCOPE: Scope = new Map();

class Evaluator {
  private readonly resolve: PropertyResolver;
  private readonly caseInsensitive: boolean;
  private readonly functions: Readonly<Record<string, QueryFunctionImplementation>>;

  constructor(
    private readonly row: unknown,
    options: EvaluateOptions,
  ) {
    this.resolve = options.resolve ?? defaultResolve;
    this.caseInsensitive = options.caseInsensitive ?? false;
    this.functions = { ...BUILT_IN_QUERY_FUNCTIONS, ...options.queryFunctions };
  }

  private property(p: PropertyExpression, scope: Scope): unknown {
    if (p.variable === undefined) return this.resolve(this.row, p.path);
    const element = scope.get(p.variable);
    return p.path.length === 0 ? element : this.resolve(element, p.path);
  }

  /** The value of a value-producing expression. */
  value(e: FilterExpression, scope: Scope): unknown {
    switch (e.kind) {
      case "literal":
        return literalValue(e.literal);
      case "property":
        return this.property(e, scope);
      case "stringFunction": {
        const s = asText(this.value(e.argument, scope));
        if (s === null) return null;
        return e.function === "tolower" ? s.toLowerCase() : s.toUpperCase();
      }
      default:
        return this.truth(e, scope);
    }
  }

  /** Three-valued truth of a boolean expression: true, false or null (unknown). */
  truth(e: FilterExpression, scope: Scope): boolean | null {
    switch (e.kind) {
      case "literal":
      case "property": {
        const v = this.value(e, scope);
        return typeof v === "boolean" ? v : null;
      }
      case "stringFunction":
        return null;
      case "comparison":
        return applyComparison(e.operator, this.value(e.left, scope), this.value(e.right, scope), this.caseInsensitive);
      case "logical": {
        let unknown = false;
        for (const operand of e.operands) {
          const r = this.truth(operand, scope);
          if (r === null) unknown = true;
          else if (e.operator === "and" && r === false) return false;
          else if (e.operator === "or" && r === true) return true;
        }
        return unknown ? null : e.operator === "and";
      }
      case "not": {
        const r = this.truth(e.operand, scope);
        return r === null ? null : !r;
      }
      case "stringPredicate": {
        let subject = asText(this.value(e.subject, scope));
        let needle = asText(this.value(e.argument, scope));
        if (subject === null || needle === null) return null;
        if (this.caseInsensitive) {
          subject = subject.toLowerCase();
          needle = needle.toLowerCase();
        }
        if (e.function === "contains") return subject.includes(needle);
        return e.function === "startswith" ? subject.startsWith(needle) : subject.endsWith(needle);
      }
      case "lambda": {
        const collection = this.property(e.collection, scope);
        const items = Array.isArray(collection) ? collection : [];
        if (e.predicate === undefined || e.variable === undefined) return items.length > 0;
        const inner = new Map(scope);
        let unknown = false;
        for (const item of items) {
          inner.set(e.variable, item);
          const r = this.truth(e.predicate, inner);
          if (e.operator === "any" && r === true) return true;
          if (e.operator === "all" && r === false) return false;
          if (r === null) unknown = true;
        }
        if (e.operator === "any") return unknown ? null : false;
        return unknown ? null : true;
      }
      case "queryFunction": {
        const fn = Object.prototype.hasOwnProperty.call(this.functions, e.name) ? this.functions[e.name] : undefined;
        if (!fn) throw new ODataEvaluationError(`The query function Microsoft.Dynamics.CRM.${e.name} is not supported by this emulator.`);
        return fn(e.parameters, {
          valueOf: (path) => this.resolve(this.row, path),
          equals: (a, b) => equalTagged(tag(a), tag(b), this.caseInsensitive),
          compare: (a, b) => {
            const x = tag(a);
            const y = tag(b);
            return x.t === "null" || y.t === "null" ? undefined : compareTagged(x, y, this.caseInsensitive);
          },
        });
      }
    }
  }
}

/** True when the row satisfies the filter (null/unknown counts as not satisfied). */
export function evaluateFilter(expr: FilterExpression, row: unknown, options: EvaluateOptions = {}): boolean {
  return new Evaluator(row, options).truth(expr, EMPTY_SCOPE) === true;
}

const KIND_RANK: Record<Tagged["t"], number> = { null: 0, boolean: 1, number: 2, instant: 3, guid: 4, string: 5, other: 6 };

/**
 * Total order for `$orderby`: nulls (and missing values) first, as Dataverse sorts ascending;
 * numbers numerically, instants (Date or ISO strings) chronologically, strings ordinally
 * (or ignoring case). Values of different kinds order by kind so sorting never throws.
 */
export function compareForOrder(a: unknown, b: unknown, options: { caseInsensitive?: boolean } = {}): number {
  const x = tag(a);
  const y = tag(b);
  if (x.t === "null" || y.t === "null") return x.t === y.t ? 0 : x.t === "null" ? -1 : 1;
  const c = compareTagged(x, y, options.caseInsensitive ?? false);
  if (c !== undefined) return c;
  if (x.t === y.t) return 0;
  return KIND_RANK[x.t] - KIND_RANK[y.t];
}
