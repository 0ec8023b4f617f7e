import { EnvironmentVariable, HelpNeeded, OpportunityColumn, ReferralAction } from "@cosell/contract";
import type { CrmRecordSet } from "../src/dataverse/model";
import type { Mapping } from "../src/mapping";
import type { Referral } from "../src/partner-center/model";
import {
  applyToRecordSet,
  applyToReferral,
  holdKey,
  merge,
  type MergeResult,
  type PartnerCenterSide,
  type Snapshot,
} from "../src/sync";
import { defaultMapping, NOW, recordSet, referral } from "./sync-fixtures";

const mapping = defaultMapping();

/** The base both sides agreed on after the last sync: the fixtures as they are. */
const BASE: Snapshot = merge(undefined, { referral: referral() }, recordSet(), mapping, NOW).newBase;

function withDetails(details: Record<string, unknown>, more: Partial<Referral> = {}): Referral {
  const r = referral();
  return { ...r, details: { ...r.details, ...details }, ...more };
}

function run(
  pc: Referral = referral(),
  crm: CrmRecordSet = recordSet(),
  /** null = no base yet (a first sync). */
  base: Snapshot | null = BASE,
  m: Mapping = mapping,
  microsoft?: Referral,
): MergeResult {
  const side: PartnerCenterSide = { referral: pc, microsoft: microsoft ?? null };
  return merge(base ?? undefined, side, crm, m, NOW);
}

/** Applies a result to both sides and merges again: what the next webhook (the echo) sees. */
function echo(result: MergeResult, pc: Referral, crm: CrmRecordSet, m: Mapping = mapping, microsoft?: Referral): MergeResult {
  return merge(
    result.newBase,
    { referral: applyToReferral(pc, result.toPartnerCenter), microsoft: microsoft ?? null },
    applyToRecordSet(crm, result.toDataverse),
    m,
    NOW,
  );
}

const NO_WRITES = { record: {}, account: {}, contact: {} };

describe("the base and echoes", () => {
  it("has nothing to do when both sides equal the base (a duplicate webhook)", () => {
    const result = run();
    expect(result).toMatchObject({ nothingToDo: true, baseChanged: false, toPartnerCenter: [], toDataverse: NO_WRITES, audit: [], conflicts: [] });
  });

  it("agrees on a first sync of equal sides without writing anything", () => {
    const result = run(referral(), recordSet(), null);
    expect(result.nothingToDo).toBe(true);
    expect(result.baseChanged).toBe(true);
    expect(result.newBase["opportunity.dealValue"]).toBe(50000);
  });

  it("records a change made on both sides to the same value without writing", () => {
    const result = run(withDetails({ dealValue: 70000 }), recordSet({ recordColumns: { estimatedvalue: 70000 } }));
    expect(result.nothingToDo).toBe(true);
    expect(result.newBase["opportunity.dealValue"]).toBe(70000);
  });

  it("ignores the ✔/✖ suffix", () => {
    expect(run(referral(), recordSet({ recordColumns: { name: "Contoso Azure migration ✖" } })).nothingToDo).toBe(true);
  });

  it("ignores a string deal value equal to the number", () => {
    expect(run(withDetails({ dealValue: "50000" })).nothingToDo).toBe(true);
  });
});

describe("a change on one side flows to the other", () => {
  it.each<[string, Referral, CrmRecordSet, MergeResult["toPartnerCenter"], Record<string, unknown>]>([
    ["deal value from Partner Center", withDetails({ dealValue: 60000 }), recordSet(), [], { estimatedvalue: 60000 }],
    ["notes from Partner Center", withDetails({ notes: "Now 300 VMs" }), recordSet(), [], { description: "Now 300 VMs" }],
    ["close date from Partner Center", withDetails({ closingDateTime: "2027-03-01T00:00:00Z" }), recordSet(), [], { estimatedclosedate: "2027-03-01" }],
    [
      "currency from Partner Center",
      withDetails({ currency: "EUR" }),
      recordSet(),
      [],
      { transactioncurrencyid: { lookup: { table: "transactioncurrency", matchColumn: "isocurrencycode", matchValue: "EUR" } } },
    ],
    ["name from Partner Center, with the ✔", referral({ name: "Contoso Azure + AI" }), recordSet(), [], { name: "Contoso Azure + AI ✔" }],
    [
      "status from Partner Center into the read-only text columns",
      referral({ status: "Closed", substatus: "Expired" }),
      recordSet(),
      [],
      { [OpportunityColumn.referralStatus]: "Closed", [OpportunityColumn.referralSubstatus]: "Expired" },
    ],
    ["deal value from Dynamics 365", referral(), recordSet({ recordColumns: { estimatedvalue: 80000 } }), [{ op: "replace", path: "/details/dealValue", value: 80000 }], {}],
    ["name from Dynamics 365, without the ✔", referral(), recordSet({ recordColumns: { name: "Contoso AI ✔" } }), [{ op: "replace", path: "/name", value: "Contoso AI" }], {}],
    [
      "close date from Dynamics 365",
      referral(),
      recordSet({ recordColumns: { estimatedclosedate: "2027-01-31" } }),
      [{ op: "replace", path: "/details/closingDateTime", value: "2027-01-31T00:00:00Z" }],
      {},
    ],
    [
      "help request from Dynamics 365",
      referral(),
      recordSet({ recordColumns: { [OpportunityColumn.microsoftHelp]: HelpNeeded.ProofOfConceptOrDemo } }),
      [{ op: "replace", path: "/inviteContext/assistanceRequestCode", value: "ProofOfConceptOrDemo" }],
      {},
    ],
    [
      "solutions from Dynamics 365, keeping what Partner Center knows of the others",
      referral(),
      recordSet({ recordColumns: { [OpportunityColumn.products]: "SOL-15974-MQF, SOL-2-NEW" } }),
      [
        {
          op: "replace",
          path: "/details/requirements/solutions",
          value: [{ type: "Name", id: "SOL-15974-MQF", name: "Fabrikam Migrate" }, { type: "Name", id: "SOL-2-NEW" }],
        },
      ],
      {},
    ],
    [
      "currency from Dynamics 365",
      referral(),
      recordSet({ currency: { transactioncurrencyid: "cur-eur", isocurrencycode: "EUR" } }),
      [{ op: "replace", path: "/details/currency", value: "EUR" }],
      {},
    ],
  ])("%s", (_name, pc, crm, ops, record) => {
    const result = run(pc, crm);
    expect(result.toPartnerCenter).toEqual(ops);
    expect(result.toDataverse).toEqual({ record, account: {}, contact: {} });
    expect(result.conflicts).toEqual([]);
    expect(result.audit).toEqual([
      expect.objectContaining({ direction: ops.length > 0 ? "CRM→PC" : "PC→CRM", outcome: "ok" }),
    ]);
    // The bridge's own write, coming back as a webhook, is a no-op.
    expect(echo(result, pc, crm).nothingToDo).toBe(true);
  });

  it("writes an audit line a seller can read", () => {
    const result = run(withDetails({ dealValue: 60000, notes: "x" }));
    expect(result.audit).toEqual([
      { at: "2026-11-25T10:15:00.000Z", direction: "PC→CRM", outcome: "ok", message: "Updated from Partner Center: Deal value, Description." },
    ]);
  });

  it("writes the name without ✔ when checkmarks are off", () => {
    const plain = defaultMapping({ [EnvironmentVariable.checkmark]: "no" });
    const base = merge(undefined, { referral: referral() }, recordSet(), plain, NOW).newBase;
    const result = run(referral({ name: "Renamed" }), recordSet(), base, plain);
    expect(result.toDataverse.record).toEqual({ name: "Renamed" });
  });

  it("puts field changes before a status change in one patch", () => {
    const crm = recordSet({ recordColumns: { estimatedvalue: 90000, statecode: 1, statuscode: 3 } });
    const result = run(referral(), crm);
    expect(result.toPartnerCenter).toEqual([
      { op: "replace", path: "/details/dealValue", value: 90000 },
      { op: "replace", path: "/status", value: "Closed" },
      { op: "replace", path: "/substatus", value: "Won" },
    ]);
    // …and shows the new status in Dynamics at once instead of waiting for the echo.
    expect(result.toDataverse.record).toEqual({ [OpportunityColumn.referralStatus]: "Closed", [OpportunityColumn.referralSubstatus]: "Won" });
    expect(echo(result, referral(), crm).nothingToDo).toBe(true);
  });

  it("closes the referral as lost with the opportunity's reason", () => {
    const result = run(referral(), recordSet({ recordColumns: { statecode: 2, statuscode: 4 } }));
    expect(result.toPartnerCenter).toEqual([
      { op: "replace", path: "/status", value: "Closed" },
      { op: "replace", path: "/substatus", value: "Lost" },
      { op: "add", path: "/statusReason", value: "Canceled" },
    ]);
  });
});

describe("direction and when", () => {
  it.each<[string, Referral, CrmRecordSet]>([
    ["a Dynamics edit of a Partner Center-only column", referral(), recordSet({ recordColumns: { [OpportunityColumn.referralStatus]: "Hacked" } })],
    ["a Partner Center edit of a Dynamics-only field", referral({ inviteContext: { assistanceRequestCode: "QuotesOrLicensing" } }), recordSet()],
    ["a create-only field (the customer's name)", referral({ customerProfile: { ...referral().customerProfile, name: "Contoso Group" } }), recordSet()],
    ["a create-only field (the owner)", referral(), recordSet({ owner: { systemuserid: "u2", internalemailaddress: "bob@fabrikam.com" } })],
  ])("does not sync %s", (_name, pc, crm) => {
    expect(run(pc, crm).nothingToDo).toBe(true);
  });

  it("puts a Partner Center-only value right on a first sync", () => {
    const result = run(referral(), recordSet({ recordColumns: { [OpportunityColumn.referralStatus]: null } }), null);
    expect(result.toDataverse.record).toEqual({ [OpportunityColumn.referralStatus]: "Active" });
  });
});

describe("conflicts: both sides changed the same field", () => {
  const pc = withDetails({ dealValue: 60000 }, { updatedDateTime: "2026-11-25T09:00:00Z" });
  const crmAt = (modifiedon: string | null) => recordSet({ recordColumns: { estimatedvalue: 70000, modifiedon } });
  const policy = (p: string) => defaultMapping({}, { opportunity: { fields: { dealValue: { conflict: { policy: p } } } } });

  it.each<[string, string, string | null, "partner-center" | "dynamics" | "none"]>([
    ["pc-wins", "pc-wins", "2026-11-25T10:00:00Z", "partner-center"],
    ["crm-wins", "crm-wins", "2026-11-25T08:00:00Z", "dynamics"],
    ["latest-wins, Dynamics later", "latest-wins", "2026-11-25T10:00:00Z", "dynamics"],
    ["latest-wins, Partner Center later", "latest-wins", "2026-11-25T08:00:00Z", "partner-center"],
    ["latest-wins, a tie goes to Partner Center", "latest-wins", "2026-11-25T09:00:00Z", "partner-center"],
    ["latest-wins without a timestamp keeps both", "latest-wins", null, "none"],
    ["manual", "manual", "2026-11-25T10:00:00Z", "none"],
  ])("%s", (_name, p, modifiedon, winner) => {
    const m = policy(p);
    const base = merge(undefined, { referral: referral() }, recordSet(), m, NOW).newBase;
    const crm = crmAt(modifiedon);
    const result = run(pc, crm, base, m);
    expect(result.conflicts).toEqual([
      {
        field: "opportunity.dealValue",
        label: "Deal value",
        base: 50000,
        partnerCenter: 60000,
        dynamics: 70000,
        policy: p,
        winner,
      },
    ]);
    const conflictLine = expect.objectContaining({
      outcome: "conflict",
      message: expect.stringMatching(/^Deal value was changed on both sides \(Partner Center 60000, Dynamics 365 70000\); /),
    });
    const written = { "partner-center": "Updated from Partner Center: Deal value.", dynamics: "Sent to Partner Center: Deal value.", none: undefined }[winner];
    expect(result.audit).toEqual(written ? expect.arrayContaining([conflictLine, expect.objectContaining({ outcome: "ok", message: written })]) : [conflictLine]);
    expect(result.audit).toHaveLength(written ? 2 : 1);
    if (winner === "partner-center") {
      expect(result.toDataverse.record).toEqual({ estimatedvalue: 60000 });
      expect(result.toPartnerCenter).toEqual([]);
    } else if (winner === "dynamics") {
      expect(result.toPartnerCenter).toEqual([{ op: "replace", path: "/details/dealValue", value: 70000 }]);
      expect(result.toDataverse).toEqual(NO_WRITES);
    } else {
      expect(result.toPartnerCenter).toEqual([]);
      expect(result.toDataverse).toEqual(NO_WRITES);
      expect(result.newBase[holdKey("opportunity.dealValue")]).toEqual({ pc: 60000, crm: 70000, reason: "conflict" });
      expect(result.newBase["opportunity.dealValue"]).toBe(50000);
    }
    // Either way, the next merge after the writes has nothing left to say.
    expect(echo(result, pc, crm, m).nothingToDo).toBe(true);
  });

  it("settles a kept conflict when someone changes one side again", () => {
    const m = policy("manual");
    const base = merge(undefined, { referral: referral() }, recordSet(), m, NOW).newBase;
    const first = run(pc, crmAt("2026-11-25T10:00:00Z"), base, m);
    // The seller decides: 65000 in Dynamics.
    const second = run(pc, recordSet({ recordColumns: { estimatedvalue: 65000 } }), first.newBase, m);
    expect(second.conflicts).toEqual([]);
    expect(second.toPartnerCenter).toEqual([{ op: "replace", path: "/details/dealValue", value: 65000 }]);
    expect(second.newBase[holdKey("opportunity.dealValue")]).toBeUndefined();
    // Or a Microsoft seller decides in Partner Center instead: 61000.
    const third = run(withDetails({ dealValue: 61000 }), crmAt("2026-11-25T10:00:00Z"), first.newBase, m);
    expect(third.toDataverse.record).toEqual({ estimatedvalue: 61000 });
  });

  it("treats differing sides without a base as a conflict settled by the policy", () => {
    const result = run(withDetails({ dealValue: 1 }), recordSet({ recordColumns: { estimatedvalue: 2, modifiedon: "2026-11-30T00:00:00Z" } }), null);
    expect(result.conflicts).toEqual([expect.objectContaining({ field: "opportunity.dealValue", base: undefined, winner: "dynamics" })]);
    expect(result.toPartnerCenter).toEqual([{ op: "replace", path: "/details/dealValue", value: 2 }]);
  });
});

describe("terminal referrals are read-only", () => {
  const won = referral({ status: "Closed", substatus: "Won" });
  const wonBase = merge(undefined, { referral: won }, recordSet({ recordColumns: { statecode: 1, [OpportunityColumn.referralStatus]: "Closed", [OpportunityColumn.referralSubstatus]: "Won" } }), mapping, NOW).newBase;
  const edited = recordSet({ recordColumns: { statecode: 1, description: "post-sale notes", estimatedvalue: 1, [OpportunityColumn.referralStatus]: "Closed", [OpportunityColumn.referralSubstatus]: "Won" } });

  it("sends nothing and says so once", () => {
    const result = run(won, edited, wonBase);
    expect(result.toPartnerCenter).toEqual([]);
    expect(result.partnerCenterSkipped).toEqual({
      reason: "read-only",
      fields: ["Deal value", "Description"],
      message: "The referral is Closed/Won in Partner Center and can no longer be changed; kept in Dynamics 365 only: Deal value, Description.",
    });
    expect(result.audit).toEqual([
      {
        at: NOW.toISOString(),
        direction: "CRM→PC",
        outcome: "skipped",
        message: "The referral is Closed/Won in Partner Center and can no longer be changed; kept in Dynamics 365 only: Deal value, Description.",
      },
    ]);
    // Never loops: the same state again is silent, and Partner Center's old values do not come back.
    const again = run(won, edited, result.newBase);
    expect(again.nothingToDo).toBe(true);
  });

  it("reports a later edit again", () => {
    const first = run(won, edited, wonBase);
    const later = recordSet({ recordColumns: { ...edited.record, description: "more notes" } });
    expect(run(won, later, first.newBase).audit).toEqual([expect.objectContaining({ outcome: "skipped", message: expect.stringMatching(/Description\.$/) })]);
  });

  it("still takes Partner Center's values into Dynamics", () => {
    const expired = referral({ status: "Closed", substatus: "Expired" });
    const result = run(expired, recordSet({ recordColumns: { estimatedvalue: 1 } }));
    expect(result.toDataverse.record).toEqual({ [OpportunityColumn.referralStatus]: "Closed", [OpportunityColumn.referralSubstatus]: "Expired" });
    expect(result.partnerCenterSkipped?.fields).toEqual(["Deal value"]);
  });

  it("does not close a referral twice when the opportunity is won again", () => {
    const result = run(won, recordSet({ recordColumns: { statecode: 1, [OpportunityColumn.referralStatus]: "Closed", [OpportunityColumn.referralSubstatus]: "Won" } }), wonBase);
    expect(result.nothingToDo).toBe(true);
  });
});

describe("the seller's accept / decline request", () => {
  const incoming = referral({ status: "New", substatus: "Pending", direction: "Incoming" });
  const incomingBase = merge(undefined, { referral: incoming }, recordSet({ recordColumns: { [OpportunityColumn.referralStatus]: "New", [OpportunityColumn.referralSubstatus]: "Pending" } }), mapping, NOW).newBase;
  const asking = (action: number, reason: string | null = null) =>
    recordSet({
      recordColumns: {
        [OpportunityColumn.referralAction]: action,
        [OpportunityColumn.declineReason]: reason,
        [OpportunityColumn.referralStatus]: "New",
        [OpportunityColumn.referralSubstatus]: "Pending",
      },
    });

  it.each<[string, number, string | null, MergeResult["toPartnerCenter"], string, string, string]>([
    ["accept", ReferralAction.Accept, null, [{ op: "replace", path: "/status", value: "Active" }, { op: "replace", path: "/substatus", value: "Accepted" }], "Active", "Accepted", "Referral accepted."],
    [
      "decline with a reason",
      ReferralAction.Decline,
      "No budget this year",
      [
        { op: "replace", path: "/status", value: "Closed" },
        { op: "replace", path: "/substatus", value: "Declined" },
        { op: "add", path: "/statusReason", value: "No budget this year" },
      ],
      "Closed",
      "Declined",
      "Referral declined (No budget this year).",
    ],
  ])("%s: carries out the transition and clears the request", (_name, action, reason, ops, status, substatus, message) => {
    const crm = asking(action, reason);
    const result = run(incoming, crm, incomingBase);
    expect(result.toPartnerCenter).toEqual(ops);
    expect(result.toDataverse.record).toEqual({
      [OpportunityColumn.referralAction]: null,
      [OpportunityColumn.referralStatus]: status,
      [OpportunityColumn.referralSubstatus]: substatus,
    });
    expect(result.audit).toEqual(expect.arrayContaining([expect.objectContaining({ direction: "CRM→PC", outcome: "ok", message })]));
    expect(echo(result, incoming, crm).nothingToDo).toBe(true);
  });

  it.each<[string, Referral, number, string]>([
    ["accepting an accepted referral", referral(), ReferralAction.Accept, "Referral accepted in Partner Center."],
    ["declining a declined referral (an earlier attempt did it)", referral({ status: "Closed", substatus: "Declined" }), ReferralAction.Decline, "Referral declined in Partner Center."],
  ])("%s: clears the request, sends nothing, and reports it done rather than refused", (_name, pc, action, message) => {
    const result = run(pc, recordSet({ recordColumns: { [OpportunityColumn.referralAction]: action } }));
    expect(result.toPartnerCenter).toEqual([]);
    expect(result.toDataverse.record[OpportunityColumn.referralAction]).toBeNull();
    expect(result.audit).toEqual(expect.arrayContaining([{ at: NOW.toISOString(), direction: "CRM→PC", outcome: "ok", message }]));
    expect(result.audit.filter((a) => a.outcome === "skipped" && /already/.test(a.message))).toEqual([]);
  });

  it.each<[string, Referral, number, RegExp]>([
    ["accepting an expired referral", referral({ status: "Closed", substatus: "Expired" }), ReferralAction.Accept, /Closed\/Expired in Partner Center and can no longer be changed, so it cannot be accepted/],
    ["an unknown action", referral(), 174209999, /Unknown referral action/],
  ])("%s: clears the request and says why nothing was sent", (_name, pc, action, message) => {
    const result = run(pc, recordSet({ recordColumns: { [OpportunityColumn.referralAction]: action } }));
    expect(result.toPartnerCenter).toEqual([]);
    expect(result.toDataverse.record[OpportunityColumn.referralAction]).toBeNull();
    expect(result.audit).toEqual(expect.arrayContaining([expect.objectContaining({ outcome: "skipped", message: expect.stringMatching(message) })]));
  });
});

describe("values one side cannot hold are held back, reported once", () => {
  it("does not turn sharing off once on", () => {
    const crm = recordSet({ recordColumns: { [OpportunityColumn.shareWithMicrosoft]: false } });
    const result = run(referral(), crm);
    expect(result.toPartnerCenter).toEqual([]);
    expect(result.audit).toEqual([expect.objectContaining({ outcome: "skipped", message: expect.stringMatching(/^Share with Microsoft sellers not sent: .*does not allow turning it off/) })]);
    expect(run(referral(), crm, result.newBase).nothingToDo).toBe(true);
  });

  it("does not send malformed solution ids", () => {
    const crm = recordSet({ recordColumns: { [OpportunityColumn.products]: "SOL-15974-MQF, azure" } });
    const result = run(referral(), crm);
    expect(result.toPartnerCenter).toEqual([]);
    expect(result.audit).toEqual([expect.objectContaining({ message: expect.stringMatching(/AZURE/) })]);
    // Fixed by the seller: sent.
    const fixed = run(referral(), recordSet({ recordColumns: { [OpportunityColumn.products]: "SOL-15974-MQF, SOL-3-C" } }), result.newBase);
    expect(fixed.toPartnerCenter).toHaveLength(1);
  });

  it("keeps an unknown Partner Center value out of a choice column", () => {
    const both = defaultMapping({}, { opportunity: { fields: { helpRequest: { direction: "both" } } } });
    const base = merge(undefined, { referral: referral() }, recordSet(), both, NOW).newBase;
    const pc = referral({ inviteContext: { assistanceRequestCode: "SomethingNew" } });
    const result = run(pc, recordSet(), base, both);
    expect(result.toDataverse).toEqual(NO_WRITES);
    expect(result.audit).toEqual([expect.objectContaining({ direction: "PC→CRM", outcome: "skipped", message: expect.stringMatching(/"SomethingNew" has no matching choice/) })]);
    expect(run(pc, recordSet(), result.newBase, both).nothingToDo).toBe(true);
    const known = run(referral({ inviteContext: { assistanceRequestCode: "GeneralOrOther" } }), recordSet(), result.newBase, both);
    expect(known.toDataverse.record).toEqual({ [OpportunityColumn.microsoftHelp]: HelpNeeded.GeneralOrOther });
  });

  it("syncs account fields only while the opportunity has an account", () => {
    const m = defaultMapping({}, { account: { fields: { city: { when: ["create", "update"] } } } });
    const base = merge(undefined, { referral: referral() }, recordSet(), m, NOW).newBase;
    const pc = referral({ customerProfile: { ...referral().customerProfile, address: { ...referral().customerProfile?.address, city: "Seattle" } } });
    expect(run(pc, recordSet(), base, m).toDataverse.account).toEqual({ address1_city: "Seattle" });
    // Without an account its fields are unknown, not empty: nothing flows either way.
    const orphan = run(pc, recordSet({ account: null }), base, m);
    expect(orphan.nothingToDo).toBe(true);
    expect(orphan.newBase["account.city"]).toBe("Redmond");
    const orphanCrmChange = run(referral(), recordSet({ account: null }), base, m);
    expect(orphanCrmChange.toPartnerCenter).toEqual([]);
  });
});

describe("Microsoft's side of the engagement", () => {
  const microsoft = referral({
    id: "ms-1",
    status: "Active",
    substatus: "Accepted",
    externalReferenceId: "MSX-7788",
    team: [{ firstName: "Mia", lastName: "Msft", email: "mia@microsoft.com" }],
    inviteContext: { notes: "Customer wants a PoC in Q1" },
    target: [{ type: "BusinessProfileLocation", id: "msft" }],
  });

  it("brings Microsoft's CRM id over and tells the seller what Microsoft did", () => {
    const result = run(referral(), recordSet(), BASE, mapping, microsoft);
    expect(result.toDataverse.record).toEqual({ [OpportunityColumn.microsoftCrmId]: "MSX-7788" });
    expect(result.audit.map((a) => a.message)).toEqual([
      "Updated from Partner Center: Microsoft CRM identifier.",
      "Microsoft accepted the co-sell request.",
      "Microsoft sellers on this deal: Mia Msft <mia@microsoft.com>.",
      "Microsoft's notes: Customer wants a PoC in Q1",
    ]);
    expect(echo(result, referral(), recordSet(), mapping, microsoft).nothingToDo).toBe(true);
  });

  it("reports a decline", () => {
    const first = run(referral(), recordSet(), BASE, mapping, microsoft);
    const declined = { ...microsoft, status: "Closed", substatus: "Declined" };
    expect(run(referral(), applyToRecordSet(recordSet(), first.toDataverse), first.newBase, mapping, declined).audit).toEqual([
      expect.objectContaining({ message: "Microsoft declined the co-sell request." }),
    ]);
  });
});

describe("leads", () => {
  const lead = referral({ type: "Independent", qualification: "Direct", status: "New", substatus: "Pending", inviteContext: { invitedBy: { organizationId: "msft" } } });
  const leadSet = (statecode: number, statuscode: number): CrmRecordSet => ({
    kind: "lead",
    record: {
      leadid: "lead-1",
      subject: lead.name,
      statecode,
      statuscode,
      estimatedamount: 50000,
      estimatedclosedate: "2026-12-31",
      description: "Move 200 VMs to Azure",
      [OpportunityColumn.referralId]: lead.id,
      [OpportunityColumn.referralStatus]: "New",
      [OpportunityColumn.referralSubstatus]: "Pending",
      [OpportunityColumn.referralLink]: `https://partner.microsoft.com/dashboard/referrals/v2/leads/${lead.id}`,
    },
    currency: { transactioncurrencyid: "cur-usd", isocurrencycode: "USD" },
  });
  const leadBase = merge(undefined, { referral: lead }, leadSet(0, 1), mapping, NOW).newBase;

  it("is in step after a first sync", () => {
    expect(Object.keys(leadBase).every((k) => k.startsWith("lead."))).toBe(true);
    expect(run(lead, leadSet(0, 1), leadBase).nothingToDo).toBe(true);
  });

  it.each<[string, number, number, MergeResult["toPartnerCenter"]]>([
    ["qualifying accepts the referral", 1, 3, [{ op: "replace", path: "/status", value: "Active" }, { op: "replace", path: "/substatus", value: "Accepted" }]],
    [
      "disqualifying declines it with the reason",
      2,
      6,
      [
        { op: "replace", path: "/status", value: "Closed" },
        { op: "replace", path: "/substatus", value: "Declined" },
        { op: "add", path: "/statusReason", value: "No longer interested" },
      ],
    ],
  ])("%s", (_name, statecode, statuscode, ops) => {
    const crm = leadSet(statecode, statuscode);
    const result = run(lead, crm, leadBase);
    expect(result.toPartnerCenter).toEqual(ops);
    expect(echo(result, lead, crm).nothingToDo).toBe(true);
  });

  it("takes Partner Center's changes but sends none of the lead's edits", () => {
    const crm = leadSet(0, 1);
    const edited: CrmRecordSet = { ...crm, record: { ...crm.record, estimatedamount: 1 } };
    expect(run(lead, edited, leadBase).nothingToDo).toBe(true);
    const result = run({ ...lead, details: { ...lead.details, dealValue: 99 } }, crm, leadBase);
    expect(result.toDataverse.record).toEqual({ estimatedamount: 99 });
  });
});

describe("asking Microsoft for help later", () => {
  it("also shares the referral with Microsoft sellers, on both sides", () => {
    const privateDeal = referral({ inviteContext: null, consent: { consentToShareReferralWithMicrosoftSellers: false } });
    const privateRecord = recordSet({
      recordColumns: { [OpportunityColumn.microsoftHelp]: HelpNeeded.NoHelpNeeded, [OpportunityColumn.shareWithMicrosoft]: false },
    });
    const base = merge(undefined, { referral: privateDeal }, privateRecord, mapping, NOW).newBase;
    const asking = recordSet({
      recordColumns: { [OpportunityColumn.microsoftHelp]: HelpNeeded.QuotesOrLicensing, [OpportunityColumn.shareWithMicrosoft]: false },
    });
    const result = run(privateDeal, asking, base);
    expect(result.toPartnerCenter).toEqual([
      { op: "replace", path: "/inviteContext", value: { assistanceRequestCode: "QuotesOrLicensing" } },
      { op: "replace", path: "/consent/consentToShareReferralWithMicrosoftSellers", value: true },
    ]);
    expect(result.toDataverse.record).toEqual({ [OpportunityColumn.shareWithMicrosoft]: true });
    expect(result.audit).toEqual([expect.objectContaining({ message: "Sent to Partner Center: How can Microsoft help?, Share with Microsoft sellers." })]);
    expect(echo(result, privateDeal, asking).nothingToDo).toBe(true);
  });
});
