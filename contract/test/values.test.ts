import {
  GLOBAL_CHOICES,
  OPPORTUNITY_COLUMNS,
  OPTION_VALUE_RANGE,
  SyncState,
  isCountryCode,
  isSolutionId,
  parseProducts,
  formatProducts,
  stripCheckmark,
  withCheckmark,
  solutionVersion,
  parseEnvironmentBoolean,
} from "../src";

describe("contract values", () => {
  it.each([
    ["Contoso ✔", "Contoso"],
    ["Contoso ✖", "Contoso"],
    ["Contoso ✔ ✖", "Contoso"],
    ["Contoso✔", "Contoso✔"],
    ["Contoso", "Contoso"],
  ])("strips the checkmark of %p", (name, stripped) => {
    expect(stripCheckmark(name)).toBe(stripped);
  });

  it("adds the mark for the sync state only when enabled", () => {
    expect(withCheckmark("Deal ✖", SyncState.Synced, true)).toBe("Deal ✔");
    expect(withCheckmark("Deal", SyncState.Error, true)).toBe("Deal ✖");
    expect(withCheckmark("Deal ✔", SyncState.Pending, true)).toBe("Deal");
    expect(withCheckmark("Deal ✔", SyncState.Synced, false)).toBe("Deal");
  });

  it("parses products: trims, upper-cases, de-duplicates", () => {
    expect(parseProducts(" sol-1234-pqrs, SOL-15974-MQF;SOL-1234-PQRS,, ")).toEqual(["SOL-1234-PQRS", "SOL-15974-MQF"]);
    expect(formatProducts(["SOL-1-A", "sol-1-a", "SOL-2-B"])).toBe("SOL-1-A, SOL-2-B");
  });

  it.each([
    ["SOL-15974-MQF", true],
    ["SOL-ABC-DEF", true],
    ["SOL-1234-PQRS", true],
    ["SOL-1234", false],
    ["sol-1-a", false],
    ["SOL-1-A'", false],
  ])("solution id %p valid=%p", (id, ok) => expect(isSolutionId(id)).toBe(ok));

  it("country codes are two letters", () => {
    expect(isCountryCode("US")).toBe(true);
    expect(isCountryCode("USA")).toBe(false);
    expect(isCountryCode("United States")).toBe(false);
    expect(isCountryCode(null)).toBe(false);
  });

  it("every option value sits in the publisher's range", () => {
    for (const choice of Object.values(GLOBAL_CHOICES))
      for (const o of choice.options) {
        expect(o.value).toBeGreaterThanOrEqual(OPTION_VALUE_RANGE.min);
        expect(o.value).toBeLessThanOrEqual(OPTION_VALUE_RANGE.max);
      }
  });

  it("every custom column carries the prefix and a lower-case logical name", () => {
    for (const c of OPPORTUNITY_COLUMNS) {
      expect(c.logicalName).toMatch(/^cosell_[a-z]+$/);
      expect(c.schemaName.toLowerCase()).toBe(c.logicalName);
    }
  });

  it("solution version has four parts", () => {
    expect(solutionVersion("1.2.3")).toBe("1.2.3.0");
  });

  it("reads Boolean environment variables as Dataverse stores them", () => {
    expect(parseEnvironmentBoolean("yes", false)).toBe(true);
    expect(parseEnvironmentBoolean("no", true)).toBe(false);
    expect(parseEnvironmentBoolean("", true)).toBe(true);
    expect(parseEnvironmentBoolean(undefined, false)).toBe(false);
  });
});
