import { CHECKMARK_FAILED, CHECKMARK_SYNCED, HelpNeeded, SyncState } from "@cosell/contract";
import { deriveSection, type SectionModel } from "../../PartnerCenterSection/model/section";
import type { MockContextOptions } from "../__mocks__/mockContext";
import { REFERRAL_LINK, STATES, sectionInputs } from "../support/fixtures";

function derive(options: MockContextOptions, checkmarks = true): SectionModel {
  return deriveSection(sectionInputs(options), checkmarks);
}

/** The parts that show, by form and state. */
describe("which parts show", () => {
  test.each([
    ["new opportunity", { values: STATES.newOpportunity }, { sync: true, help: true, share: true, products: true, incoming: false, audit: true }],
    ["synced opportunity", { values: STATES.synced }, { sync: true, help: true, share: true, products: true, incoming: false, audit: true }],
    ["incoming pending", { values: STATES.incomingPending }, { sync: true, help: true, share: true, products: true, incoming: true, audit: true }],
    ["lead form", { formKind: "lead", values: STATES.lead }, { sync: false, help: false, share: false, products: false, incoming: false, audit: true }],
    ["lead form, opportunity columns unbound", { formKind: "lead", values: STATES.lead, unbound: ["syncWithPartnerCenter", "microsoftHelp", "shareWithMicrosoft", "products", "referralAction", "declineReason", "engagementId", "microsoftCrmId"] }, { sync: false, help: false, share: false, products: false, incoming: false, audit: true }],
    ["opportunity with share unbound", { unbound: ["shareWithMicrosoft"] }, { sync: true, help: true, share: false, products: true, incoming: false, audit: true }],
    ["audit unreadable (field security)", { values: STATES.synced, security: { audit: { readable: false, editable: false } } }, { sync: true, help: true, share: true, products: true, incoming: false, audit: false }],
  ] as [string, MockContextOptions, Record<string, boolean>][])("%s", (_name, options, expected) => {
    const m = derive(options);
    expect({
      sync: m.sync.visible,
      help: m.help.visible,
      share: m.share.visible,
      products: m.products.visible,
      incoming: m.incoming.visible,
      audit: m.audit.visible,
    }).toEqual(expected);
  });
});

/** What the seller may change, and why not. */
describe("locks", () => {
  test.each([
    ["new opportunity: all open", { values: STATES.newOpportunity }, { sync: null, help: null, share: null, products: null }],
    ["referral exists: sync stays on", { values: STATES.synced }, { sync: "referralExists", help: null, share: null, products: null }],
    ["shared with Microsoft cannot be undone", { values: { ...STATES.synced, shareWithMicrosoft: true } }, { sync: "referralExists", help: null, share: "irreversible", products: null }],
    ["terminal referral: nothing changes", { values: STATES.terminal }, { sync: "terminal", help: "terminal", share: "terminal", products: "terminal" }],
    ["form disabled wins over everything", { values: STATES.terminal, disabled: true }, { sync: "controlDisabled", help: "controlDisabled", share: "controlDisabled", products: "controlDisabled" }],
    ["field security on products and help", { values: STATES.synced, security: { products: { editable: false }, microsoftHelp: { editable: false } } }, { sync: "referralExists", help: "fieldSecurity", share: null, products: "fieldSecurity" }],
    ["sync off with a referral can be turned on", { values: { ...STATES.synced, syncWithPartnerCenter: false } }, { sync: null, help: null, share: null, products: null }],
  ] as [string, MockContextOptions, Record<string, string | null>][])("%s", (_name, options, expected) => {
    const m = derive(options);
    expect({
      sync: m.sync.lockReason,
      help: m.help.lockReason,
      share: m.share.lockReason,
      products: m.products.lockReason,
    }).toEqual(expected);
  });

  test.each([
    ["editable", {}, null],
    ["form disabled", { disabled: true }, "controlDisabled"],
    ["terminal referral", { values: STATES.terminal }, "terminal"],
  ] as [string, MockContextOptions, string | null][])("read-only banner: %s", (_name, options, expected) => {
    expect(derive(options).readOnlyReason).toBe(expected);
  });
});

describe("sync status", () => {
  test.each([
    ["not synced", {}, true, "notSynced", null, null],
    ["syncing", { values: STATES.syncing }, true, "pending", null, null],
    ["synced ✔", { values: STATES.synced }, true, "synced", CHECKMARK_SYNCED, null],
    ["error ✖ with the error", { values: STATES.error }, true, "error", CHECKMARK_FAILED, STATES.error.syncError],
    ["synced without check marks", { values: STATES.synced }, false, "synced", null, null],
    ["error without check marks keeps the error", { values: STATES.error }, false, "error", null, STATES.error.syncError],
    ["a stale error is not shown once synced", { values: { ...STATES.synced, syncError: "old problem" } }, true, "synced", CHECKMARK_SYNCED, null],
    ["an unknown option value", { values: { syncState: 999 } }, true, "unknown", null, null],
    ["sync state unreadable", { values: STATES.error, security: { syncState: { readable: false } } }, true, "notSynced", null, STATES.error.syncError],
  ] as [string, MockContextOptions, boolean, string, string | null, string | null][])(
    "%s",
    (_name, options, checkmarks, kind, mark, error) => {
      const m = derive(options, checkmarks);
      expect(m.status.kind).toBe(kind);
      expect(m.status.checkmark).toBe(mark);
      expect(m.status.error).toBe(error);
    },
  );

  test("keeps the last sync time", () => {
    expect(derive({ values: STATES.synced }).status.lastSyncedOn?.toISOString()).toBe("2026-11-24T16:00:00.000Z");
  });
});

describe("incoming referral", () => {
  test.each([
    ["New/Pending, created from Partner Center", { values: STATES.incomingPending }, true],
    ["New/Received", { values: { ...STATES.incomingPending, referralSubstatus: "Received" } }, true],
    ["status in another case", { values: { ...STATES.incomingPending, referralStatus: "NEW", referralSubstatus: "pending" } }, true],
    ["no audit yet", { values: { ...STATES.incomingPending, audit: null } }, true],
    ["Active/Accepted", { values: { ...STATES.incomingPending, referralStatus: "Active", referralSubstatus: "Accepted" } }, false],
    ["Closed/Declined", { values: { ...STATES.incomingPending, referralStatus: "Closed", referralSubstatus: "Declined" } }, false],
    ["New/Pending but we created it (first audit CRM→PC)", { values: { ...STATES.incomingPending, audit: STATES.synced.audit } }, false],
    ["no referral id", { values: { ...STATES.incomingPending, referralId: null } }, false],
    ["lead form", { formKind: "lead", values: STATES.incomingPending }, false],
    ["referral action unbound", { values: STATES.incomingPending, unbound: ["referralAction"] }, false],
  ] as [string, MockContextOptions, boolean][])("%s → %s", (_name, options, expected) => {
    expect(derive(options).incoming.visible).toBe(expected);
  });

  test("an accept already requested is reported", () => {
    const m = derive({ values: STATES.incomingAccepted });
    expect(m.incoming).toMatchObject({ visible: true, requested: "accept", lockReason: null, canDecline: true });
  });

  test("declining needs the decline reason column", () => {
    expect(derive({ values: STATES.incomingPending, security: { declineReason: { editable: false } } }).incoming.canDecline).toBe(false);
    expect(derive({ values: STATES.incomingPending, unbound: ["declineReason"] }).incoming.canDecline).toBe(false);
  });

  test("a disabled form locks the answer", () => {
    expect(derive({ values: STATES.incomingPending, disabled: true }).incoming.lockReason).toBe("controlDisabled");
  });
});

describe("referral details", () => {
  test("linked referral with a safe link", () => {
    const r = derive({ values: STATES.terminal }).referral;
    expect(r).toMatchObject({ linked: true, link: REFERRAL_LINK, status: "Closed", substatus: "Won", microsoftCrmId: "7-ABCDEF", terminal: true });
  });

  test.each([["javascript:alert(1)"], ["not a url"], ["ftp://example.com/x"]])("link %s is not offered", (link) => {
    expect(derive({ values: { ...STATES.synced, referralLink: link } }).referral.link).toBeNull();
  });

  test("an unreadable referral id means not linked", () => {
    expect(derive({ values: STATES.synced, security: { referralId: { readable: false } } }).referral.linked).toBe(false);
  });

  test("whitespace-only values count as empty", () => {
    expect(derive({ values: { referralId: "   " } }).referral.linked).toBe(false);
  });
});

describe("products", () => {
  test.each([
    ["sync on, no solution, no referral yet", { syncWithPartnerCenter: true }, true],
    ["sync on with a solution", { syncWithPartnerCenter: true, products: "SOL-1-A" }, false],
    ["sync off", { syncWithPartnerCenter: false }, false],
    // An incoming referral already exists in Partner Center: no solution is needed to create it.
    ["incoming referral without solutions", STATES.incomingPending, false],
  ] as [string, MockContextOptions["values"], boolean][])("missing solution flagged: %s → %s", (_name, values, expected) => {
    expect(derive({ values }).products.missing).toBe(expected);
  });
});

describe("help options", () => {
  test("labels come from the column metadata (the user's language)", () => {
    const m = derive({ helpOptions: [{ Value: HelpNeeded.NoHelpNeeded, Label: "Nessun aiuto necessario" }] });
    expect(m.help.options).toEqual([{ value: HelpNeeded.NoHelpNeeded, label: "Nessun aiuto necessario" }]);
  });

  test("without metadata the contract's labels are used", () => {
    const m = derive({ helpOptions: null });
    expect(m.help.options.map((o) => o.value)).toEqual(Object.values(HelpNeeded));
  });
});

describe("layout", () => {
  test.each([
    [{ formFactor: 3, allocatedWidth: 1200 }, "narrow"],
    [{ formFactor: 2, allocatedWidth: 1200 }, "medium"],
    [{ formFactor: 1, allocatedWidth: 1200 }, "wide"],
    [{ formFactor: 1, allocatedWidth: 400 }, "narrow"],
  ] as [MockContextOptions, string][])("%o → %s", (options, expected) => {
    expect(derive(options).layout).toBe(expected);
  });
});

test("sync state values follow the contract", () => {
  expect(derive({ values: { syncState: SyncState.Pending } }).status.kind).toBe("pending");
});
