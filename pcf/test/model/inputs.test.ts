import { ReferralAction } from "@cosell/contract";
import { EMPTY_RECORD, outputsFor, settlePending, withPending } from "../../PartnerCenterSection/model/inputs";
import { fillPlaceholders } from "../../PartnerCenterSection/Strings";

describe("settlePending", () => {
  test("a change the platform reports as updated is dropped", () => {
    expect(settlePending({ products: "SOL-1-A" }, EMPTY_RECORD, ["products"])).toEqual({});
  });

  test("a change the platform echoes is dropped", () => {
    expect(settlePending({ syncWithPartnerCenter: true }, { ...EMPTY_RECORD, syncWithPartnerCenter: true }, [])).toEqual({});
  });

  test("a change not yet taken is kept", () => {
    expect(settlePending({ microsoftHelp: 1, products: "SOL-1-A" }, EMPTY_RECORD, ["audit"])).toEqual({
      microsoftHelp: 1,
      products: "SOL-1-A",
    });
  });

  // Regression: the bridge clears cosell_referralaction after carrying it out; a pending "accept"
  // that the platform had already taken must not come back over the cleared value.
  test("regression: a referral action taken by the platform does not outlive the bridge clearing it", () => {
    let pending = settlePending({ referralAction: ReferralAction.Accept }, { ...EMPTY_RECORD, referralAction: ReferralAction.Accept }, []);
    pending = settlePending(pending, { ...EMPTY_RECORD, referralAction: null }, ["referralAction"]);
    expect(withPending({ ...EMPTY_RECORD, referralAction: null }, pending).referralAction).toBeNull();
  });
});

describe("outputsFor", () => {
  test("only changed properties; cleared values are undefined", () => {
    const out = outputsFor({ products: null, syncWithPartnerCenter: true });
    expect(out).toEqual({ products: undefined, syncWithPartnerCenter: true });
    expect(Object.keys(out).sort()).toEqual(["products", "syncWithPartnerCenter"]);
  });

  test("nothing changed → nothing written", () => {
    expect(outputsFor({})).toEqual({});
  });
});

test.each([
  ["Last synced {0}", ["today"], "Last synced today"],
  ["{0} of {1} entries", ["3", "10"], "3 of 10 entries"],
  ["{0} and {1}", ["a"], "a and {1}"],
])("fillPlaceholders(%p, %p)", (template, args, expected) => {
  expect(fillPlaceholders(template, args)).toBe(expected);
});
