import { OpportunityColumn, SyncState } from "@cosell/contract";
import { coSellReferral, readyOpportunity, startE2E, waitFor, type E2E } from "./harness";

describe("smoke", () => {
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E({ store: "sqlite" });
  }, 60_000);
  afterAll(() => e?.close());

  it("D365 → PC create", async () => {
    const { opportunityId } = await readyOpportunity(e);
    const opp = await waitFor(async () => {
      const o = await e.opportunity(opportunityId);
      return o[OpportunityColumn.referralId] ? o : undefined;
    }, "referral id written back", 30_000);
    console.log(JSON.stringify(opp, null, 1));
    expect(opp[OpportunityColumn.syncState]).toBe(SyncState.Synced);
  }, 60_000);

  it("PC → D365 create", async () => {
    const id = await e.inboundReferral(coSellReferral());
    const opp = await waitFor(() => e.findOpportunityByReferral(id), "opportunity created", 30_000);
    console.log(JSON.stringify(opp, null, 1));
    await waitFor(async () => (await e.opportunity(opp.opportunityid))[OpportunityColumn.audit], "audit");
    console.log(e.logLines.slice(-10).join(""));
  }, 60_000);
});
