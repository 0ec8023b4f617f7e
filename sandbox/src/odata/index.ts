/**
 * The OData query subset shared by the Partner Center and Dataverse emulators: a hand-written
 * parser (`$filter`, `$orderby`, `$select`) and an evaluator over plain objects. See README.md.
 */
export type {
  ComparisonExpression,
  ComparisonOperator,
  FilterExpression,
  LambdaExpression,
  LambdaOperator,
  Literal,
  LiteralExpression,
  LogicalExpression,
  LogicalOperator,
  NotExpression,
  OrderByItem,
  PropertyExpression,
  QueryFunctionExpression,
  QueryFunctionParameter,
  StringFunctionExpression,
  StringPredicateExpression,
  StringPredicateFunction,
  StringValueFunction,
} from "./ast";
export { filterPropertyPaths, visitFilter } from "./ast";
export { ODataEvaluationError, ODataSyntaxError } from "./errors";
export { compareInstants, parseInstant, parseInstantParts, type InstantParts } from "./instant";
export { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parseFilter } from "./parser";
export { parseOrderBy, parseSelect, selectProperties } from "./query-options";
export { printFilter, printLiteral, printOrderBy } from "./print";
export {
  compareForOrder,
  defaultResolve,
  evaluateFilter,
  type EvaluateOptions,
  type PropertyResolver,
  type QueryFunctionContext,
  type QueryFunctionImplementation,
} from "./evaluate";
