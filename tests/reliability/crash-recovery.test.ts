/**
 * Crash safety, bridge level: the whole bridge (`cosell-bridge serve`) is SIGKILLed twice in the
 * middle of a burst of new deals and edits, on SQLite (WAL) and on PostgreSQL. Each restart opens
 * the store as it was left, with no repair by hand; in the end every deal exists once on each side,
 * every edit arrived, and no job is left running or queued.
 *
 * The store on its own (SIGKILL inside recordEvent/claim/saveLink loops, every acknowledged event
 * still there, the database intact) is plugins-bridge/test/store-crash.test.ts.
 */
import * as fs from "node:fs";
import { OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import type { BridgeProcess } from "./support/bridge-process";
import { integrity, tableCounts } from "./support/store-probe";
import { waitFor } from "./support/wait";
import { coSellReferral, World, type StoreKind } from "./support/world";

const BURST = 25;
const O = SystemColumn.opportunity;

describe.each<StoreKind>(["sqlite", "postgres"])("the bridge SIGKILLed during a burst, on %s", (store) => {
  let world: World;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    world = await World.start({ name: `crash-${store}`, store, reconcileIntervalSeconds: 3, env: { BRIDGE_JOB_LEASE_SECONDS: "3", WORKER_CONCURRENCY: "8" } });
    await world.connect();
    bridge = world.instance("bridge");
    await world.up(bridge);
  }, 240_000);

  afterAll(async () => {
    await world?.close();
  });

  const syncs = () => fs.readFileSync(bridge.logFile, "utf8").split("\n").filter((l) => l.includes('"msg":"sync done"')).length;

  it("recovers on restart without repair, and converges: one record per deal, every edit, nothing left running", async () => {
    const before = syncs();
    const kills: Array<{ running: number; queued: number; integrity: string }> = [];
    const crash = async () => {
      await world.crash(bridge);
      const counts = await tableCounts(world.storeConfig);
      kills.push({ running: counts.jobStates["running"] ?? 0, queued: counts.jobStates["queued"] ?? 0, integrity: integrity(world.storeConfig) });
    };

    // The burst: Microsoft's new referrals and the sellers' new opportunities, all at once.
    const referralsMade = Promise.all(Array.from({ length: BURST }, (_, i) => world.inboundReferral(coSellReferral(`crash${store}in${i}`))));
    const opportunitiesMade = Promise.all(Array.from({ length: BURST }, async (_, i) => (await world.createReadyOpportunity(`crash${store}out${i}`)).opportunityId));
    // First SIGKILL once a few syncs are done (the rest is in hand or queued).
    await waitFor(() => syncs() >= before + 8, "the bridge to be busy with the burst", 120_000, 20);
    await crash();
    const [referralIds, opportunityIds] = await Promise.all([referralsMade, opportunitiesMade]);
    // While it is down: Microsoft edits every new referral (the deliveries fail and are retried).
    await Promise.all(referralIds.map((id, i) => world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${id}`, [{ op: "replace", path: "/details/notes", value: `While the bridge was down ${i}` }])));
    await world.up(bridge);
    // Second SIGKILL, again mid-work.
    const resumed = syncs();
    await waitFor(() => syncs() >= resumed + 8, "the restarted bridge to be busy", 120_000, 20);
    await crash();
    await world.up(bridge);
    await world.settle(240_000);

    console.log(`${store}: at each SIGKILL ${JSON.stringify(kills)}`);
    for (const k of kills) expect(k.integrity).toBe("ok");
    expect(kills.some((k) => k.running + k.queued > 0)).toBe(true); // the kills did interrupt work

    const opportunities = world.rows(Table.opportunity.logicalName);
    referralIds.forEach((id, i) => {
      const mine = opportunities.filter((r) => r[OpportunityColumn.referralId] === id);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.[O.description]).toBe(`While the bridge was down ${i}`);
    });
    const referrals = world.referrals().filter((r) => r.organizationId !== "msft");
    for (const id of opportunityIds) {
      expect(referrals.filter((r) => r.externalReferenceId === id)).toHaveLength(1);
      expect(world.row(Table.opportunity.logicalName, id)?.[OpportunityColumn.referralId]).toEqual(expect.any(String));
    }
    const end = await tableCounts(world.storeConfig);
    expect(end.jobStates).toEqual({});
    expect(end.links).toBe(2 * BURST);
    expect(integrity(world.storeConfig)).toBe("ok");
  }, 420_000);
});
