/**
 * Bugs the chaos run found, each pinned by a deterministic reproduction named after it. The moment
 * that matters (the bridge has just written one side) is hit exactly: the emulator's commit event,
 * which runs before the emulator answers the bridge, arms a 429 for the bridge's next request or
 * SIGKILLs the bridge, synchronously.
 */
import { OpportunityColumn, ReferralAction, SystemColumn, Table } from "@cosell/contract";
import { faultSwitch, type FaultSwitch } from "./support/faults";
import { waitFor } from "./support/wait";
import { coSellReferral, World } from "./support/world";
import type { BridgeProcess } from "./support/bridge-process";

const O = SystemColumn.opportunity;
const OPPORTUNITIES = Table.opportunity.entitySetName;

describe("regressions found by the chaos run (SQLite)", () => {
  let world: World;
  let bridge: BridgeProcess;
  let dataverse: FaultSwitch;
  let tags = 0;
  const tag = () => `r${Date.now().toString(36)}${tags++}`;

  beforeAll(async () => {
    world = await World.start({ name: "regressions", store: "sqlite", env: { BRIDGE_JOB_LEASE_SECONDS: "3", SYNC_BACKOFF_MAX_SECONDS: "2" } });
    dataverse = faultSwitch(world.sandbox.dataverse.faults);
    await world.connect();
    bridge = world.instance("bridge");
    await world.up(bridge);
  }, 240_000);

  afterAll(async () => {
    await world?.close();
  });

  /** Listeners this file added to the emulators' commit events (theirs must stay). */
  const listeners: Array<() => void> = [];
  afterEach(async () => {
    for (const off of listeners.splice(0)) off();
    if (!bridge.running) await world.up(bridge);
  });

  const bridgeUser = () => world.sandbox.bridgeUserId.toLowerCase();

  /**
   * Dataverse shows modifiedon to the second, and latest-wins gives ties to Partner Center: a
   * Dynamics 365 edit meant to be *later* than a Partner Center one must fall in a later second.
   */
  async function nextSecond(): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    await waitFor(() => Math.floor(Date.now() / 1000) > now, "the next second", 5_000, 20);
  }

  /** A seller's opportunity shared with Partner Center, fully synced. */
  async function sharedOpportunity(): Promise<{ opportunityId: string; referralId: string }> {
    const { opportunityId } = await world.createReadyOpportunity(tag());
    const referralId = await waitFor(() => world.row(Table.opportunity.logicalName, opportunityId)?.[OpportunityColumn.referralId] as string | undefined, "the referral id");
    await world.settle();
    return { opportunityId, referralId };
  }

  /** Arms `then` for the bridge's next write to this referral in Partner Center. */
  function onBridgeWriteToReferral(referralId: string, then: () => void): void {
    let done = false;
    const listener = (c: { referralId: string; actor: string }) => {
      if (!done && c.referralId === referralId && c.actor === "partner") {
        done = true;
        then();
      }
    };
    world.sandbox.partnerCenter.events.on("commit", listener);
    listeners.push(() => world.sandbox.partnerCenter.events.off("commit", listener));
  }

  /**
   * Arms `then` for the bridge's creation of an opportunity (run synchronously inside the
   * emulator's commit, before it answers the bridge); resolves with the new id.
   */
  function onBridgeCreatesOpportunity(then: () => void): Promise<string> {
    return new Promise((resolve) => {
      let done = false;
      const listener = (c: { entity: string; id: string; message: string; callerId: string }) => {
        if (!done && c.entity === Table.opportunity.logicalName && c.message === "Create" && c.callerId.toLowerCase() === bridgeUser()) {
          done = true;
          then();
          resolve(c.id.toLowerCase());
        }
      };
      world.sandbox.dataverse.events.on("commit", listener);
      listeners.push(() => world.sandbox.dataverse.events.off("commit", listener));
    });
  }

  it("keeps Microsoft's later edit when Dataverse throttles the bridge right after Partner Center took the seller's edit (the agreed base was not saved)", async () => {
    const { opportunityId, referralId } = await sharedOpportunity();
    const fired = dataverse.fired;
    onBridgeWriteToReferral(referralId, () => dataverse.throttleNext(1, 5));
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [O.description]: "Seller's notes" }, { "if-match": "*" });
    await waitFor(() => dataverse.fired > fired && world.referral(referralId)?.details.notes === "Seller's notes", "the bridge's write to Partner Center, then its throttled write to Dynamics 365");
    // While the bridge waits out the Retry-After: Microsoft answers in the notes, the seller moves the close date.
    const ms = await world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${referralId}`, [{ op: "replace", path: "/details/notes", value: "Microsoft's reply" }]);
    expect(ms.status).toBe(200);
    await nextSecond();
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [O.estimatedCloseDate]: "2027-10-15" }, { "if-match": "*" });
    await world.settle();
    const row = world.row(Table.opportunity.logicalName, opportunityId);
    expect({ pc: world.referral(referralId)?.details.notes, crm: row?.[O.description] }).toEqual({ pc: "Microsoft's reply", crm: "Microsoft's reply" });
    expect(world.referral(referralId)?.details.closingDateTime).toMatch(/^2027-10-15/);
  }, 90_000);

  it("keeps Microsoft's later edit when the bridge dies between writing Partner Center and writing Dynamics 365", async () => {
    const { opportunityId, referralId } = await sharedOpportunity();
    let killed: Promise<void> | undefined;
    onBridgeWriteToReferral(referralId, () => (killed = world.crash(bridge)));
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [O.description]: "Seller's notes" }, { "if-match": "*" });
    await waitFor(() => killed !== undefined, "the bridge's write to Partner Center");
    await killed;
    expect(world.referral(referralId)?.details.notes).toBe("Seller's notes");
    const ms = await world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${referralId}`, [{ op: "replace", path: "/details/notes", value: "Microsoft's reply" }]);
    expect(ms.status).toBe(200);
    await nextSecond();
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [O.estimatedCloseDate]: "2027-11-30" }, { "if-match": "*" });
    await world.up(bridge);
    await world.settle();
    const row = world.row(Table.opportunity.logicalName, opportunityId);
    expect({ pc: world.referral(referralId)?.details.notes, crm: row?.[O.description] }).toEqual({ pc: "Microsoft's reply", crm: "Microsoft's reply" });
    expect(world.referral(referralId)?.details.closingDateTime).toMatch(/^2027-11-30/);
  }, 90_000);

  it("keeps a seller's later edit when the bridge dies between writing Dynamics 365 and saving the base (found by a chaos run)", async () => {
    const { opportunityId, referralId } = await sharedOpportunity();
    let killed: Promise<void> | undefined;
    const listener = (c: { entity: string; id: string; message: string; callerId: string }) => {
      if (!killed && c.entity === Table.opportunity.logicalName && c.id.toLowerCase() === opportunityId && c.message === "Update" && c.callerId.toLowerCase() === bridgeUser()) killed = world.crash(bridge);
    };
    world.sandbox.dataverse.events.on("commit", listener);
    listeners.push(() => world.sandbox.dataverse.events.off("commit", listener));
    // Microsoft moves the close date; the bridge copies it to Dynamics 365 and dies right there.
    const ms = await world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${referralId}`, [{ op: "replace", path: "/details/closingDateTime", value: "2027-11-01T00:00:00Z" }]);
    expect(ms.status).toBe(200);
    await waitFor(() => killed !== undefined, "the bridge's write to Dynamics 365");
    await killed;
    expect(String(world.row(Table.opportunity.logicalName, opportunityId)?.[O.estimatedCloseDate] ?? "")).toMatch(/^2027-11-01/);
    // While it is down: the seller sets another close date, then Microsoft edits the notes (the later change on the record level).
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [O.estimatedCloseDate]: "2027-07-24" }, { "if-match": "*" });
    await nextSecond();
    const notes = await world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${referralId}`, [{ op: "replace", path: "/details/notes", value: "Microsoft's notes" }]);
    expect(notes.status).toBe(200);
    await world.up(bridge);
    await world.settle();
    const row = world.row(Table.opportunity.logicalName, opportunityId);
    expect({ pc: world.referral(referralId)?.details.closingDateTime?.slice(0, 10), crm: String(row?.[O.estimatedCloseDate] ?? "").slice(0, 10) }).toEqual({ pc: "2027-07-24", crm: "2027-07-24" });
    expect({ pc: world.referral(referralId)?.details.notes, crm: row?.[O.description] }).toEqual({ pc: "Microsoft's notes", crm: "Microsoft's notes" });
  }, 90_000);

  it("keeps a seller's edit made while the bridge was down between creating an opportunity and saving its link (the new record was taken as the base)", async () => {
    let killed: Promise<void> | undefined;
    const created = onBridgeCreatesOpportunity(() => (killed = world.crash(bridge)));
    const referralId = await world.inboundReferral(coSellReferral(tag()));
    const opportunityId = await created;
    await killed;
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [O.estimatedValue]: 777_000 }, { "if-match": "*" });
    await world.up(bridge);
    await world.settle();
    expect({ pc: world.referral(referralId)?.details.dealValue, crm: world.row(Table.opportunity.logicalName, opportunityId)?.[O.estimatedValue] }).toEqual({ pc: 777_000, crm: 777_000 });
  }, 90_000);

  it("keeps both a seller's edit and Microsoft's edit of another field made while the bridge was down between creating an opportunity and saving its link (found in the soak)", async () => {
    let killed: Promise<void> | undefined;
    const created = onBridgeCreatesOpportunity(() => (killed = world.crash(bridge)));
    const referralId = await world.inboundReferral(coSellReferral(tag()));
    const opportunityId = await created;
    await killed;
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [O.estimatedValue]: 4_477_521 }, { "if-match": "*" });
    await nextSecond();
    const ms = await world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${referralId}`, [{ op: "replace", path: "/name", value: "Renamed by Microsoft" }]);
    expect(ms.status).toBe(200);
    await world.up(bridge);
    await world.settle();
    const row = world.row(Table.opportunity.logicalName, opportunityId);
    expect({ pc: world.referral(referralId)?.details.dealValue, crm: row?.[O.estimatedValue] }).toEqual({ pc: 4_477_521, crm: 4_477_521 });
    expect(String(row?.[O.name] ?? "")).toMatch(/^Renamed by Microsoft/);
  }, 90_000);

  it("closes the referral as Won when the seller won the opportunity while the bridge was down between creating it and saving its link", async () => {
    let killed: Promise<void> | undefined;
    const created = onBridgeCreatesOpportunity(() => (killed = world.crash(bridge)));
    const referralId = await world.inboundReferral(coSellReferral(tag()));
    const opportunityId = await created;
    await killed;
    await world.mustSeller("POST", "/WinOpportunity", { Status: 3, OpportunityClose: { subject: "Won", "opportunityid@odata.bind": `/${OPPORTUNITIES}(${opportunityId})` } });
    await world.up(bridge);
    await world.settle();
    expect({ status: world.referral(referralId)?.status, substatus: world.referral(referralId)?.substatus }).toEqual({ status: "Closed", substatus: "Won" });
  }, 90_000);

  it("finishes a decline whose clean-up write was throttled without a dead letter or a 'refused' line (the retry found it already declined)", async () => {
    const referralId = await world.inboundReferral(coSellReferral(tag()));
    const opportunityId = await waitFor(
      () => world.rows(Table.opportunity.logicalName).find((r) => r[OpportunityColumn.referralId] === referralId)?.[O.id] as string | undefined,
      "the opportunity",
    );
    await world.settle();
    const fired = dataverse.fired;
    onBridgeWriteToReferral(referralId, () => dataverse.throttleNext(1, 5));
    await world.mustSeller("PATCH", `/${OPPORTUNITIES}(${opportunityId})`, { [OpportunityColumn.referralAction]: ReferralAction.Decline, [OpportunityColumn.declineReason]: "Not a fit" }, { "if-match": "*" });
    await waitFor(() => dataverse.fired > fired && world.referral(referralId)?.status === "Closed", "the decline in Partner Center, then a throttled clean-up");
    await world.settle();
    const store = await world.store();
    const link = await store.findLinkByReferralId(referralId);
    const dead = (await store.listDeadLetters(1000)).filter((j) => j.linkKey === link?.key);
    expect(dead.map((j) => j.lastError)).toEqual([]);
    const row = world.row(Table.opportunity.logicalName, opportunityId);
    expect(row?.[OpportunityColumn.referralAction] ?? null).toBeNull();
    expect(String(row?.[OpportunityColumn.audit] ?? "")).not.toMatch(/already Closed\/Declined/);
    expect(world.referral(referralId)?.substatus).toBe("Declined");
  }, 90_000);
});
