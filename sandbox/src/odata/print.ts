/**
 * Prints a filter AST back to canonical `$filter` text. parseFilter(printFilter(e)) equals e for
 * every tree the parser can produce (the property tests check this), so clients and tests can build
 * filters as trees and never concatenate user text into a query.
 */
import type { FilterExpression, Literal, OrderByItem, PropertyExpression, QueryFunctionParameter } from "./ast";

const PRECEDENCE = { or: 1, and: 2, comparison: 3, not: 4, primary: 5 } as const;

export function printLiteral(l: Literal): string {
  switch (l.type) {
    case "string":
      return `'${l.value.replace(/'/g, "''")}'`;
    case "number":
      return String(l.value);
    case "boolean":
      return l.value ? "true" : "false";
    case "null":
      return "null";
    default:
      return l.value;
  }
}

function printPath(p: PropertyExpression): string {
  return (p.variable === undefined ? p.path : [p.variable, ...p.path]).join("/");
}

function printParameter(v: QueryFunctionParameter): string {
  return Array.isArray(v) ? `[${(v as readonly Literal[]).map(printLiteral).join(",")}]` : printLiteral(v as Literal);
}

function precedenceOf(e: FilterExpression): number {
  switch (e.kind) {
    case "logical":
      return PRECEDENCE[e.operator];
    case "comparison":
      return PRECEDENCE.comparison;
    case "not":
      return PRECEDENCE.not;
    default:
      return PRECEDENCE.primary;
  }
}

function wrap(e: FilterExpression, minimum: number): string {
  const text = printFilter(e);
  return precedenceOf(e) < minimum ? `(${text})` : text;
}

export function printFilter(e: FilterExpression): string {
  switch (e.kind) {
    case "literal":
      return printLiteral(e.literal);
    case "property":
      return printPath(e);
    case "comparison": {
      // `not x` on the left of a comparison is parenthesised: the parser refuses the bare form.
      const left = e.left.kind === "not" ? `(${printFilter(e.left)})` : wrap(e.left, PRECEDENCE.comparison);
      return `${left} ${e.operator} ${wrap(e.right, PRECEDENCE.not)}`;
    }
    case "logical": {
      // Operands of the same operator are parenthesised so that explicit nesting survives a round trip.
      const minimum = PRECEDENCE[e.operator] + 1;
      return e.operands.map((o) => wrap(o, minimum)).join(` ${e.operator} `);
    }
    case "not":
      return `not ${wrap(e.operand, PRECEDENCE.not)}`;
    case "stringPredicate":
      return `${e.function}(${printFilter(e.subject)},${printFilter(e.argument)})`;
    case "stringFunction":
      return `${e.function}(${printFilter(e.argument)})`;
    case "lambda":
      return e.predicate === undefined || e.variable === undefined
        ? `${printPath(e.collection)}/${e.operator}()`
        : `${printPath(e.collection)}/${e.operator}(${e.variable}:${printFilter(e.predicate)})`;
    case "queryFunction":
      return `Microsoft.Dynamics.CRM.${e.name}(${Object.entries(e.parameters)
        .map(([k, v]) => `${k}=${printParameter(v)}`)
        .join(",")})`;
  }
}

export function printOrderBy(items: readonly OrderByItem[]): string {
  return items.map((i) => `${i.path.join("/")} ${i.direction}`).join(",");
}
