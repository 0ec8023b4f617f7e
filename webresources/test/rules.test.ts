import { HelpNeeded, OpportunityColumn, SyncState } from "@cosell/contract";
import { StandardOpportunityColumn } from "../src/dataverse-names";
import {
  findMissingDetails,
  invalidSolutionIds,
  isHelpRequested,
  mustKeepSharing,
  mustKeepSyncOn,
  syncStateNotice,
  type CoSellFacts,
  type Requirement,
} from "../src/rules";

/** Everything Partner Center needs, present. */
const complete: CoSellFacts = {
  settings: { state: "ready" },
  customer: { entityType: "account", id: "{A1}", name: "Contoso" },
  accountCountry: { state: "valid", code: "US" },
  countryCodeColumn: "address1_country",
  dealValue: { state: "value", column: "estimatedvalue", value: 50_000 },
  closeDate: new Date("2030-01-31T00:00:00Z"),
  products: "SOL-15974-MQF",
  microsoftHelp: HelpNeeded.NoHelpNeeded,
  hasCustomerContact: false,
};

const requirementsOf = (facts: CoSellFacts, mode: "live" | "save" = "save"): Requirement[] =>
  findMissingDetails(facts, mode).map((d) => d.requirement);

describe("findMissingDetails", () => {
  test("a complete opportunity needs nothing more, in either mode", () => {
    expect(findMissingDetails(complete, "save")).toEqual([]);
    expect(findMissingDetails(complete, "live")).toEqual([]);
  });

  test.each<[string, Partial<CoSellFacts>, Requirement, string | null, RegExp]>([
    ["no customer", { customer: null }, "customer", StandardOpportunityColumn.customer, /customer's account/],
    [
      "a contact as customer",
      { customer: { entityType: "contact", id: "{C1}", name: "Ada Lovelace" }, accountCountry: null },
      "customer",
      StandardOpportunityColumn.customer,
      /"Ada Lovelace" is a contact.*an account/,
    ],
    [
      "an account without a country",
      { accountCountry: { state: "invalid", found: null } },
      "customer",
      StandardOpportunityColumn.customer,
      /"Contoso" has no Country\/Region.*two-letter ISO country code/,
    ],
    [
      "an account with a country name instead of a code",
      { accountCountry: { state: "invalid", found: "United States" } },
      "customer",
      StandardOpportunityColumn.customer,
      /has "United States" as its Country\/Region/,
    ],
    [
      "a failed account check",
      { accountCountry: { state: "failed", reason: "Network error" } },
      "customer",
      StandardOpportunityColumn.customer,
      /Couldn't check .*\(Network error\).*save again/,
    ],
    ["no deal value", { dealValue: { state: "value", column: "estimatedvalue", value: null } }, "dealValue", "estimatedvalue", /deal value above 0/],
    ["a zero deal value", { dealValue: { state: "value", column: "estimatedvalue", value: 0 } }, "dealValue", "estimatedvalue", /above 0/],
    ["a negative deal value", { dealValue: { state: "value", column: "new_amount", value: -5 } }, "dealValue", "new_amount", /above 0/],
    [
      "a deal value column missing from the form",
      { dealValue: { state: "missingColumn", column: "new_amount" } },
      "dealValue",
      null,
      /"new_amount", which is not on this form.*cosell_DealValueField/,
    ],
    [
      "a deal value column that holds no number",
      { dealValue: { state: "notNumeric", column: "name" } },
      "dealValue",
      null,
      /"name" does not hold a number/,
    ],
    ["no close date", { closeDate: null }, "closeDate", StandardOpportunityColumn.estimatedCloseDate, /estimated close date/],
    ["no products", { products: null }, "products", OpportunityColumn.products, /at least one solution ID/],
    ["only separators as products", { products: " , ;" }, "products", OpportunityColumn.products, /at least one solution ID/],
    [
      "a malformed solution id beside a good one",
      { products: "SOL-15974-MQF, azure" },
      "products",
      OpportunityColumn.products,
      /"AZURE" is not a solution ID.*SOL-15974-MQF/,
    ],
    [
      "help requested without a customer contact",
      { microsoftHelp: HelpNeeded.ProofOfConceptOrDemo, hasCustomerContact: false },
      "customerContact",
      StandardOpportunityColumn.customerContact,
      /asked Microsoft for help.*customer contact/,
    ],
    [
      "settings that failed to load",
      { settings: { state: "failed", reason: "Access denied" } },
      "settings",
      null,
      /co-sell settings \(Access denied\)/,
    ],
  ])("%s", (_name, change, requirement, column, message) => {
    const details = findMissingDetails({ ...complete, ...change }, "save");
    expect(details).toHaveLength(1);
    expect(details[0]).toEqual({ requirement, column, message: expect.stringMatching(message) });
  });

  test("a customer contact satisfies a request for help", () => {
    expect(requirementsOf({ ...complete, microsoftHelp: HelpNeeded.QuotesOrLicensing, hasCustomerContact: true })).toEqual([]);
  });

  test("no answer to 'How can Microsoft help?' asks for no contact", () => {
    expect(requirementsOf({ ...complete, microsoftHelp: null })).toEqual([]);
  });

  test("a custom country column is named in the message", () => {
    const [detail] = findMissingDetails(
      { ...complete, countryCodeColumn: "new_countryiso", accountCountry: { state: "invalid", found: null } },
      "live",
    );
    expect(detail?.message).toMatch(/country code \(new_countryiso\)/);
  });

  test("everything missing at once is reported at once", () => {
    const empty: CoSellFacts = {
      ...complete,
      customer: null,
      accountCountry: null,
      dealValue: { state: "value", column: "estimatedvalue", value: null },
      closeDate: null,
      products: null,
      microsoftHelp: HelpNeeded.GeneralOrOther,
    };
    expect(requirementsOf(empty)).toEqual(["customer", "dealValue", "closeDate", "products", "customerContact"]);
  });

  describe("what is not known yet", () => {
    const checking: CoSellFacts = { ...complete, accountCountry: { state: "checking" } };
    const unchecked: CoSellFacts = { ...complete, accountCountry: null };
    const loading: CoSellFacts = {
      ...complete,
      settings: { state: "loading" },
      accountCountry: null,
      dealValue: { state: "unknown" },
    };

    test("does not nag while the seller edits", () => {
      expect(requirementsOf(checking, "live")).toEqual([]);
      expect(requirementsOf(unchecked, "live")).toEqual([]);
      expect(requirementsOf(loading, "live")).toEqual([]);
    });

    test("blocks the save", () => {
      expect(findMissingDetails(checking, "save")).toEqual([
        { requirement: "customer", column: StandardOpportunityColumn.customer, message: expect.stringMatching(/Still checking/) },
      ]);
      expect(requirementsOf(unchecked, "save")).toEqual(["customer"]);
      expect(findMissingDetails(loading, "save")).toEqual([
        { requirement: "settings", column: null, message: expect.stringMatching(/Still loading the co-sell settings/) },
      ]);
    });

    test("rules that need no settings still apply while they load", () => {
      expect(requirementsOf({ ...loading, closeDate: null, customer: { entityType: "contact", id: "x", name: null } }, "live")).toEqual([
        "customer",
        "closeDate",
      ]);
    });
  });
});

describe("small rules", () => {
  test.each([
    [null, false],
    [HelpNeeded.NoHelpNeeded, false],
    [HelpNeeded.WorkloadSpecificValueProposition, true],
    [HelpNeeded.GeneralOrOther, true],
  ])("isHelpRequested(%p) is %p", (value, expected) => {
    expect(isHelpRequested(value)).toBe(expected);
  });

  test("invalidSolutionIds lists what is not a solution id, as shown to the seller", () => {
    expect(invalidSolutionIds("SOL-1-A, sol-2-b; SOL3 ,, x")).toEqual(["SOL3", "X"]);
    expect(invalidSolutionIds(null)).toEqual([]);
  });

  test.each<[boolean | null, string | null, boolean]>([
    [false, "REF-1", true],
    [null, "REF-1", true],
    [true, "REF-1", false],
    [false, null, false],
    [false, "  ", false],
  ])("mustKeepSyncOn(%p, %p) is %p", (sync, referralId, expected) => {
    expect(mustKeepSyncOn(sync, referralId)).toBe(expected);
  });

  test.each<[boolean | null, boolean, boolean]>([
    [false, true, true],
    [null, true, true],
    [true, true, false],
    [false, false, false],
  ])("mustKeepSharing(%p, saved %p) is %p", (share, saved, expected) => {
    expect(mustKeepSharing(share, saved)).toBe(expected);
  });
});

describe("syncStateNotice", () => {
  test("pending is information", () => {
    expect(syncStateNotice(SyncState.Pending, null, null)).toEqual({ level: "INFO", message: expect.stringMatching(/in progress/) });
  });
  test("an error shows the bridge's words", () => {
    expect(syncStateNotice(SyncState.Error, " Customer country is missing ", "R1")).toEqual({
      level: "ERROR",
      message: expect.stringMatching(/sync failed: Customer country is missing\. Fix what it says/),
    });
  });
  test("an error without words still says something", () => {
    expect(syncStateNotice(SyncState.Error, null, null)?.message).toMatch(/no details were recorded/);
  });
  test("synced names the referral", () => {
    expect(syncStateNotice(SyncState.Synced, null, "REF-9")).toEqual({ level: "INFO", message: expect.stringMatching(/referral REF-9/) });
  });
  test.each([SyncState.NotSynced, null, 42])("nothing to say for %p", (state) => {
    expect(syncStateNotice(state, "old error", null)).toBeNull();
  });
});
