import {
  compareForOrder,
  evaluateFilter,
  filterPropertyPaths,
  MAX_FILTER_DEPTH,
  ODataEvaluationError,
  ODataSyntaxError,
  parseFilter,
  parseOrderBy,
  parseSelect,
  printFilter,
  selectProperties,
  type EvaluateOptions,
} from "../src/odata";

const matches = (filter: string, row: unknown, options?: EvaluateOptions): boolean => evaluateFilter(parseFilter(filter), row, options);

function syntaxError(fn: () => unknown): ODataSyntaxError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ODataSyntaxError) return e;
    throw e;
  }
  throw new Error("expected an ODataSyntaxError");
}

describe("parseFilter: the Partner Center documented examples", () => {
  const referral = {
    id: "a1b2c3d4-0000-0000-0000-000000000001",
    engagementId: "65edc0b5-1f2e-4d3c-8b7a-0123456789ab",
    status: "Active",
    substatus: "Accepted",
    qualification: "SalesQualified",
    type: "Shared",
    direction: "Outgoing",
    customerProfile: { name: "Contoso", address: { country: "US" } },
    team: [{ email: "someone@contoso.com" }, { email: "r2d2@contoso.com" }],
  };
  it.each([
    ["engagementId eq '65edc0b5-1f2e-4d3c-8b7a-0123456789ab'", true],
    ["engagementId eq '65EDC0B5-1F2E-4D3C-8B7A-0123456789AB'", true],
    ["engagementId eq 65edc0b5-1f2e-4d3c-8b7a-0123456789ab", true],
    ["status eq 'New' and qualification eq 'SalesQualified'", false],
    ["status eq 'Active' and qualification eq 'SalesQualified'", true],
    ["customerProfile/address/country eq 'US' and direction eq 'Incoming'", false],
    ["customerProfile/address/country eq 'US' and direction eq 'Outgoing'", true],
    ["(type eq 'Shared' and direction eq 'Incoming')", false],
    ["(direction eq 'Incoming' and substatus eq 'Pending')", false],
    ["status eq 'Active' and direction eq 'Outgoing' and type eq 'Shared' and team/any(t:t/email eq 'r2d2@contoso.com')", true],
    ["status eq 'Active' and direction eq 'Outgoing' and type eq 'Shared' and team/any(t:t/email eq 'c3po@contoso.com')", false],
  ])("%s → %s", (filter, expected) => {
    expect(matches(filter, referral)).toBe(expected);
  });
});

describe("parseFilter: AST shape", () => {
  it("keeps lambda variables apart from row properties", () => {
    expect(parseFilter("team/any(t:t/email eq 'x')")).toEqual({
      kind: "lambda",
      operator: "any",
      collection: { kind: "property", path: ["team"] },
      variable: "t",
      predicate: {
        kind: "comparison",
        operator: "eq",
        left: { kind: "property", variable: "t", path: ["email"] },
        right: { kind: "literal", literal: { type: "string", value: "x" } },
      },
    });
  });

  it("binds not tighter than and, and tighter than or", () => {
    const e = parseFilter("not a or b and c");
    expect(e).toMatchObject({
      kind: "logical",
      operator: "or",
      operands: [{ kind: "not", operand: { kind: "property", path: ["a"] } }, { kind: "logical", operator: "and" }],
    });
  });

  it("flattens an unparenthesised chain but keeps explicit nesting", () => {
    expect(parseFilter("a and b and c")).toMatchObject({ kind: "logical", operands: [{}, {}, {}] });
    const nested = parseFilter("a and (b and c)");
    expect(nested).toMatchObject({ kind: "logical", operands: [{ kind: "property" }, { kind: "logical", operator: "and" }] });
    expect(printFilter(nested)).toBe("a and (b and c)");
  });

  it.each([
    ["x eq 'O''Brien'", { type: "string", value: "O'Brien" }],
    ["x eq ''", { type: "string", value: "" }],
    ["x eq 42", { type: "number", value: 42 }],
    ["x eq -3.25", { type: "number", value: -3.25 }],
    ["x eq 1.5e3", { type: "number", value: 1500 }],
    ["x eq true", { type: "boolean", value: true }],
    ["x eq false", { type: "boolean", value: false }],
    ["x eq null", { type: "null" }],
    ["x eq 65EDC0B5-1f2e-4d3c-8b7a-0123456789ab", { type: "guid", value: "65EDC0B5-1f2e-4d3c-8b7a-0123456789ab" }],
    ["x eq 2026-01-01T00:00:00Z", { type: "datetime", value: "2026-01-01T00:00:00Z", epochMs: Date.UTC(2026, 0, 1) }],
    ["x eq 2026-01-01T02:00:00.5+02:00", { type: "datetime", value: "2026-01-01T02:00:00.5+02:00", epochMs: Date.UTC(2026, 0, 1, 0, 0, 0, 500) }],
    ["x eq 2026-03-04", { type: "date", value: "2026-03-04", epochMs: Date.UTC(2026, 2, 4) }],
  ])("literal in %s", (filter, literal) => {
    expect(parseFilter(filter)).toMatchObject({ kind: "comparison", right: { kind: "literal", literal } });
  });

  it("parses Dataverse In / NotIn with collection parameters", () => {
    expect(parseFilter("Microsoft.Dynamics.CRM.In(PropertyName='statuscode',PropertyValues=['1','2'])")).toEqual({
      kind: "queryFunction",
      name: "In",
      parameters: {
        PropertyName: { type: "string", value: "statuscode" },
        PropertyValues: [
          { type: "string", value: "1" },
          { type: "string", value: "2" },
        ],
      },
    });
    expect(filterPropertyPaths(parseFilter("Microsoft.Dynamics.CRM.NotIn(PropertyName='statuscode',PropertyValues=[1])"))).toEqual([["statuscode"]]);
  });

  it("lists the row properties a filter reads, not lambda variables", () => {
    expect(filterPropertyPaths(parseFilter("a/b eq 1 and team/any(t:t/email eq c)"))).toEqual([["a", "b"], ["team"], ["c"]]);
  });
});

describe("parseFilter: errors", () => {
  it.each([
    ["", 0, "empty filter"],
    ["   ", 3, "empty filter"],
    ["status eq", 9, "unexpected end"],
    ["status eq 'New", 10, "unterminated string"],
    ["status eq 'New')", 15, "unexpected ')'"],
    ["(status eq 'New'", 16, "expected ')'"],
    ["status eq 'New' and", 19, "unexpected end"],
    ["status add 1", 7, "'add' is not supported"],
    ["status in ('a','b')", 7, "'in' is not supported"],
    ["status eq 'a' or 'b'", 17, "boolean"],
    ["foo(status)", 0, "unknown function 'foo'"],
    ["contains(status)", 15, "expected ','"],
    ["tolower(a,b) eq 'x'", 9, "takes 1 argument"],
    ["contains(a eq b, 'x')", 9, "must be a value"],
    ["not status eq 'New'", 14, "'not' binds tighter"],
    ["team/all()", 5, "all() needs"],
    ["team/any(t:t/any(t:t eq 1))", 17, "already in use"],
    ["a eq 2026-02-30", 5, "invalid date"],
    ["a eq 2026-01-01T25:00:00Z", 5, "invalid date"],
    ["a eq 1x", 6, "unexpected character 'x'"],
    ["a eq #", 5, "unexpected character '#'"],
    ["Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyName='b')", 43, "given twice"],
    ["Some.Other.Namespace(a=1)", 0, "unsupported qualified name"],
    ["__proto__ eq 1", 0, "not a valid property name"],
    ["a/eq eq 1", 2, "cannot be used as a property name"],
  ])("%j fails at %d (%s)", (filter, position, reason) => {
    const e = syntaxError(() => parseFilter(filter));
    expect(e.position).toBe(position);
    expect(e.message).toContain(reason);
    expect(e.message).toMatch(new RegExp(`^Syntax error at position ${position} in '`));
  });

  it("rejects absurdly deep nesting with a clear error instead of overflowing the stack", () => {
    const deep = `${"(".repeat(5000)}a eq 1${")".repeat(5000)}`;
    expect(syntaxError(() => parseFilter(deep)).message).toContain(`nested deeper than ${MAX_FILTER_DEPTH}`);
    expect(syntaxError(() => parseFilter(`${"not ".repeat(5000)}a`)).message).toContain("nested deeper");
    expect(syntaxError(() => parseFilter(`a${" eq a".repeat(5000)}`)).message).toContain("nested deeper");
    const ok = `${"(".repeat(MAX_FILTER_DEPTH)}a eq 1${")".repeat(MAX_FILTER_DEPTH)}`;
    expect(parseFilter(ok)).toMatchObject({ kind: "comparison" });
  });

  it("evaluates a long flat or-chain without deep recursion", () => {
    const terms = Array.from({ length: 2000 }, (_, i) => `n eq ${i}`).join(" or ");
    const e = parseFilter(terms);
    expect(evaluateFilter(e, { n: 1999 })).toBe(true);
    expect(evaluateFilter(e, { n: 2000 })).toBe(false);
  });
});

describe("evaluateFilter: every comparison operator", () => {
  const at = (iso: string) => iso;
  // [left value in the row, operator, right literal text, expected]
  it.each<[unknown, string, string, boolean]>([
    [5, "eq", "5", true],
    [5, "ne", "5", false],
    [5, "gt", "4", true],
    [5, "gt", "5", false],
    [5, "ge", "5", true],
    [5, "lt", "5", false],
    [5, "lt", "6", true],
    [5, "le", "5", true],
    [5, "le", "4.99", false],
    ["10000", "gt", "9999", true], // numeric string against a number (the PATCH sample sends dealValue as "10000")
    ["10000", "eq", "10000", true],
    [10000, "eq", "'10000'", true],
    [10000, "gt", "'9'", true],
    ["abc", "gt", "1", false], // not comparable: never true
    ["abc", "lt", "1", false],
    ["b", "gt", "'a'", true],
    ["B", "gt", "'a'", false], // ordinal: 'B' < 'a'
    ["abc", "eq", "'abc'", true],
    ["abc", "eq", "'ABC'", false],
    [true, "eq", "true", true],
    [false, "ne", "true", true],
    [false, "lt", "true", true],
    [at("2026-01-01T00:00:00Z"), "eq", "2026-01-01T01:00:00+01:00", true], // same instant, other offset
    [at("2026-01-01T00:00:00.000Z"), "lt", "2026-01-01T00:00:00.001Z", true],
    [at("2025-12-31T23:59:59Z"), "lt", "2026-01-01", true],
    [at("2026-01-02T00:00:00Z"), "gt", "'2026-01-01T23:00:00-02:00'", false], // both ISO strings: instants (01:00Z next day)
    [at("2026-01-02T00:00:00Z"), "ge", "'2026-01-01T22:00:00-02:00'", true],
    [new Date("2026-05-01T00:00:00Z"), "gt", "2026-04-30T23:59:59Z", true],
    ["65EDC0B5-1F2E-4D3C-8B7A-0123456789AB", "eq", "65edc0b5-1f2e-4d3c-8b7a-0123456789ab", true],
    ["65EDC0B5-1F2E-4D3C-8B7A-0123456789AB", "eq", "'65edc0b5-1f2e-4d3c-8b7a-0123456789ab'", true],
    ["65edc0b5-1f2e-4d3c-8b7a-0123456789ab", "ne", "65edc0b5-1f2e-4d3c-8b7a-0123456789ac", true],
    [null, "eq", "null", true],
    [undefined, "eq", "null", true],
    ["x", "eq", "null", false],
    [null, "ne", "null", false],
    ["x", "ne", "null", true],
    [null, "ne", "'x'", true],
    [null, "eq", "'x'", false],
    [null, "gt", "1", false],
    [null, "lt", "1", false],
    [null, "ge", "null", false],
    [1, "gt", "null", false],
    [{ a: 1 }, "eq", "1", false],
  ])("%p %s %s → %p", (value, op, literal, expected) => {
    const row = value === undefined ? {} : { v: value };
    expect(matches(`v ${op} ${literal}`, row)).toBe(expected);
  });

  it("compares strings ignoring case when asked (Dataverse collation)", () => {
    expect(matches("name eq 'CONTOSO'", { name: "Contoso" }, { caseInsensitive: true })).toBe(true);
    expect(matches("name gt 'a'", { name: "B" }, { caseInsensitive: true })).toBe(true);
    expect(matches("contains(name,'TOS')", { name: "Contoso" }, { caseInsensitive: true })).toBe(true);
    expect(matches("contains(name,'TOS')", { name: "Contoso" })).toBe(false);
  });
});

describe("evaluateFilter: logic, functions, lambdas", () => {
  // a: true, b: false, n: null (unknown)
  const row = { a: true, b: false, n: null, s: "Hello World", list: [1, 2, 3], empty: [], people: [{ e: "x" }, { e: null }] };
  it.each<[string, boolean]>([
    ["a and a", true],
    ["a and b", false],
    ["a and n", false],
    ["a or b", true],
    ["b or b", false],
    ["b or n", false],
    ["n or a", true],
    ["not a", false],
    ["not b", true],
    ["not n", false], // not unknown = unknown
    ["not (n and b)", true], // unknown and false = false
    ["not (n or a)", false],
    ["not (n or b)", false], // unknown
    ["a eq true", true],
    ["(not b) eq true", true],
    ["contains(s,'lo W')", true],
    ["contains(s,'lo w')", false],
    ["startswith(s,'Hello')", true],
    ["startswith(s,'World')", false],
    ["endswith(s,'World')", true],
    ["endswith(s,'Hello')", false],
    ["tolower(s) eq 'hello world'", true],
    ["toupper(s) eq 'HELLO WORLD'", true],
    ["contains(tolower(s),'world')", true],
    ["contains(missing,'x')", false],
    ["not contains(missing,'x')", false], // function of null is null, not of null is null
    ["tolower(missing) eq null", true],
    ["list/any(x:x gt 2)", true],
    ["list/any(x:x gt 3)", false],
    ["list/all(x:x gt 0)", true],
    ["list/all(x:x gt 1)", false],
    ["list/any()", true],
    ["empty/any()", false],
    ["empty/all(x:x eq 1)", true],
    ["missing/any(x:x eq 1)", false],
    ["missing/all(x:x eq 1)", true],
    ["people/any(p:p/e eq 'x')", true],
    ["people/all(p:p/e ne null)", false],
    ["people/any(p:list/any(x:x eq 3) and p/e eq 'x')", true],
  ])("%s → %p", (filter, expected) => {
    expect(matches(filter, row)).toBe(expected);
  });

  it("evaluates Dataverse In, NotIn, Between, NotBetween", () => {
    const r = { statuscode: 2, name: "b" };
    expect(matches("Microsoft.Dynamics.CRM.In(PropertyName='statuscode',PropertyValues=['1','2'])", r)).toBe(true);
    expect(matches("Microsoft.Dynamics.CRM.In(PropertyName='statuscode',PropertyValues=['1','3'])", r)).toBe(false);
    expect(matches("Microsoft.Dynamics.CRM.NotIn(PropertyName='statuscode',PropertyValues=[1,3])", r)).toBe(true);
    expect(matches("Microsoft.Dynamics.CRM.Between(PropertyName='statuscode',PropertyValues=['1','2'])", r)).toBe(true);
    expect(matches("Microsoft.Dynamics.CRM.NotBetween(PropertyName='statuscode',PropertyValues=['3','9'])", r)).toBe(true);
    expect(matches("Microsoft.Dynamics.CRM.Between(PropertyName='missing',PropertyValues=['3','9'])", r)).toBe(false);
  });

  it("refuses an unknown query function at evaluation, and runs a registered one", () => {
    const e = parseFilter("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)");
    expect(() => evaluateFilter(e, {})).toThrow(ODataEvaluationError);
    const now = Date.UTC(2026, 0, 10);
    const lastXDays = jest.fn((params, ctx) => {
      const v = ctx.valueOf([params.PropertyName.value]) as string;
      return Date.parse(v) >= now - params.PropertyValue.value * 86_400_000;
    });
    expect(evaluateFilter(e, { createdon: "2026-01-05T00:00:00Z" }, { queryFunctions: { LastXDays: lastXDays } })).toBe(true);
    expect(evaluateFilter(e, { createdon: "2025-12-01T00:00:00Z" }, { queryFunctions: { LastXDays: lastXDays } })).toBe(false);
  });

  it("reads properties through a custom resolver (e.g. case-insensitive names)", () => {
    const resolve = (base: unknown, path: readonly string[]) => {
      let cur = base as Record<string, unknown> | undefined;
      for (const seg of path) {
        const key = cur && Object.keys(cur).find((k) => k.toLowerCase() === seg.toLowerCase());
        cur = key === undefined ? undefined : (cur?.[key] as Record<string, unknown>);
      }
      return cur;
    };
    expect(matches("STATUS eq 'New' and Team/any(t:t/EMAIL eq 'a')", { status: "New", team: [{ email: "a" }] }, { resolve })).toBe(true);
  });

  it("never reads the prototype chain", () => {
    expect(matches("toString ne null", {})).toBe(false);
    expect(matches("a/length eq 3", { a: [1, 2, 3] })).toBe(false);
  });
});

describe("parseOrderBy / parseSelect / compareForOrder", () => {
  it("parses $orderby items with directions", () => {
    expect(parseOrderBy("createdDateTime desc, id")).toEqual([
      { path: ["createdDateTime"], direction: "desc" },
      { path: ["id"], direction: "asc" },
    ]);
    expect(parseOrderBy("customerProfile/name ASC")).toEqual([{ path: ["customerProfile", "name"], direction: "asc" }]);
  });

  it.each([
    ["", 0],
    ["a,,b", 2],
    ["a sideways", 2],
    ["a desc extra", 7],
    ["a-b", 0],
    ["a/ b", 3],
  ])("rejects $orderby %j at %d", (text, position) => {
    expect(syntaxError(() => parseOrderBy(text)).position).toBe(position);
  });

  it("parses $select and validates names", () => {
    expect(parseSelect("id,status, customerProfile,id")).toEqual(["id", "status", "customerProfile"]);
    expect(parseSelect("customerProfile/address")).toEqual(["customerProfile/address"]);
    expect(syntaxError(() => parseSelect("id,sta tus")).position).toBe(3);
    expect(syntaxError(() => parseSelect("id,*")).message).toContain("'*'");
    expect(syntaxError(() => parseSelect("constructor")).position).toBe(0);
  });

  it("projects a row onto $select paths", () => {
    const row = { id: "1", status: "New", customerProfile: { name: "C", address: { country: "US", city: "X" } }, team: [] };
    expect(selectProperties(row, ["id", "customerProfile/address/country", "missing"])).toEqual({
      id: "1",
      customerProfile: { address: { country: "US" } },
    });
    expect(selectProperties(row, ["customerProfile/address", "customerProfile/name"])).toEqual({
      customerProfile: { address: { country: "US", city: "X" }, name: "C" },
    });
  });

  it("orders nulls first, numbers numerically, instants chronologically, text ordinally", () => {
    const numbers = [10, 9, "8", null, 11];
    expect([...numbers].sort(compareForOrder)).toEqual([null, "8", 9, 10, 11]);
    expect(["b", null, "a", "B"].sort(compareForOrder)).toEqual([null, "B", "a", "b"]);
    expect(compareForOrder(undefined, null)).toBe(0); // missing sorts like null
    expect(compareForOrder(undefined, "a")).toBeLessThan(0);
    expect(["b", "a", "B"].sort((x, y) => compareForOrder(x, y, { caseInsensitive: true }))).toEqual(["a", "b", "B"]);
    const instants = ["2026-01-01T01:00:00+02:00", "2026-01-01T00:00:00Z", new Date("2025-12-31T23:30:00Z")];
    expect([...instants].sort(compareForOrder)).toEqual([instants[0], instants[2], instants[1]]); // 01:00+02:00 is 23:00Z;
    expect(compareForOrder(true, 1)).not.toBe(0); // different kinds never tie, so sorting is stable and total
  });
});

describe("instants below the millisecond", () => {
  it("keeps .NET's 7 fractional digits apart", () => {
    expect(matches("t gt 2026-01-01T00:00:00.1234567Z", { t: "2026-01-01T00:00:00.1234568Z" })).toBe(true);
    expect(matches("t gt 2026-01-01T00:00:00.1234567Z", { t: "2026-01-01T00:00:00.1234567Z" })).toBe(false);
    expect(matches("t eq 2026-01-01T00:00:00.123Z", { t: "2026-01-01T00:00:00.1230000Z" })).toBe(true);
    expect(matches("t lt '2026-01-01T00:00:00.12345Z'", { t: "2026-01-01T00:00:00.1234Z" })).toBe(true);
  });
});
