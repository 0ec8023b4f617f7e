import { OpportunityColumn, parseAudit, SyncState } from "@cosell/contract";
import { checkmarkedName, pickMicrosoftReferral, syncBookkeeping } from "../src/sync";
import { NOW, recordSet, referral } from "./sync-fixtures";

const on = { checkmark: true };
const off = { checkmark: false };

describe("the ✔/✖ name suffix (cosell_Checkmark)", () => {
  it.each<[string, string, number, { checkmark: boolean }, string | undefined]>([
    ["synced gets ✔", "Deal", SyncState.Synced, on, "Deal ✔"],
    ["failed gets ✖", "Deal ✔", SyncState.Error, on, "Deal ✖"],
    ["already right: nothing to write", "Deal ✔", SyncState.Synced, on, undefined],
    ["pending shows no mark", "Deal ✖", SyncState.Pending, on, "Deal"],
    ["checkmarks off removes the mark", "Deal ✔", SyncState.Synced, off, "Deal"],
    ["checkmarks off, no mark: nothing to write", "Deal", SyncState.Error, off, undefined],
    ["an empty name is left alone", " ✔", SyncState.Synced, on, undefined],
  ])("%s", (_name, name, state, settings, expected) => {
    expect(checkmarkedName({ kind: "opportunity", record: { name } }, state as never, settings)).toBe(expected);
  });

  it("leaves leads alone", () => {
    expect(checkmarkedName({ kind: "lead", record: { name: "Deal" } }, SyncState.Synced, on)).toBeUndefined();
  });
});

describe("sync bookkeeping columns", () => {
  const audit = [{ at: NOW.toISOString(), direction: "PC→CRM" as const, outcome: "ok" as const, message: "Updated from Partner Center: Deal value." }];

  it("records a success: state, time, audit line, mark, and clears an old error", () => {
    const crm = recordSet({ recordColumns: { name: "Deal ✖", [OpportunityColumn.syncError]: "Old problem", [OpportunityColumn.audit]: "" } });
    const values = syncBookkeeping(crm, { state: SyncState.Synced, audit, now: NOW }, on);
    expect(values).toEqual({
      [OpportunityColumn.syncState]: SyncState.Synced,
      [OpportunityColumn.lastSyncedOn]: NOW.toISOString(),
      [OpportunityColumn.syncError]: null,
      [OpportunityColumn.audit]: `${NOW.toISOString()}\tPC→CRM\tok\tUpdated from Partner Center: Deal value.`,
      name: "Deal ✔",
    });
  });

  it("records a failure with the seller's message, keeps the last success time, appends to the audit", () => {
    const existing = "2026-11-01T00:00:00.000Z\tCRM→PC\tok\tSent to Partner Center: Topic.";
    const crm = recordSet({ recordColumns: { name: "Deal ✔", [OpportunityColumn.audit]: existing } });
    const failure = [{ ...audit[0]!, outcome: "error" as const, message: "Add a country code." }];
    const values = syncBookkeeping(crm, { state: SyncState.Error, error: "Add a country code.", audit: failure, now: NOW }, on);
    expect(values[OpportunityColumn.lastSyncedOn]).toBeUndefined();
    expect(values[OpportunityColumn.syncError]).toBe("Add a country code.");
    expect(values.name).toBe("Deal ✖");
    expect(parseAudit(values[OpportunityColumn.audit] as string).map((e) => e.outcome)).toEqual(["ok", "error"]);
  });

  it("writes nothing it does not need to", () => {
    const crm = recordSet({ recordColumns: { name: "Deal ✔", [OpportunityColumn.syncError]: null } });
    expect(syncBookkeeping(crm, { state: SyncState.Synced, audit: [], now: NOW }, on)).toEqual({
      [OpportunityColumn.syncState]: SyncState.Synced,
      [OpportunityColumn.lastSyncedOn]: NOW.toISOString(),
    });
  });

  it("cuts a long error to the column's 2000 characters", () => {
    const values = syncBookkeeping(recordSet(), { state: SyncState.Error, error: "x".repeat(5000), audit: [], now: NOW }, off);
    expect((values[OpportunityColumn.syncError] as string).length).toBe(2000);
  });
});

describe("Microsoft's referral on the engagement", () => {
  const own = referral();
  it.each([
    ["the one targeting msft", [own, referral({ id: "p2", target: [] }), referral({ id: "ms", target: [{ type: "BusinessProfileLocation", id: "msft" }] })], "ms"],
    ["the one owned by msft", [referral({ id: "p2" }), referral({ id: "ms", organizationId: "MSFT", target: [] })], "ms"],
    ["the only other one", [own, referral({ id: "other", target: [] })], "other"],
    ["none when several are unmarked", [referral({ id: "a", target: [] }), referral({ id: "b", target: [] })], undefined],
    ["never our own", [own], undefined],
    ["never another engagement's", [referral({ id: "ms", engagementId: "elsewhere", target: [{ type: "BusinessProfileLocation", id: "msft" }] })], undefined],
  ])("picks %s", (_name, related, id) => {
    expect(pickMicrosoftReferral(own, related)?.id).toBe(id);
  });
});
