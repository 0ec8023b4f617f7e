import { categorize, recordKindFor, type ReferralCategory } from "../src/sync/categorize";
import {
  canTransition,
  isKnownState,
  isTerminal,
  nextForAccept,
  nextForDecline,
  nextForLost,
  nextForWon,
  type TransitionPlan,
} from "../src/sync/transitions";

describe("categorize (spec §2.9)", () => {
  it.each<[string | null, string | null, string | null, ReferralCategory]>([
    // The table as published.
    ["Independent", "Direct", "msft", "marketplace-lead"],
    ["Independent", "Direct", null, "marketplace-lead"],
    ["Independent", "SalesQualified", "msft", "qualified-lead"],
    ["Independent", "MarketingQualified", "msft", "qualified-lead"],
    ["Independent", "SalesQualified", "partner-org-1", "co-sell-opportunity"],
    ["Independent", "None", "partner-org-1", "co-sell-opportunity"],
    ["Shared", "SalesQualified", "partner-org-1", "co-sell-opportunity"],
    ["Shared", "None", "msft", "co-sell-opportunity"],
    // Case and spacing as an API might send them.
    ["independent", "direct", " MSFT ", "marketplace-lead"],
    // Outside the table: the safe reading is a co-sell opportunity.
    ["Independent", "SalesQualified", null, "co-sell-opportunity"],
    ["Independent", "Direct", "partner-org-1", "co-sell-opportunity"],
    ["Independent", "MarketingQualified", "partner-org-1", "co-sell-opportunity"],
    ["Joint", "Direct", "msft", "co-sell-opportunity"],
    [null, null, null, "co-sell-opportunity"],
  ])("type %s, qualification %s, invited by %s → %s", (type, qualification, invitedBy, expected) => {
    const inviteContext = invitedBy === null ? null : { invitedBy: { organizationId: invitedBy } };
    expect(categorize({ type, qualification, inviteContext })).toBe(expected);
  });

  it.each<[ReferralCategory, "opportunity" | "lead"]>([
    ["co-sell-opportunity", "opportunity"],
    ["marketplace-lead", "lead"],
    ["qualified-lead", "lead"],
  ])("%s lands in Dynamics as a(n) %s", (category, kind) => {
    expect(recordKindFor(category)).toBe(kind);
  });
});

const STATES: readonly [string, string][] = [
  ["New", "Pending"],
  ["New", "Received"],
  ["Active", "Accepted"],
  ["Closed", "Won"],
  ["Closed", "Lost"],
  ["Closed", "Declined"],
  ["Closed", "Expired"],
];

// Written out by hand from the §2.8 table: from → the states it may move to.
const ALLOWED: Record<string, string[]> = {
  "New/Pending": ["New/Pending", "New/Received", "Active/Accepted", "Closed/Won", "Closed/Lost", "Closed/Declined", "Closed/Expired"],
  "New/Received": ["New/Pending", "New/Received", "Active/Accepted", "Closed/Won", "Closed/Lost", "Closed/Declined", "Closed/Expired"],
  "Active/Accepted": ["Active/Accepted", "Closed/Won", "Closed/Lost", "Closed/Declined", "Closed/Expired"],
  "Closed/Won": [],
  "Closed/Lost": [],
  "Closed/Declined": [],
  "Closed/Expired": [],
};

describe("status transitions (spec §2.8)", () => {
  const pairs = STATES.flatMap((from) => STATES.map((to) => [from, to] as const));
  it.each(pairs)("%j → %j", (from, to) => {
    const expected = ALLOWED[from.join("/")]?.includes(to.join("/")) ?? false;
    expect(canTransition({ status: from[0], substatus: from[1] }, { status: to[0], substatus: to[1] })).toBe(expected);
  });

  it.each([
    ["a substatus of another status", { status: "New", substatus: "Pending" }, { status: "Active", substatus: "Pending" }],
    ["an unknown target", { status: "New", substatus: "Pending" }, { status: "Paused", substatus: "None" }],
    ["from an unknown state", { status: "None", substatus: "None" }, { status: "Active", substatus: "Accepted" }],
    ["from nothing", { status: null, substatus: null }, { status: "Active", substatus: "Accepted" }],
  ])("refuses %s", (_name, from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it.each<[string | null, string | null, boolean]>([
    ["Closed", "Won", true],
    ["Closed", "Lost", true],
    ["Closed", "Declined", true],
    ["Closed", "Expired", true],
    ["Closed", "Error", true],
    ["closed", "won", true],
    ["Active", "Accepted", false],
    ["New", "Pending", false],
    [null, null, false],
  ])("isTerminal(%s/%s) = %s", (status, substatus, terminal) => {
    expect(isTerminal({ status, substatus })).toBe(terminal);
  });

  it.each<[string, string, boolean]>([
    ["Active", "Accepted", true],
    ["Active", "Pending", false],
    ["None", "None", false],
  ])("isKnownState(%s/%s) = %s", (status, substatus, known) => {
    expect(isKnownState({ status, substatus })).toBe(known);
  });
});

describe("planned transitions", () => {
  const state = (s: string) => {
    const [status, substatus] = s.split("/");
    return { status, substatus };
  };
  it.each<[string, (from: { status?: string; substatus?: string }) => TransitionPlan, string, TransitionPlan["kind"], Record<string, unknown> | undefined]>([
    ["accept a new referral", nextForAccept, "New/Pending", "transition", { status: "Active", substatus: "Accepted" }],
    ["accept a received referral", nextForAccept, "New/Received", "transition", { status: "Active", substatus: "Accepted" }],
    ["accept twice", nextForAccept, "Active/Accepted", "already", undefined],
    ["accept an expired referral", nextForAccept, "Closed/Expired", "refused", undefined],
    ["decline with a reason", (f) => nextForDecline(f, "  No budget  "), "New/Pending", "transition", { status: "Closed", substatus: "Declined", statusReason: "No budget" }],
    ["decline without a reason", (f) => nextForDecline(f, " "), "New/Pending", "transition", { status: "Closed", substatus: "Declined" }],
    ["decline an accepted referral", (f) => nextForDecline(f, null), "Active/Accepted", "transition", { status: "Closed", substatus: "Declined" }],
    ["decline a won referral", (f) => nextForDecline(f, "x"), "Closed/Won", "refused", undefined],
    ["win", nextForWon, "Active/Accepted", "transition", { status: "Closed", substatus: "Won" }],
    ["win before accepting", nextForWon, "New/Pending", "transition", { status: "Closed", substatus: "Won" }],
    ["win twice", nextForWon, "Closed/Won", "already", undefined],
    ["lose", (f) => nextForLost(f, "Out-sold"), "Active/Accepted", "transition", { status: "Closed", substatus: "Lost", statusReason: "Out-sold" }],
    ["lose a won referral", (f) => nextForLost(f), "Closed/Won", "refused", undefined],
    ["win an unknown state", nextForWon, "Paused/None", "refused", undefined],
  ])("%s", (_name, next, from, kind, to) => {
    const plan = next(state(from));
    expect(plan.kind).toBe(kind);
    if (plan.kind === "transition") expect(plan.to).toEqual(to);
  });

  it("says why a terminal referral cannot move, for the audit", () => {
    const plan = nextForAccept({ status: "Closed", substatus: "Expired" });
    expect(plan).toEqual({
      kind: "refused",
      reason: "read-only",
      message: "The referral is Closed/Expired in Partner Center and can no longer be changed, so it cannot be accepted.",
    });
  });
});
