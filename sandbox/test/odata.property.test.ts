import { fc, test } from "@fast-check/jest";
import {
  evaluateFilter,
  ODataSyntaxError,
  parseFilter,
  parseOrderBy,
  parseSelect,
  printFilter,
  printLiteral,
  type FilterExpression,
  type Literal,
  type PropertyExpression,
} from "../src/odata";

// Property names and range variables come from disjoint sets: inside a lambda a name that equals a
// range variable means the variable, so a generated row property must never be spelled like one.
const propertyName = fc.constantFrom("name", "status", "details", "customerProfile", "dealValue", "x1", "_v", "ANY", "nota");

const instantMs = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2999, 11, 31) });

const literal: fc.Arbitrary<Literal> = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }).map((value) => ({ type: "string" as const, value })),
  fc.constantFrom("O'Brien", "x' or 1 eq 1", "' or ''='", "'", "''", ")", "a eq b").map((value) => ({ type: "string" as const, value })),
  fc.integer().map((value) => ({ type: "number" as const, value })),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((v) => !Object.is(v, -0))
    .map((value) => ({ type: "number" as const, value })),
  fc.boolean().map((value) => ({ type: "boolean" as const, value })),
  fc.constant({ type: "null" as const }),
  fc.tuple(fc.uuid(), fc.boolean()).map(([u, upper]) => ({ type: "guid" as const, value: upper ? u.toUpperCase() : u })),
  fc.tuple(instantMs, fc.constantFrom("Z", "+02:00", "-05:30"), fc.boolean()).map(([ms, offset, millis]) => {
    const iso = new Date(ms).toISOString();
    const text = `${millis ? iso.slice(0, 23) : iso.slice(0, 19)}${offset}`;
    return { type: "datetime" as const, value: text, epochMs: Date.parse(text) };
  }),
  instantMs.map((ms) => {
    const value = new Date(ms).toISOString().slice(0, 10);
    return { type: "date" as const, value, epochMs: Date.parse(`${value}T00:00:00Z`) };
  }),
);

const lit = (l: Literal): FilterExpression => ({ kind: "literal", literal: l });

/** Generates well-formed filter trees; `scope` holds the range variables of enclosing lambdas. */
function filterTree(scope: readonly string[], depth: number): fc.Arbitrary<FilterExpression> {
  const path = fc.array(propertyName, { minLength: 1, maxLength: 3 });
  const property: fc.Arbitrary<PropertyExpression> =
    scope.length === 0
      ? path.map((p) => ({ kind: "property", path: p }))
      : fc.oneof(
          path.map((p): PropertyExpression => ({ kind: "property", path: p })),
          fc.tuple(fc.constantFrom(...scope), fc.array(propertyName, { maxLength: 2 })).map(([v, p]): PropertyExpression => ({ kind: "property", variable: v, path: p })),
        );
  const leafValue: fc.Arbitrary<FilterExpression> = fc.oneof(property, literal.map(lit));
  const value: fc.Arbitrary<FilterExpression> =
    depth <= 0
      ? leafValue
      : fc.oneof(
          { weight: 4, arbitrary: leafValue },
          { weight: 1, arbitrary: fc.tuple(fc.constantFrom("tolower" as const, "toupper" as const), leafValue).map(([f, a]): FilterExpression => ({ kind: "stringFunction", function: f, argument: a })) },
        );
  const comparison = fc
    .tuple(fc.constantFrom("eq" as const, "ne" as const, "gt" as const, "ge" as const, "lt" as const, "le" as const), value, value)
    .map(([operator, left, right]): FilterExpression => ({ kind: "comparison", operator, left, right }));
  const leafBoolean: fc.Arbitrary<FilterExpression> = fc.oneof(
    { weight: 6, arbitrary: comparison },
    { weight: 1, arbitrary: property },
    { weight: 1, arbitrary: fc.boolean().map((b) => lit({ type: "boolean", value: b })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("contains" as const, "startswith" as const, "endswith" as const), value, value)
        .map(([f, subject, argument]): FilterExpression => ({ kind: "stringPredicate", function: f, subject, argument })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("In", "NotIn"), propertyName, fc.array(literal, { maxLength: 3 }))
        .map(([name, column, values]): FilterExpression => ({
          kind: "queryFunction",
          name,
          parameters: { PropertyName: { type: "string", value: column }, PropertyValues: values },
        })),
    },
  );
  if (depth <= 0) return leafBoolean;
  const sub = filterTree(scope, depth - 1);
  const free = ["t", "u", "w"].filter((v) => !scope.includes(v));
  const branches: fc.WeightedArbitrary<FilterExpression>[] = [
    { weight: 3, arbitrary: leafBoolean },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("and" as const, "or" as const), fc.array(sub, { minLength: 2, maxLength: 4 }))
        .map(([operator, operands]): FilterExpression => ({ kind: "logical", operator, operands })),
    },
    { weight: 1, arbitrary: sub.map((operand): FilterExpression => ({ kind: "not", operand })) },
    // comparisons of boolean sub-expressions, e.g. `(a eq b) eq true`, `(not a) ne b`
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom("eq" as const, "ne" as const), sub, sub).map(([operator, left, right]): FilterExpression => ({ kind: "comparison", operator, left, right })),
    },
    { weight: 1, arbitrary: property.map((collection): FilterExpression => ({ kind: "lambda", operator: "any", collection })) },
  ];
  if (free.length > 0) {
    branches.push({
      weight: 2,
      arbitrary: fc.constantFrom(...free).chain((variable) =>
        fc
          .tuple(fc.constantFrom("any" as const, "all" as const), property, filterTree([...scope, variable], depth - 1))
          .map(([operator, collection, predicate]): FilterExpression => ({ kind: "lambda", operator, collection, variable, predicate })),
      ),
    });
  }
  return fc.oneof(...branches);
}

const anyFilter = filterTree([], 3);

/** Strings made of filter-ish pieces reach far deeper into the parser than uniform noise. */
const filterishGarbage = fc
  .array(
    fc.constantFrom("(", ")", " ", ",", "/", ":", "'", "''", "[", "]", "=", "eq", "and", "or", "not", "gt", "any", "all", "t", "t:", "a", "1", "-", "1.5e3", "2026-01-01", "T00:00:00Z", "65edc0b5-1f2e-4d3c-8b7a-0123456789ab", "contains", "tolower", "Microsoft.Dynamics.CRM.In", "null", "true", "$", "é", "\u0000"),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(""));

function onlySyntaxErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof ODataSyntaxError) return true;
    throw e;
  }
}

describe("OData properties", () => {
  test.prop([anyFilter], { numRuns: 400 })("print → parse gives back the same tree", (tree) => {
    expect(parseFilter(printFilter(tree))).toEqual(tree);
  });

  test.prop([anyFilter], { numRuns: 200 })("printing is a fixed point after one round", (tree) => {
    const text = printFilter(tree);
    expect(printFilter(parseFilter(text))).toBe(text);
  });

  test.prop([fc.string({ maxLength: 80 })], { numRuns: 500 })("random text never throws anything but ODataSyntaxError", (text) => {
    expect(onlySyntaxErrors(() => parseFilter(text))).toBe(true);
    expect(onlySyntaxErrors(() => parseOrderBy(text))).toBe(true);
    expect(onlySyntaxErrors(() => parseSelect(text))).toBe(true);
  });

  test.prop([filterishGarbage], { numRuns: 1000 })("filter-shaped garbage never throws anything but ODataSyntaxError", (text) => {
    expect(onlySyntaxErrors(() => parseFilter(text))).toBe(true);
  });

  test.prop([fc.string({ maxLength: 40 }), fc.string({ maxLength: 5 })], { numRuns: 300 })(
    "text inside a literal never changes the filter's meaning",
    (value, other) => {
      const filter = `name eq ${printLiteral({ type: "string", value })} and status eq 'New'`;
      const tree = parseFilter(filter);
      expect(tree).toEqual({
        kind: "logical",
        operator: "and",
        operands: [
          { kind: "comparison", operator: "eq", left: { kind: "property", path: ["name"] }, right: { kind: "literal", literal: { type: "string", value } } },
          { kind: "comparison", operator: "eq", left: { kind: "property", path: ["status"] }, right: { kind: "literal", literal: { type: "string", value: "New" } } },
        ],
      });
      expect(evaluateFilter(tree, { name: value, status: "New" })).toBe(true);
      if (other !== "") expect(evaluateFilter(tree, { name: value + other, status: "New" })).toBe(false);
    },
  );

  it.each(["O'Brien", "x' or 1 eq 1", "' or ''='", "x') or (1 eq 1", "'; drop table referrals; --"])("injection attempt %j stays a literal", (value) => {
    const tree = parseFilter(`name eq ${printLiteral({ type: "string", value })}`);
    expect(tree).toMatchObject({ kind: "comparison", right: { literal: { type: "string", value } } });
    expect(evaluateFilter(tree, { name: "someone else" })).toBe(false);
    expect(evaluateFilter(tree, { name: value })).toBe(true);
  });

  test.prop([fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), fc.boolean()], { numRuns: 300 })(
    "numeric comparisons agree with arithmetic, whether the row holds a number or a numeric string",
    (x, y, asString) => {
      const row = { v: asString ? String(x) : x };
      const expected = { eq: x === y, ne: x !== y, gt: x > y, ge: x >= y, lt: x < y, le: x <= y };
      for (const [op, want] of Object.entries(expected)) expect(evaluateFilter(parseFilter(`v ${op} ${y}`), row)).toBe(want);
    },
  );

  test.prop([anyFilter, anyFilter, fc.dictionary(propertyName, fc.oneof(fc.boolean(), fc.constant(null), fc.integer(), fc.string({ maxLength: 3 })))], { numRuns: 200 })(
    "De Morgan holds under three-valued logic",
    (a, b, row) => {
      const lhs: FilterExpression = { kind: "not", operand: { kind: "logical", operator: "and", operands: [a, b] } };
      const rhs: FilterExpression = { kind: "logical", operator: "or", operands: [{ kind: "not", operand: a }, { kind: "not", operand: b }] };
      expect(evaluateFilter(lhs, row)).toBe(evaluateFilter(rhs, row));
    },
  );
});
