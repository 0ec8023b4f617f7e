/**
 * Recursive-descent parser for `$filter`. Precedence, loosest first (OData 4.01 §5.1.1.15):
 * `or` < `and` < comparisons (`eq ne gt ge lt le`, left-associative) < `not` < primary.
 * Nesting (parentheses, `not`, function arguments, lambdas) is bounded by MAX_FILTER_DEPTH so a
 * hostile filter cannot exhaust the stack.
 */
import type {
  ComparisonOperator,
  FilterExpression,
  Literal,
  LogicalOperator,
  PropertyExpression,
  QueryFunctionParameter,
} from "./ast";
import { ODataSyntaxError } from "./errors";
import { tokenize, type Token } from "./lexer";

export const MAX_FILTER_DEPTH = 64;
export const MAX_FILTER_LENGTH = 32_768;
export const QUERY_FUNCTION_PREFIX = "Microsoft.Dynamics.CRM.";

const COMPARISON_OPERATORS = new Set<string>(["eq", "ne", "gt", "ge", "lt", "le"]);
const UNSUPPORTED_OPERATORS = new Set<string>(["has", "in", "add", "sub", "mul", "div", "divby", "mod"]);
const RESERVED = new Set<string>(["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "true", "false", "null"]);
const PREDICATE_FUNCTIONS = new Set<string>(["contains", "startswith", "endswith"]);
const VALUE_FUNCTIONS = new Set<string>(["tolower", "toupper"]);
const FORBIDDEN_NAMES = new Set<string>(["__proto__", "constructor", "prototype"]);

/** Expressions that can stand where a boolean is needed (operands of and/or/not, lambda bodies). */
function isBooleanish(e: FilterExpression): boolean {
  switch (e.kind) {
    case "literal":
      return e.literal.type === "boolean" || e.literal.type === "null";
    case "stringFunction":
      return false;
    default:
      return true;
  }
}

class FilterParser {
  private index = 0;
  private depth = 0;
  /** Range variables of the enclosing lambdas, innermost last. */
  private readonly variables: string[] = [];

  constructor(
    private readonly text: string,
    private readonly tokens: readonly Token[],
  ) {}

  private fail(reason: string, token: Token = this.peek()): never {
    throw new ODataSyntaxError(reason, token.position, this.text);
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.index < this.tokens.length - 1) this.index++;
    return t;
  }

  private isPunct(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === "punctuation" && t.text === text;
  }

  private isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === "identifier" && t.text === word;
  }

  private expectPunct(text: string): Token {
    if (!this.isPunct(text)) this.fail(`expected '${text}' but found ${describe(this.peek())}`);
    return this.next();
  }

  private enter(at: Token): void {
    if (++this.depth > MAX_FILTER_DEPTH) this.fail(`expression nested deeper than ${MAX_FILTER_DEPTH} levels`, at);
  }

  private leave(): void {
    this.depth--;
  }

  parse(): FilterExpression {
    if (this.peek().kind === "end") this.fail("empty filter expression");
    const expr = this.parseOr();
    if (this.peek().kind !== "end") this.fail(`unexpected ${describe(this.peek())}`);
    this.requireBoolean(expr, this.tokens[0] as Token);
    return expr;
  }

  private requireBoolean(e: FilterExpression, at: Token): void {
    if (!isBooleanish(e)) this.fail("expected a boolean expression", at);
  }

  private parseLogical(operator: LogicalOperator, parseOperand: () => FilterExpression): FilterExpression {
    const firstToken = this.peek();
    const first = parseOperand();
    if (!this.isWord(operator)) return first;
    this.requireBoolean(first, firstToken);
    const operands: FilterExpression[] = [first];
    while (this.isWord(operator)) {
      this.next();
      const at = this.peek();
      const operand = parseOperand();
      this.requireBoolean(operand, at);
      operands.push(operand);
    }
    return { kind: "logical", operator, operands };
  }

  private parseOr(): FilterExpression {
    return this.parseLogical("or", () => this.parseAnd());
  }

  private parseAnd(): FilterExpression {
    return this.parseLogical("and", () => this.parseComparison());
  }

  private parseComparison(): FilterExpression {
    const startsWithNot = this.isWord("not");
    let left = this.parseUnary();
    // A chain `a eq b eq c` nests to the left; count it as depth so evaluation stays shallow.
    let chained = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind !== "identifier") break;
      if (UNSUPPORTED_OPERATORS.has(t.text)) this.fail(`operator '${t.text}' is not supported`);
      if (!COMPARISON_OPERATORS.has(t.text)) break;
      if (chained > 0) this.enter(t);
      chained++;
      this.next();
      const rightToken = this.peek();
      const right = this.parseUnary();
      if (startsWithNot && left.kind === "not" && right.kind === "literal" && right.literal.type !== "boolean" && right.literal.type !== "null")
        // OData's `not` binds tighter than `eq`: `not a eq 'x'` would compare a boolean with 'x'.
        this.fail(`'not' binds tighter than '${t.text}': write not (… ${t.text} …)`, rightToken);
      left = { kind: "comparison", operator: t.text as ComparisonOperator, left, right };
    }
    for (let i = 1; i < chained; i++) this.leave();
    return left;
  }

  private parseUnary(): FilterExpression {
    if (this.isWord("not")) {
      const at = this.next();
      this.enter(at);
      const operandToken = this.peek();
      const operand = this.parseUnary();
      this.requireBoolean(operand, operandToken);
      this.leave();
      return { kind: "not", operand };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): FilterExpression {
    const t = this.peek();
    switch (t.kind) {
      case "punctuation":
        if (t.text === "(") {
          this.next();
          this.enter(t);
          const inner = this.parseOr();
          this.expectPunct(")");
          this.leave();
          return inner;
        }
        return this.fail(`unexpected ${describe(t)}`);
      case "end":
        return this.fail("unexpected end of expression");
      case "identifier":
        return this.parseIdentifierExpression();
      default:
        return { kind: "literal", literal: this.parseLiteral() };
    }
  }

  private parseLiteral(): Literal {
    const t = this.next();
    switch (t.kind) {
      case "string":
        return { type: "string", value: t.value };
      case "number":
        return { type: "number", value: t.value };
      case "guid":
        return { type: "guid", value: t.text };
      case "datetime":
        return { type: "datetime", value: t.text, epochMs: t.epochMs };
      case "date":
        return { type: "date", value: t.text, epochMs: t.epochMs };
      case "identifier":
        if (t.text === "true" || t.text === "false") return { type: "boolean", value: t.text === "true" };
        if (t.text === "null") return { type: "null" };
        return this.fail(`expected a literal but found ${describe(t)}`, t);
      default:
        return this.fail(`expected a literal but found ${describe(t)}`, t);
    }
  }

  private parseIdentifierExpression(): FilterExpression {
    const t = this.peek() as Extract<Token, { kind: "identifier" }>;
    if (t.text === "true" || t.text === "false" || t.text === "null") return { kind: "literal", literal: this.parseLiteral() };
    if (t.text.includes(".")) {
      if (t.text.startsWith(QUERY_FUNCTION_PREFIX) && this.isPunct("(", 1)) return this.parseQueryFunction();
      return this.fail(`unsupported qualified name '${t.text}'`);
    }
    if (this.isPunct("(", 1)) {
      if (PREDICATE_FUNCTIONS.has(t.text)) return this.parseFunctionCall(2);
      if (VALUE_FUNCTIONS.has(t.text)) return this.parseFunctionCall(1);
      return this.fail(`unknown function '${t.text}'`);
    }
    return this.parsePathOrLambda();
  }

  private parseFunctionCall(arity: 1 | 2): FilterExpression {
    const nameToken = this.next() as Extract<Token, { kind: "identifier" }>;
    this.enter(nameToken);
    this.expectPunct("(");
    const args: FilterExpression[] = [];
    for (let i = 0; i < arity; i++) {
      if (i > 0) this.expectPunct(",");
      const at = this.peek();
      const arg = this.parseOr();
      if (arg.kind === "comparison" || arg.kind === "logical" || arg.kind === "not" || arg.kind === "lambda" || arg.kind === "stringPredicate" || arg.kind === "queryFunction")
        this.fail(`argument ${i + 1} of ${nameToken.text} must be a value`, at);
      args.push(arg);
    }
    if (this.isPunct(",")) this.fail(`${nameToken.text} takes ${arity} argument${arity === 1 ? "" : "s"}`);
    this.expectPunct(")");
    this.leave();
    if (arity === 1) return { kind: "stringFunction", function: nameToken.text as "tolower", argument: args[0] as FilterExpression };
    return {
      kind: "stringPredicate",
      function: nameToken.text as "contains",
      subject: args[0] as FilterExpression,
      argument: args[1] as FilterExpression,
    };
  }

  private identifierSegment(): string {
    const t = this.next();
    if (t.kind !== "identifier" || t.text.includes(".")) return this.fail(`expected a property name but found ${describe(t)}`, t);
    if (RESERVED.has(t.text)) return this.fail(`'${t.text}' cannot be used as a property name`, t);
    if (FORBIDDEN_NAMES.has(t.text)) return this.fail(`'${t.text}' is not a valid property name`, t);
    return t.text;
  }

  private parsePathOrLambda(): FilterExpression {
    const first = this.identifierSegment();
    const path: string[] = [];
    let variable: string | undefined;
    if (this.variables.includes(first)) variable = first;
    else path.push(first);
    while (this.isPunct("/")) {
      this.next();
      const seg = this.peek();
      if (seg.kind === "identifier" && (seg.text === "any" || seg.text === "all") && this.isPunct("(", 1)) {
        const collection: PropertyExpression = variable === undefined ? { kind: "property", path } : { kind: "property", path, variable };
        return this.parseLambda(collection);
      }
      path.push(this.identifierSegment());
    }
    return variable === undefined ? { kind: "property", path } : { kind: "property", path, variable };
  }

  private parseLambda(collection: PropertyExpression): FilterExpression {
    const opToken = this.next() as Extract<Token, { kind: "identifier" }>;
    const operator = opToken.text as "any" | "all";
    this.enter(opToken);
    this.expectPunct("(");
    if (this.isPunct(")")) {
      if (operator === "all") this.fail("all() needs a lambda expression", opToken);
      this.next();
      this.leave();
      return { kind: "lambda", operator, collection };
    }
    const variableToken = this.peek();
    const variable = this.identifierSegment();
    if (this.variables.includes(variable)) this.fail(`range variable '${variable}' is already in use`, variableToken);
    this.expectPunct(":");
    this.variables.push(variable);
    const bodyToken = this.peek();
    const predicate = this.parseOr();
    this.requireBoolean(predicate, bodyToken);
    this.variables.pop();
    this.expectPunct(")");
    this.leave();
    return { kind: "lambda", operator, collection, variable, predicate };
  }

  private parseQueryFunction(): FilterExpression {
    const nameToken = this.next() as Extract<Token, { kind: "identifier" }>;
    const name = nameToken.text.slice(QUERY_FUNCTION_PREFIX.length);
    if (name.includes(".")) this.fail(`unknown query function '${nameToken.text}'`, nameToken);
    this.enter(nameToken);
    this.expectPunct("(");
    const entries: [string, QueryFunctionParameter][] = [];
    if (!this.isPunct(")")) {
      for (;;) {
        const paramToken = this.peek();
        const param = this.identifierSegment();
        if (entries.some(([k]) => k === param)) this.fail(`parameter '${param}' given twice`, paramToken);
        this.expectPunct("=");
        entries.push([param, this.isPunct("[") ? this.parseLiteralList() : this.parseLiteral()]);
        if (!this.isPunct(",")) break;
        this.next();
      }
    }
    this.expectPunct(")");
    this.leave();
    return { kind: "queryFunction", name, parameters: Object.fromEntries(entries) };
  }

  private parseLiteralList(): Literal[] {
    this.expectPunct("[");
    const values: Literal[] = [];
    if (!this.isPunct("]")) {
      for (;;) {
        values.push(this.parseLiteral());
        if (!this.isPunct(",")) break;
        this.next();
      }
    }
    this.expectPunct("]");
    return values;
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case "end":
      return "end of expression";
    case "identifier":
      return `'${t.text}'`;
    case "punctuation":
      return `'${t.text}'`;
    case "string":
      return "a string literal";
    case "number":
      return "a number";
    case "guid":
      return "a GUID";
    default:
      return "a date literal";
  }
}

/** Parses a `$filter` value (already URL-decoded). Throws ODataSyntaxError. */
export function parseFilter(text: string): FilterExpression {
  if (typeof text !== "string") throw new ODataSyntaxError("filter must be a string", 0, String(text));
  if (text.length > MAX_FILTER_LENGTH)
    throw new ODataSyntaxError(`filter longer than ${MAX_FILTER_LENGTH} characters`, MAX_FILTER_LENGTH, text);
  return new FilterParser(text, tokenize(text)).parse();
}
