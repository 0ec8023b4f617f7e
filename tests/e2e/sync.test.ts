/**
 * The bridge end to end: real emulators, real HTTP, the real store — on SQLite and on PostgreSQL.
 * Each scenario acts as the people involved (a seller in Dynamics 365, Microsoft in Partner
 * Center) and waits for the other side to show the result. The scenarios follow issue 3's list.
 */
import { EnvironmentVariable, OpportunityColumn, ReferralAction, SyncState, parseAudit } from "@cosell/contract";
import { coSellReferral, readyOpportunity, SOLUTION_ID, startE2E, waitFor, type E2E, type StoreKind } from "./harness";

const STORES: StoreKind[] = ["sqlite", "postgres"];

async function opportunityFor(e: E2E, referralId: string) {
  return waitFor(() => e.findOpportunityByReferral(referralId), `an opportunity for referral ${referralId}`);
}

async function referralOf(e: E2E, opportunityId: string): Promise<string> {
  return waitFor(async () => (await e.opportunity(opportunityId))[OpportunityColumn.referralId] as string | undefined, `referral id on ${opportunityId}`);
}

function auditMessages(row: Record<string, unknown>): string[] {
  return parseAudit(row[OpportunityColumn.audit] as string | null).map((a) => `${a.direction} ${a.outcome} ${a.message}`);
}

describe.each(STORES)("bridge end to end on %s", (store) => {
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E({ store });
  }, 90_000);
  afterAll(async () => {
    await e?.close();
  });
  afterEach(async () => {
    // A failing scenario must not leave faults or settings behind for the next one.
    e.sandbox.partnerCenter.faults.update({});
    e.sandbox.dataverse.faults.update({});
  });

  describe("Dynamics 365 → Partner Center", () => {
    it("creates a co-sell referral from an opportunity and writes back id, engagement, link, status, sync state, audit, ✔", async () => {
      const { opportunityId } = await readyOpportunity(e, { name: "Contoso migration" });
      const referralId = await referralOf(e, opportunityId);
      const referral = e.referral(referralId);
      expect(referral).toMatchObject({
        name: "Contoso migration",
        externalReferenceId: opportunityId,
        type: "Shared",
        consent: expect.objectContaining({ consentToShareReferralWithMicrosoftSellers: true }),
        inviteContext: expect.objectContaining({ assistanceRequestCode: "CustomerTechnicalArchitecture" }),
        details: expect.objectContaining({ dealValue: 25000, currency: "USD", closingDateTime: expect.stringMatching(/^2027-01-31/) }),
      });
      expect(referral.details.requirements.solutions.map((s) => s.id)).toEqual([SOLUTION_ID]);
      expect(referral.customerProfile.address.country).toBe("US");
      const opp = await waitFor(async () => {
        const o = await e.opportunity(opportunityId);
        return o[OpportunityColumn.syncState] === SyncState.Synced ? o : undefined;
      }, "sync state Synced");
      expect(opp).toMatchObject({
        name: "Contoso migration ✔",
        [OpportunityColumn.engagementId]: referral.engagementId,
        [OpportunityColumn.referralStatus]: referral.status,
        [OpportunityColumn.referralSubstatus]: referral.substatus,
        [OpportunityColumn.referralLink]: expect.stringContaining(referralId),
        [OpportunityColumn.syncError]: null,
      });
      expect(opp[OpportunityColumn.lastSyncedOn]).toEqual(expect.any(String));
      expect(auditMessages(opp)).toContain(`CRM→PC ok Shared with Partner Center as referral ${referralId}.`);
      await e.settle();
      expect(e.referralsFor(opportunityId)).toHaveLength(1);
    });

    it("sends later edits of the opportunity to Partner Center (name, deal value, close date, notes, solutions)", async () => {
      const { opportunityId } = await readyOpportunity(e);
      const referralId = await referralOf(e, opportunityId);
      await e.settle();
      await e.updateOpportunity(opportunityId, {
        name: "Renamed deal",
        estimatedvalue: 99000,
        estimatedclosedate: "2027-06-30",
        description: "Scope grew",
        [OpportunityColumn.products]: `${SOLUTION_ID}, SOL-34104-EBB`,
      });
      const r = await waitFor(() => {
        const x = e.referral(referralId);
        return x.details.dealValue === 99000 && x.name === "Renamed deal" ? x : undefined;
      }, "the referral to show the edits");
      expect(r.details.notes).toBe("Scope grew");
      expect(r.details.closingDateTime).toMatch(/^2027-06-30/);
      expect(r.details.requirements.solutions.map((s) => s.id).sort()).toEqual([SOLUTION_ID, "SOL-34104-EBB"]);
      const opp = await waitFor(async () => {
        const o = await e.opportunity(opportunityId);
        return auditMessages(o).some((m) => m.startsWith("CRM→PC ok Sent to Partner Center")) ? o : undefined;
      }, "audit of the sent edit");
      expect(opp.name).toBe("Renamed deal ✔");
    });

    it("refuses to send an opportunity Partner Center would reject: sync state Error, a message the seller can act on, nothing sent", async () => {
      const accountId = await e.createAccount("No Country Ltd", null);
      const opportunityId = await e.createOpportunity({
        name: "Incomplete deal",
        estimatedvalue: 1000,
        estimatedclosedate: "2027-01-01",
        "customerid_account@odata.bind": `/accounts(${accountId})`,
        [OpportunityColumn.syncWithPartnerCenter]: true,
      });
      const opp = await waitFor(async () => {
        const o = await e.opportunity(opportunityId);
        return o[OpportunityColumn.syncState] === SyncState.Error ? o : undefined;
      }, "sync state Error");
      expect(opp[OpportunityColumn.syncError]).toMatch(/solution ID/);
      expect(opp[OpportunityColumn.syncError]).toMatch(/two-letter country code/);
      expect(opp.name).toBe("Incomplete deal ✖");
      expect(opp[OpportunityColumn.referralId]).toBeNull();
      await e.settle();
      expect(e.referralsFor(opportunityId)).toHaveLength(0);

      // The seller fixes it: the next save shares it.
      await e.updateOpportunity(opportunityId, { [OpportunityColumn.products]: SOLUTION_ID });
      await e.sandbox.dataverseApi("PATCH", `/accounts(${accountId})`, { address1_country: "GB" }, { headers: { "if-match": "*" } });
      await e.updateOpportunity(opportunityId, { description: "fixed" });
      await referralOf(e, opportunityId);
      const fixed = await waitFor(async () => {
        const o = await e.opportunity(opportunityId);
        return o[OpportunityColumn.syncState] === SyncState.Synced ? o : undefined;
      }, "synced after the fix");
      expect(fixed[OpportunityColumn.syncError]).toBeNull();
      expect(fixed.name).toBe("Incomplete deal ✔");
    });

    it("closes the referral as Won or Lost when the opportunity is won or lost", async () => {
      const won = await readyOpportunity(e);
      const lost = await readyOpportunity(e);
      const wonReferral = await referralOf(e, won.opportunityId);
      const lostReferral = await referralOf(e, lost.opportunityId);
      await e.settle();
      await e.winOpportunity(won.opportunityId);
      await e.loseOpportunity(lost.opportunityId);
      await waitFor(() => e.referral(wonReferral).substatus === "Won", "referral Won");
      await waitFor(() => e.referral(lostReferral).substatus === "Lost", "referral Lost");
      expect(e.referral(wonReferral).status).toBe("Closed");
      expect(e.referral(lostReferral).statusReason).toBe("Canceled");
      await waitFor(async () => (await e.opportunity(won.opportunityId))[OpportunityColumn.referralSubstatus] === "Won", "Won shown on the opportunity");
    });
  });

  describe("Partner Center → Dynamics 365", () => {
    it("creates one opportunity per co-sell referral, with its account (matched by name + postal code), contact, value, currency, close date, notes, status", async () => {
      const existingAccount = await e.createAccount("Matched Customer Ltd", "US", "10001");
      const referralId = await e.inboundReferral(
        coSellReferral({
          name: "Inbound co-sell",
          customerProfile: {
            name: "Matched Customer Ltd",
            address: { addressLine1: "1 Broadway", city: "New York", state: "NY", postalCode: "10001", country: "US" },
            team: [{ firstName: "Nia", lastName: "Cole", email: "nia.cole@matched.example", phoneNumber: "2125550100" }],
          },
          details: { notes: "From Microsoft", dealValue: 64000, currency: "EUR", closingDateTime: "2027-02-28T00:00:00Z" },
        }),
      );
      const opp = await opportunityFor(e, referralId);
      expect(opp).toMatchObject({
        name: "Inbound co-sell ✔",
        estimatedvalue: 64000,
        estimatedclosedate: "2027-02-28",
        description: "From Microsoft",
        _customerid_value: existingAccount,
        [OpportunityColumn.syncWithPartnerCenter]: true,
        [OpportunityColumn.referralStatus]: "New",
        [OpportunityColumn.referralSubstatus]: "Pending",
        [OpportunityColumn.syncState]: SyncState.Synced,
      });
      expect(opp._transactioncurrencyid_value).toBe(e.sandbox.dataverse.seededIds.eurCurrencyId);
      const contact = await e.sandbox.dataverseApi<Record<string, unknown>>("GET", `/contacts(${opp._parentcontactid_value as string})`);
      expect(contact.body).toMatchObject({ emailaddress1: "nia.cole@matched.example", lastname: "Cole" });
      // One opportunity, however many events the referral produced.
      await e.settle();
      const all = await e.sandbox.dataverseApi<{ value: unknown[] }>("GET", `/opportunities?$filter=${encodeURIComponent(`cosell_referralid eq '${referralId}'`)}`);
      expect(all.body.value).toHaveLength(1);
    });

    it("brings Partner Center updates into the same opportunity", async () => {
      const referralId = await e.inboundReferral(coSellReferral());
      const opp = await opportunityFor(e, referralId);
      await e.settle();
      await e.microsoftPatch(referralId, [
        { op: "replace", path: "/details/dealValue", value: 51000 },
        { op: "replace", path: "/details/notes", value: "Updated by Microsoft" },
      ]);
      await waitFor(async () => (await e.opportunity(opp.opportunityid)).estimatedvalue === 51000, "deal value updated");
      const after = await e.opportunity(opp.opportunityid);
      expect(after.description).toBe("Updated by Microsoft");
      expect(auditMessages(after).some((m) => m.startsWith("PC→CRM ok Updated from Partner Center"))).toBe(true);
    });

    it("turns a marketplace lead into a lead; qualifying it moves the link to the new opportunity and accepts the referral", async () => {
      const referralId = await e.inboundReferral(coSellReferral({ type: "Independent", qualification: "Direct", name: "Marketplace trial" }));
      const lead = await waitFor(() => e.findLeadByReferral(referralId), "a lead");
      expect(lead).toMatchObject({ subject: "Marketplace trial", cosell_referralstatus: "New" });
      await e.settle();
      const opportunityId = await e.qualifyLead(lead.leadid as string);
      await waitFor(() => e.referral(referralId).status === "Active", "referral accepted");
      expect(e.referral(referralId).substatus).toBe("Accepted");
      const opp = await waitFor(async () => {
        const o = await e.opportunity(opportunityId);
        return o[OpportunityColumn.referralId] === referralId && o[OpportunityColumn.referralStatus] === "Active" ? o : undefined;
      }, "the opportunity to carry the referral");
      expect(opp[OpportunityColumn.syncWithPartnerCenter]).toBe(true);
      const link = await e.bridge.runtime.store.findLinkByReferralId(referralId);
      expect(link).toMatchObject({ entity: "opportunity", recordId: opportunityId });
      // Later edits of the opportunity reach the referral.
      await e.settle();
      await e.updateOpportunity(opportunityId, { description: "After qualification" });
      await waitFor(() => e.referral(referralId).details.notes === "After qualification", "edit after qualification");
    });

    it("declines the referral, with the reason, when the lead is disqualified", async () => {
      const referralId = await e.inboundReferral(coSellReferral({ type: "Independent", qualification: "Direct", name: "Unwanted lead" }));
      const lead = await waitFor(() => e.findLeadByReferral(referralId), "a lead");
      await e.settle();
      await e.disqualifyLead(lead.leadid as string, 6);
      await waitFor(() => e.referral(referralId).substatus === "Declined", "referral declined");
      expect(e.referral(referralId)).toMatchObject({ status: "Closed", statusReason: "No longer interested" });
    });

    it("accepts and declines incoming referrals when the seller asks, and clears the request", async () => {
      const acceptId = await e.inboundReferral(coSellReferral());
      const declineId = await e.inboundReferral(coSellReferral());
      const a = await opportunityFor(e, acceptId);
      const d = await opportunityFor(e, declineId);
      await e.settle();
      await e.updateOpportunity(a.opportunityid, { [OpportunityColumn.referralAction]: ReferralAction.Accept });
      await e.updateOpportunity(d.opportunityid, { [OpportunityColumn.referralAction]: ReferralAction.Decline, [OpportunityColumn.declineReason]: "No capacity" });
      await waitFor(() => e.referral(acceptId).substatus === "Accepted", "accepted");
      await waitFor(() => e.referral(declineId).substatus === "Declined", "declined");
      expect(e.referral(declineId).statusReason).toBe("No capacity");
      const after = await waitFor(async () => {
        const o = await e.opportunity(a.opportunityid);
        return o[OpportunityColumn.referralAction] === null && o[OpportunityColumn.referralStatus] === "Active" ? o : undefined;
      }, "request cleared, status shown");
      expect(auditMessages(after)).toContain("CRM→PC ok Referral accepted.");
    });

    it("shows an expired referral as expired and keeps later edits in Dynamics 365 only, once, without looping", async () => {
      const referralId = await e.inboundReferral(coSellReferral());
      const opp = await opportunityFor(e, referralId);
      await e.settle();
      await e.expire(referralId);
      await waitFor(async () => (await e.opportunity(opp.opportunityid))[OpportunityColumn.referralSubstatus] === "Expired", "Expired shown");
      await e.settle();
      const before = e.bridgePartnerCenterWrites();
      await e.updateOpportunity(opp.opportunityid, { estimatedvalue: 1234 });
      const after = await waitFor(async () => {
        const o = await e.opportunity(opp.opportunityid);
        return auditMessages(o).some((m) => m.includes("can no longer be changed")) ? o : undefined;
      }, "the read-only audit line");
      expect(auditMessages(after).filter((m) => m.includes("can no longer be changed"))).toHaveLength(1);
      await e.settle();
      expect(e.bridgePartnerCenterWrites()).toBe(before);
      const dead = await e.bridge.runtime.store.listDeadLetters();
      expect(dead.some((j) => /can no longer be changed/.test(j.lastError ?? ""))).toBe(true);
      // Nothing keeps running: the audit line is written once.
      const again = await e.opportunity(opp.opportunityid);
      expect(auditMessages(again).filter((m) => m.includes("can no longer be changed"))).toHaveLength(1);
    });
  });

  describe("Microsoft's side of a co-sell request", () => {
    it("tells the seller when Microsoft accepts, with Microsoft's CRM id", async () => {
      const { opportunityId } = await readyOpportunity(e);
      const referralId = await referralOf(e, opportunityId);
      await e.settle();
      await e.microsoftResponse(referralId, "accept", { microsoftCrmId: "MSX-4711", notes: "Our specialist will join" });
      const opp = await waitFor(async () => {
        const o = await e.opportunity(opportunityId);
        return o[OpportunityColumn.microsoftCrmId] === "MSX-4711" ? o : undefined;
      }, "Microsoft CRM id");
      expect(auditMessages(opp)).toEqual(expect.arrayContaining(["PC→CRM ok Microsoft accepted the co-sell request.", expect.stringContaining("Alex Wilber")]));
    });

    it("tells the seller when Microsoft declines", async () => {
      const { opportunityId } = await readyOpportunity(e);
      const referralId = await referralOf(e, opportunityId);
      await e.settle();
      await e.microsoftResponse(referralId, "decline", { reason: "Not a fit" });
      await waitFor(async () => auditMessages(await e.opportunity(opportunityId)).includes("PC→CRM ok Microsoft declined the co-sell request."), "decline audit");
    });
  });

  describe("settings", () => {
    it("skips marketplace and qualified leads when cosell_SyncCoSellOnly is yes, and still syncs co-sell referrals", async () => {
      await e.setEnvironmentVariable(EnvironmentVariable.syncCoSellOnly, "yes");
      try {
        const leadReferral = await e.inboundReferral(coSellReferral({ type: "Independent", qualification: "Direct" }));
        const coSell = await e.inboundReferral(coSellReferral());
        await opportunityFor(e, coSell);
        await e.settle();
        expect(await e.findLeadByReferral(leadReferral)).toBeUndefined();
        const syncs = await e.bridge.runtime.store.recentSyncs(200);
        expect(syncs.some((s) => s.outcome === "skipped" && /co-sell opportunities only/.test(s.message))).toBe(true);
      } finally {
        await e.setEnvironmentVariable(EnvironmentVariable.syncCoSellOnly, "no");
      }
    });

    it("puts ✔ on synced names only while cosell_Checkmark is yes, and never sends it", async () => {
      await e.setEnvironmentVariable(EnvironmentVariable.checkmark, "no");
      try {
        const { opportunityId } = await readyOpportunity(e, { name: "No mark" });
        const referralId = await referralOf(e, opportunityId);
        await waitFor(async () => (await e.opportunity(opportunityId))[OpportunityColumn.syncState] === SyncState.Synced, "synced");
        expect((await e.opportunity(opportunityId)).name).toBe("No mark");
        await e.setEnvironmentVariable(EnvironmentVariable.checkmark, "yes");
        await e.updateOpportunity(opportunityId, { description: "mark me" });
        await waitFor(async () => (await e.opportunity(opportunityId)).name === "No mark ✔", "✔ added");
        expect(e.referral(referralId).name).toBe("No mark");
      } finally {
        await e.setEnvironmentVariable(EnvironmentVariable.checkmark, "yes");
      }
    });
  });

  it("wrote no secret to its log during all of the above", () => {
    const c = e.config;
    const secrets = [c.http.adminToken, c.dataverse.clientSecret, c.dataverse.webhookKey, c.partnerCenter.clientSecret, c.partnerCenter.refreshToken ?? ""].filter((s) => s !== "");
    expect(e.logLines.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(e.logLines.filter((line) => line.includes(secret))).toEqual([]);
  });
});
