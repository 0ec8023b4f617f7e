/**
 * What goes wrong between the two services, end to end, on SQLite and PostgreSQL: duplicate and
 * out-of-order webhooks, edits on both sides at once, the bridge's own echoes, 412 and 429 answers,
 * and webhooks that never arrive (reconcile).
 */
import { OpportunityColumn, parseAudit } from "@cosell/contract";
import { ConcurrencyError } from "@cosell/bridge/src/http/errors";
import { DATAVERSE_WEBHOOK_HEADER } from "@cosell/bridge/src/config";
import { coSellReferral, LEASE_MS, readyOpportunity, SOLUTION_ID, startE2E, waitFor, type E2E, type StoreKind } from "./harness";

const STORES: StoreKind[] = ["sqlite", "postgres"];

async function opportunityFor(e: E2E, referralId: string) {
  return waitFor(() => e.findOpportunityByReferral(referralId), `an opportunity for referral ${referralId}`);
}

async function referralOf(e: E2E, opportunityId: string): Promise<string> {
  return waitFor(async () => (await e.opportunity(opportunityId))[OpportunityColumn.referralId] as string | undefined, `referral id on ${opportunityId}`);
}

describe.each(STORES)("reliability end to end on %s", (store) => {
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E({ store });
  }, 90_000);
  afterAll(async () => {
    await e?.close();
  });
  afterEach(() => {
    e.sandbox.partnerCenter.faults.update({});
    e.sandbox.dataverse.faults.update({});
  });

  it("recognises a redelivered Partner Center webhook and a redelivered Dataverse webhook, and writes nothing for them", async () => {
    const referralId = await e.inboundReferral(coSellReferral());
    const opp = await opportunityFor(e, referralId);
    await e.settle();
    const pcDelivery = e.sandbox.partnerCenter.deliveries().find((d) => d.resourceId === referralId && d.status === "delivered");
    if (!pcDelivery) throw new Error("no delivered Partner Center webhook");
    await e.updateOpportunity(opp.opportunityid, { description: "to be redelivered" });
    await waitFor(() => e.referral(referralId).details.notes === "to be redelivered", "the edit in Partner Center");
    await e.settle();
    const dvDelivery = [...e.sandbox.dataverse.webhooks.deliveries].reverse().find((d) => d.primaryEntityId === opp.opportunityid && d.message === "Update");
    if (!dvDelivery) throw new Error("no Dataverse webhook");
    const pcBefore = e.bridgePartnerCenterWrites();
    const dvBefore = e.bridgeDataverseWrites();

    const again = await fetch(`${e.bridge.url}/webhooks/partner-center`, { method: "POST", headers: pcDelivery.headers, body: pcDelivery.body });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: "duplicate" });
    const dvAgain = await fetch(`${e.bridge.url}/webhooks/dataverse`, {
      method: "POST",
      headers: { "content-type": "application/json", [DATAVERSE_WEBHOOK_HEADER]: e.config.dataverse.webhookKey },
      body: JSON.stringify(dvDelivery.body),
    });
    expect(dvAgain.status).toBe(200);
    expect(await dvAgain.json()).toEqual({ status: "duplicate" });
    await e.settle();
    expect(e.bridgePartnerCenterWrites()).toBe(pcBefore);
    expect(e.bridgeDataverseWrites()).toBe(dvBefore);
  });

  it("ends with the latest value when webhooks arrive late and out of order", async () => {
    const referralId = await e.inboundReferral(coSellReferral());
    const opp = await opportunityFor(e, referralId);
    await e.settle();
    e.sandbox.partnerCenter.faults.update({ webhookDelayRate: 1, webhookDelayMaxMs: 1_500, seed: 7 });
    for (const value of [1001, 1002, 1003, 1004, 1005]) await e.microsoftPatch(referralId, [{ op: "replace", path: "/details/dealValue", value }]);
    await e.settle();
    expect((await e.opportunity(opp.opportunityid)).estimatedvalue).toBe(1005);
  });

  it("keeps edits made on both sides at once: different fields both arrive, the same field is settled by its policy and audited", async () => {
    const referralId = await e.inboundReferral(coSellReferral());
    const opp = await opportunityFor(e, referralId);
    await e.settle();
    await e.bridge.runtime.worker.stop();
    try {
      await e.microsoftPatch(referralId, [
        { op: "replace", path: "/details/notes", value: "Notes from Microsoft" },
        { op: "replace", path: "/details/dealValue", value: 111 },
      ]);
      await e.updateOpportunity(opp.opportunityid, { estimatedclosedate: "2027-09-30", estimatedvalue: 222 });
    } finally {
      e.bridge.runtime.worker.start();
    }
    await e.settle();
    const after = await e.opportunity(opp.opportunityid);
    const r = e.referral(referralId);
    expect(after.description).toBe("Notes from Microsoft");
    expect(r.details.closingDateTime).toMatch(/^2027-09-30/);
    expect(after.estimatedvalue).toBe(r.details.dealValue);
    expect([111, 222]).toContain(after.estimatedvalue);
    const conflicts = parseAudit(after[OpportunityColumn.audit] as string).filter((a) => a.outcome === "conflict");
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]?.message).toMatch(/Deal value was changed on both sides/);
  });

  it("writes once per change and nothing for the bridge's own echoes", async () => {
    const { opportunityId } = await readyOpportunity(e);
    const referralId = await referralOf(e, opportunityId);
    await e.settle();
    const pcBefore = e.bridgePartnerCenterWrites();
    const dvBefore = e.bridgeDataverseWrites();
    const jobsBefore = e.results.length;
    await e.updateOpportunity(opportunityId, { description: "one change" });
    await waitFor(() => e.referral(referralId).details.notes === "one change", "the change in Partner Center");
    await e.settle();
    expect(e.bridgePartnerCenterWrites() - pcBefore).toBe(1);
    expect(e.bridgeDataverseWrites() - dvBefore).toBe(1);
    // The Partner Center webhook for the bridge's own PATCH did arrive and was synced: as a no-op.
    const later = e.results.slice(jobsBefore);
    expect(later.length).toBeGreaterThanOrEqual(2);
    const noOps = later.filter((r) => r.outcome.kind === "done" && r.outcome.outcome.kind === "done" && r.outcome.outcome.wrote.partnerCenter + r.outcome.outcome.wrote.dataverse === 0);
    expect(noOps.length).toBeGreaterThanOrEqual(1);
  });

  it("reads again and merges again after a 412 from Partner Center", async () => {
    const { opportunityId } = await readyOpportunity(e);
    const referralId = await referralOf(e, opportunityId);
    await e.settle();
    const pc = e.bridge.runtime.partnerCenter;
    const original = pc.patch.bind(pc);
    let calls = 0;
    const refused: unknown[] = [];
    pc.patch = async (referral, ops, correlationId) => {
      calls++;
      // Microsoft edits the referral between the bridge's read and its write.
      if (calls === 1) await e.microsoftPatch(referral.id, [{ op: "replace", path: "/details/notes", value: "Microsoft was first" }]);
      try {
        return await original(referral, ops, correlationId);
      } catch (err) {
        refused.push(err);
        throw err;
      }
    };
    try {
      await e.updateOpportunity(opportunityId, { estimatedvalue: 31337 });
      await waitFor(() => e.referral(referralId).details.dealValue === 31337, "the deal value in Partner Center");
      await e.settle();
    } finally {
      pc.patch = original;
    }
    expect(refused.some((err) => err instanceof ConcurrencyError)).toBe(true);
    expect(e.referral(referralId).details.notes).toBe("Microsoft was first");
    expect((await e.opportunity(opportunityId)).description).toBe("Microsoft was first");
  });

  it("reads again and merges again after a 412 from Dataverse, without losing either edit", async () => {
    const referralId = await e.inboundReferral(coSellReferral());
    const opp = await opportunityFor(e, referralId);
    await e.settle();
    const crm = e.bridge.runtime.crm;
    const original = crm.update.bind(crm);
    let calls = 0;
    const refused: unknown[] = [];
    crm.update = async (kind, id, body, ifMatch) => {
      calls++;
      // The seller saves between the bridge's read and its write.
      if (calls === 1) await e.updateOpportunity(opp.opportunityid, { estimatedclosedate: "2027-11-30" });
      try {
        return await original(kind, id, body, ifMatch);
      } catch (err) {
        refused.push(err);
        throw err;
      }
    };
    try {
      await e.microsoftPatch(referralId, [{ op: "replace", path: "/details/notes", value: "Notes during a seller save" }]);
      await waitFor(async () => (await e.opportunity(opp.opportunityid)).description === "Notes during a seller save", "the notes in Dynamics 365");
      await e.settle();
    } finally {
      crm.update = original;
    }
    expect(refused.some((err) => err instanceof ConcurrencyError)).toBe(true);
    expect(e.referral(referralId).details.closingDateTime).toMatch(/^2027-11-30/);
    expect((await e.opportunity(opp.opportunityid)).estimatedclosedate).toBe("2027-11-30");
  });

  it("after Partner Center was written and Dataverse answered 412, keeps both edits and the audit of what was sent", async () => {
    const { opportunityId } = await readyOpportunity(e);
    const referralId = await referralOf(e, opportunityId);
    await e.settle();
    const crm = e.bridge.runtime.crm;
    const original = crm.update.bind(crm);
    let calls = 0;
    crm.update = async (kind, id, body, ifMatch) => {
      calls++;
      if (calls === 1) await e.updateOpportunity(opportunityId, { description: "Seller typed this meanwhile" });
      return original(kind, id, body, ifMatch);
    };
    try {
      await e.updateOpportunity(opportunityId, { estimatedvalue: 8412 });
      await waitFor(() => e.referral(referralId).details.notes === "Seller typed this meanwhile", "both edits in Partner Center");
      await e.settle();
    } finally {
      crm.update = original;
    }
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(e.referral(referralId).details.dealValue).toBe(8412);
    const audit = parseAudit((await e.opportunity(opportunityId))[OpportunityColumn.audit] as string).map((a) => a.message);
    expect(audit.some((m) => /Sent to Partner Center: .*Deal value/.test(m))).toBe(true);
    expect(audit.some((m) => /Sent to Partner Center: .*Description/.test(m))).toBe(true);
  });

  it("recovers a link that moved to the qualified opportunity but kept its lead's base (a crash between the two saves)", async () => {
    const referralId = await e.inboundReferral(coSellReferral({ type: "Independent", qualification: "Direct" }));
    const lead = await waitFor(() => e.findLeadByReferral(referralId), "a lead");
    await e.settle();
    // The bridge "crashes" right after moving the link, before saving the opportunity's base.
    const store = e.bridge.runtime.store;
    const saveLink = store.saveLink.bind(store);
    let crashed = false;
    store.saveLink = async (input) => {
      if (!crashed && input.entity === "opportunity" && input.key.startsWith("lead:")) {
        crashed = true;
        throw new Error("simulated crash between moving the link and saving its base");
      }
      return saveLink(input);
    };
    let opportunityId: string;
    try {
      opportunityId = await e.qualifyLead(lead.leadid as string);
      await waitFor(() => crashed, "the simulated crash");
      await e.bridge.runtime.worker.stop();
    } finally {
      store.saveLink = saveLink;
    }
    try {
      // Before the retry, the seller edits the new opportunity in a later second than Partner Center's
      // last change: Dynamics is the latest side, yet its empty solutions must not wipe the referral's.
      const pcChanged = Date.parse(e.referral(referralId).updatedDateTime ?? "");
      await waitFor(() => Math.floor(Date.now() / 1000) > Math.floor(pcChanged / 1000), "the next second");
      await e.updateOpportunity(opportunityId, { estimatedclosedate: "2028-03-31" });
    } finally {
      e.bridge.runtime.worker.start();
    }
    await waitFor(async () => (await e.opportunity(opportunityId))[OpportunityColumn.referralId] === referralId, "the opportunity linked after the retry");
    await e.settle();
    expect(e.referral(referralId).details.requirements.solutions.map((x) => x.id)).toEqual([SOLUTION_ID]);
    expect((await e.opportunity(opportunityId))[OpportunityColumn.products]).toBe(SOLUTION_ID);
    expect(e.referral(referralId).details.closingDateTime).toMatch(/^2028-03-31/);
  });

  it("waits out a 429 for its Retry-After, and a 5xx with backoff, then syncs", async () => {
    const { opportunityId } = await readyOpportunity(e);
    const referralId = await referralOf(e, opportunityId);
    await e.settle();
    const jobsBefore = e.results.length;
    e.sandbox.partnerCenter.faults.update({ throttleRate: 1, retryAfterSeconds: 2 });
    await e.updateOpportunity(opportunityId, { estimatedvalue: 4290 });
    const throttled = await waitFor(
      () => e.results.slice(jobsBefore).find((r) => r.outcome.kind === "retry" && /ThrottledError/.test(r.outcome.error)),
      "a throttled sync",
    );
    if (throttled.outcome.kind !== "retry") throw new Error("unreachable");
    const claimedAt = (throttled.job.lockedUntil?.getTime() ?? 0) - LEASE_MS;
    expect(throttled.outcome.runAt.getTime() - claimedAt).toBeGreaterThanOrEqual(2_000);
    expect(throttled.outcome.dead).toBe(false);
    e.sandbox.partnerCenter.faults.update({ errorRate: 1 });
    await waitFor(() => e.results.slice(jobsBefore).some((r) => r.outcome.kind === "retry" && /TransientError/.test(r.outcome.error)), "a sync failing with 5xx");
    e.sandbox.partnerCenter.faults.update({});
    await waitFor(() => e.referral(referralId).details.dealValue === 4290, "the deal value after the faults", 60_000);
  });

  it("waits out Dataverse service protection (429 with Retry-After)", async () => {
    const referralId = await e.inboundReferral(coSellReferral());
    const opp = await opportunityFor(e, referralId);
    await e.settle();
    const jobsBefore = e.results.length;
    e.sandbox.dataverse.faults.update({ throttleRate: 1, retryAfterSeconds: 1 });
    await e.microsoftPatch(referralId, [{ op: "replace", path: "/details/dealValue", value: 5290 }]);
    await waitFor(() => e.results.slice(jobsBefore).some((r) => r.outcome.kind === "retry" && /ThrottledError/.test(r.outcome.error)), "a throttled sync");
    e.sandbox.dataverse.faults.update({});
    await waitFor(async () => (await e.opportunity(opp.opportunityid)).estimatedvalue === 5290, "the deal value after the throttling", 60_000);
  });

  it("finds what a lost webhook would have announced when reconcile runs, on both sides", async () => {
    const referralId = await e.inboundReferral(coSellReferral());
    const opp = await opportunityFor(e, referralId);
    await e.settle();
    e.sandbox.partnerCenter.faults.update({ webhookDropRate: 1 });
    e.sandbox.dataverse.faults.update({ webhookDropRate: 1 });
    await e.microsoftPatch(referralId, [{ op: "replace", path: "/details/notes", value: "Missed by the webhook" }]);
    await e.updateOpportunity(opp.opportunityid, { estimatedclosedate: "2028-01-31" });
    await e.settle();
    expect((await e.opportunity(opp.opportunityid)).description).not.toBe("Missed by the webhook");
    expect(e.referral(referralId).details.closingDateTime).not.toMatch(/^2028-01-31/);
    e.sandbox.partnerCenter.faults.update({});
    e.sandbox.dataverse.faults.update({});
    const res = await e.admin<{ status: string; enqueued: number }>("POST", "/admin/reconcile");
    expect(res.status).toBe(200);
    expect(res.body.enqueued).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await e.opportunity(opp.opportunityid)).description === "Missed by the webhook", "the missed Partner Center change");
    await waitFor(() => /^2028-01-31/.test(e.referral(referralId).details.closingDateTime ?? ""), "the missed Dynamics 365 change");
    await e.settle();

    // Again, now that both cursors are set: the sweeps read from them (minus the overlap).
    e.sandbox.partnerCenter.faults.update({ webhookDropRate: 1 });
    e.sandbox.dataverse.faults.update({ webhookDropRate: 1 });
    await e.microsoftPatch(referralId, [{ op: "replace", path: "/details/notes", value: "Missed again" }]);
    await e.updateOpportunity(opp.opportunityid, { estimatedclosedate: "2028-02-29" });
    await e.settle();
    e.sandbox.partnerCenter.faults.update({});
    e.sandbox.dataverse.faults.update({});
    const second = await e.admin<{ status: string; enqueued: number; partnerCenter: { filterSupported: boolean } }>("POST", "/admin/reconcile");
    expect(second.body.partnerCenter.filterSupported).toBe(true);
    await waitFor(async () => (await e.opportunity(opp.opportunityid)).description === "Missed again", "the second missed Partner Center change");
    await waitFor(() => /^2028-02-29/.test(e.referral(referralId).details.closingDateTime ?? ""), "the second missed Dynamics 365 change");
    // A sweep right after finds nothing to change: whatever it re-checks (changes within the clock-skew
    // margin of their last sync) syncs as a no-op, writing nothing on either side.
    await e.settle();
    const pcBefore = e.bridgePartnerCenterWrites();
    const dvBefore = e.bridgeDataverseWrites();
    await e.admin("POST", "/admin/reconcile");
    await e.settle();
    expect(e.bridgePartnerCenterWrites()).toBe(pcBefore);
    expect(e.bridgeDataverseWrites()).toBe(dvBefore);
  });
});
