/**
 * A Partner Center write in flight when the bridge stops: the base saved before the PATCH says, per
 * field, what Partner Center showed before it and will show after; the next sync reads Partner
 * Center and settles each field (tests/reliability/regressions.test.ts runs the crash itself).
 */
import { baseForFoundRecord, copiedByCreate, PENDING_KEY, pendingWrites, settlePending } from "../src/engine/sync-engine";
import { loadMapping } from "../src/mapping";

describe("writes in flight", () => {
  it("keeps only the fields a write changes to the value the other side holds", () => {
    const pc = { notes: "old", value: 5, name: "Deal", status: "New", date: "2027-01-01" };
    const crm = { notes: "new", value: 5, name: "Deal", status: "New", date: "2027-03-03" };
    const pcAfter = { notes: "new", value: 5, name: "Deal", status: "Active", date: "2027-01-01" };
    const target = { notes: "new", value: 5, name: "Deal", status: "New", date: "2027-01-01" };
    expect(pendingWrites(pc, crm, pcAfter, target)).toEqual({
      notes: { side: "pc", before: "old", after: "new" }, // the seller's notes to Partner Center
      date: { side: "crm", before: "2027-03-03", after: "2027-01-01" }, // Microsoft's date to Dynamics 365
      // status: the PATCH moves it (an accept) but Dynamics 365 is still to be told: not agreed, left out
    });
    expect(pendingWrites({ a: [1] }, { a: [1] }, { a: [1] }, { a: [1] })).toEqual({});
  });

  const base = { notes: "old", value: 5, "notes#held": { pc: "x", crm: "y", reason: "conflict" }, [PENDING_KEY]: { notes: { before: "old", after: "seller" } } };

  it("the write landed and nobody changed it since: our value is the base", () => {
    expect(settlePending(base, { notes: "seller", value: 5 }, {})).toEqual({ notes: "seller", value: 5 });
  });

  it("the write landed and Microsoft changed the field since: our value is the base, so Microsoft's edit is the news", () => {
    expect(settlePending(base, { notes: "Microsoft's reply", value: 5 }, {})).toEqual({ notes: "seller", value: 5 });
  });

  it("the write did not land (Partner Center still shows the value from before it): the base stays as it was", () => {
    expect(settlePending(base, { notes: "old", value: 5 }, {})).toEqual({ notes: "old", value: 5, "notes#held": { pc: "x", crm: "y", reason: "conflict" } });
  });

  it("a Dynamics 365 write is settled from Dynamics 365: landed (then edited by the seller) or not", () => {
    const crmBase = { date: "2027-01-01", [PENDING_KEY]: { date: { side: "crm", before: "2027-01-01", after: "2027-11-01" } } };
    expect(settlePending(crmBase, { date: "2027-11-01" }, { date: "2027-07-24" })).toEqual({ date: "2027-11-01" });
    expect(settlePending(crmBase, { date: "2027-11-01" }, { date: "2027-01-01" })).toEqual({ date: "2027-01-01" });
  });

  it("ignores a malformed pending entry and always drops the marker", () => {
    expect(settlePending({ a: 1, [PENDING_KEY]: "nonsense" }, { a: 2 }, {})).toEqual({ a: 1 });
    expect(settlePending({ a: 1, [PENDING_KEY]: { a: { after: 3 } } }, { a: 2 }, {})).toEqual({ a: 1 });
  });
});

describe("a record found where the bridge meant to create it (a crash kept its link from being saved)", () => {
  const mapping = loadMapping(undefined, {});
  const plan = { name: "Deal", estimatedvalue: 42_000 };
  const pcAtCreate = { "opportunity.name": "Deal", "opportunity.dealValue": 42_000, "opportunity.notes": "from Microsoft" };
  const crm = { "opportunity.name": "Deal", "opportunity.dealValue": 777_000, "opportunity.notes": null, "opportunity.closeDate": "2027-01-31" };

  it("keeps what the create copied from Partner Center (only the fields the plan carries)", () => {
    expect(copiedByCreate(mapping, "opportunity", plan, pcAtCreate)).toEqual({ "opportunity.name": "Deal", "opportunity.dealValue": 42_000 });
  });

  it("the copied values are the base, so a seller's edit since is an edit; empty fields get an empty base; the rest is settled by policy", () => {
    const base = baseForFoundRecord(copiedByCreate(mapping, "opportunity", plan, pcAtCreate), crm);
    expect(base).toEqual({ "opportunity.name": "Deal", "opportunity.dealValue": 42_000, "opportunity.notes": null });
  });

  it("without what the create copied (kept by an older version), only the empty fields", () => {
    expect(baseForFoundRecord(undefined, crm)).toEqual({ "opportunity.notes": null });
  });
});
