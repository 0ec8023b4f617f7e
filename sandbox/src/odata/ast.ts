/**
 * Typed AST of the OData `$filter` subset that the Partner Center and Dataverse emulators accept.
 * The tree keeps the structure as written: an unparenthesised chain `a and b and c` is one
 * `logical` node with three operands, while `a and (b and c)` nests, so print → parse is exact.
 */

export type ComparisonOperator = "eq" | "ne" | "gt" | "ge" | "lt" | "le";
export type LogicalOperator = "and" | "or";
export type StringPredicateFunction = "contains" | "startswith" | "endswith";
export type StringValueFunction = "tolower" | "toupper";
export type LambdaOperator = "any" | "all";

export type Literal =
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "number"; readonly value: number }
  | { readonly type: "boolean"; readonly value: boolean }
  | { readonly type: "null" }
  /** A bare GUID literal (`65edc0b5-…`), as written; compared case-insensitively. */
  | { readonly type: "guid"; readonly value: string }
  /**
   * A DateTimeOffset literal (`2026-01-01T00:00:00Z`): the text as written and its instant in whole
   * milliseconds (evaluation re-reads finer fractions from the text).
   */
  | { readonly type: "datetime"; readonly value: string; readonly epochMs: number }
  /** A Date literal (`2026-01-01`), taken as midnight UTC when compared with instants. */
  | { readonly type: "date"; readonly value: string; readonly epochMs: number };

/**
 * A property path. Without `variable` it starts at the row; with `variable` it starts at the
 * element bound by an enclosing lambda (`t/email` inside `team/any(t: …)` is
 * `{ variable: "t", path: ["email"] }`; a bare `t` has an empty path).
 */
export interface PropertyExpression {
  readonly kind: "property";
  readonly path: readonly string[];
  readonly variable?: string;
}

export interface LiteralExpression {
  readonly kind: "literal";
  readonly literal: Literal;
}

export interface ComparisonExpression {
  readonly kind: "comparison";
  readonly operator: ComparisonOperator;
  readonly left: FilterExpression;
  readonly right: FilterExpression;
}

export interface LogicalExpression {
  readonly kind: "logical";
  readonly operator: LogicalOperator;
  /** Two or more operands, in order. */
  readonly operands: readonly FilterExpression[];
}

export interface NotExpression {
  readonly kind: "not";
  readonly operand: FilterExpression;
}

/** contains/startswith/endswith(haystack, needle): a boolean. */
export interface StringPredicateExpression {
  readonly kind: "stringPredicate";
  readonly function: StringPredicateFunction;
  readonly subject: FilterExpression;
  readonly argument: FilterExpression;
}

/** tolower/toupper(value): a string. */
export interface StringFunctionExpression {
  readonly kind: "stringFunction";
  readonly function: StringValueFunction;
  readonly argument: FilterExpression;
}

/** `collection/any(v: predicate)`, `collection/all(v: predicate)`, or `collection/any()`. */
export interface LambdaExpression {
  readonly kind: "lambda";
  readonly operator: LambdaOperator;
  readonly collection: PropertyExpression;
  /** Absent only for the argument-less `any()` (true when the collection is not empty). */
  readonly variable?: string;
  readonly predicate?: FilterExpression;
}

export type QueryFunctionParameter = Literal | readonly Literal[];

/**
 * A Dataverse query function, `Microsoft.Dynamics.CRM.<name>(Param=value, …)`, e.g.
 * `In(PropertyName='statuscode',PropertyValues=['1','2'])`. Parameters keep their written order.
 */
export interface QueryFunctionExpression {
  readonly kind: "queryFunction";
  /** The name after `Microsoft.Dynamics.CRM.`, e.g. `In`. */
  readonly name: string;
  readonly parameters: Readonly<Record<string, QueryFunctionParameter>>;
}

export type FilterExpression =
  | PropertyExpression
  | LiteralExpression
  | ComparisonExpression
  | LogicalExpression
  | NotExpression
  | StringPredicateExpression
  | StringFunctionExpression
  | LambdaExpression
  | QueryFunctionExpression;

export interface OrderByItem {
  readonly path: string[];
  readonly direction: "asc" | "desc";
}

/** Calls `visit` on every node, parents before children. */
export function visitFilter(expr: FilterExpression, visit: (node: FilterExpression) => void): void {
  const stack: FilterExpression[] = [expr];
  while (stack.length > 0) {
    const node = stack.pop() as FilterExpression;
    visit(node);
    switch (node.kind) {
      case "comparison":
        stack.push(node.right, node.left);
        break;
      case "logical":
        for (let i = node.operands.length - 1; i >= 0; i--) stack.push(node.operands[i] as FilterExpression);
        break;
      case "not":
        stack.push(node.operand);
        break;
      case "stringPredicate":
        stack.push(node.argument, node.subject);
        break;
      case "stringFunction":
        stack.push(node.argument);
        break;
      case "lambda":
        if (node.predicate) stack.push(node.predicate);
        stack.push(node.collection);
        break;
      default:
        break;
    }
  }
}

/** Row-rooted property paths a filter reads (lambda-variable paths excluded), for validating names. */
export function filterPropertyPaths(expr: FilterExpression): string[][] {
  const paths: string[][] = [];
  visitFilter(expr, (node) => {
    if (node.kind === "property" && node.variable === undefined) paths.push([...node.path]);
    if (node.kind === "queryFunction") {
      const name = node.parameters["PropertyName"];
      if (name && !Array.isArray(name) && (name as Literal).type === "string")
        paths.push([(name as Extract<Literal, { type: "string" }>).value]);
    }
  });
  return paths;
}
