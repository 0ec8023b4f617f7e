/**
 * Two bridge instances (`cosell-bridge serve`, two processes) on one PostgreSQL store, behind one
 * load balancer: webhooks reach either, jobs are claimed by either. Each change is applied once
 * (one write on the other side per change, one opportunity per referral, one referral per
 * opportunity); both instances do some of the work; one is SIGKILLed in the middle of a burst and
 * the other finishes everything, including the jobs the dead one held.
 */
import * as fs from "node:fs";
import { OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import type { BridgeProcess } from "./support/bridge-process";
import { waitFor } from "./support/wait";
import { coSellReferral, World } from "./support/world";

const BURST = 20;
const O = SystemColumn.opportunity;

let world: World;
let a: BridgeProcess;
let b: BridgeProcess;

beforeAll(async () => {
  world = await World.start({
    name: "two-instances",
    store: "postgres",
    reconcileIntervalSeconds: 5,
    env: { BRIDGE_JOB_LEASE_SECONDS: "4", WORKER_CONCURRENCY: "4" },
  });
  await world.connect();
  a = world.instance("a");
  b = world.instance("b");
  await Promise.all([world.up(a), world.up(b)]);
}, 240_000);

afterAll(async () => {
  await world?.close();
});

/** "sync done" lines each instance wrote so far. */
function syncsBy(instance: BridgeProcess): number {
  return fs.readFileSync(instance.logFile, "utf8").split("\n").filter((l) => l.includes('"msg":"sync done"')).length;
}

const bridgeUser = () => world.sandbox.bridgeUserId.toLowerCase();
const dvWritesByBridge = (id: string, since: number) => world.sandbox.dataverse.organization.changes.filter((c) => c.id.toLowerCase() === id && c.callerId.toLowerCase() === bridgeUser() && c.at > since).length;
const pcWritesByBridge = (id: string, since: number) => world.sandbox.partnerCenter.changes().filter((c) => c.referralId === id && c.actor === "partner" && c.at > since).length;

interface Pair {
  readonly referralId: string;
  readonly opportunityId: string;
}

async function burst(tag: string): Promise<{ inbound: Pair[]; outbound: Pair[] }> {
  const referralIds = await Promise.all(Array.from({ length: BURST }, (_, i) => world.inboundReferral(coSellReferral(`${tag}in${i}`))));
  const opportunityIds = await Promise.all(Array.from({ length: BURST }, async (_, i) => (await world.createReadyOpportunity(`${tag}out${i}`)).opportunityId));
  const inbound = await Promise.all(
    referralIds.map(async (referralId) => ({
      referralId,
      opportunityId: await waitFor(() => world.rows(Table.opportunity.logicalName).find((r) => r[OpportunityColumn.referralId] === referralId)?.[O.id] as string | undefined, `the opportunity of ${referralId}`, 120_000),
    })),
  );
  const outbound = await Promise.all(
    opportunityIds.map(async (opportunityId) => ({
      opportunityId,
      referralId: await waitFor(() => world.row(Table.opportunity.logicalName, opportunityId)?.[OpportunityColumn.referralId] as string | undefined, `the referral of ${opportunityId}`, 120_000),
    })),
  );
  return { inbound, outbound };
}

function expectOneToOne(pairs: readonly Pair[]): void {
  const opportunities = world.rows(Table.opportunity.logicalName);
  const referrals = world.referrals().filter((r) => r.organizationId !== "msft");
  for (const p of pairs) {
    expect(opportunities.filter((r) => r[OpportunityColumn.referralId] === p.referralId)).toHaveLength(1);
    expect(referrals.filter((r) => r.externalReferenceId === p.opportunityId || r.id === p.referralId)).toHaveLength(1);
  }
}

describe("two instances on one PostgreSQL store", () => {
  let first: { inbound: Pair[]; outbound: Pair[] };

  it(`share a burst of ${2 * BURST} new deals, and create each once`, async () => {
    first = await burst("one");
    await world.settle();
    expectOneToOne([...first.inbound, ...first.outbound]);
    const shares = { a: syncsBy(a), b: syncsBy(b) };
    console.log(`syncs after the first burst: ${JSON.stringify(shares)}`);
    expect(shares.a).toBeGreaterThan(0);
    expect(shares.b).toBeGreaterThan(0);
  }, 240_000);

  it("apply each later change exactly once: one write on the other side per change", async () => {
    const since = Date.now();
    await Promise.all([
      ...first.inbound.map((p, i) => world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${p.referralId}`, [{ op: "replace", path: "/details/notes", value: `Microsoft's change ${i}` }])),
      ...first.outbound.map((p, i) => world.mustSeller("PATCH", `/${Table.opportunity.entitySetName}(${p.opportunityId})`, { [O.description]: `Seller's change ${i}` }, { "if-match": "*" })),
    ]);
    await world.settle();
    first.inbound.forEach((p, i) => {
      expect(world.row(Table.opportunity.logicalName, p.opportunityId)?.[O.description]).toBe(`Microsoft's change ${i}`);
      expect({ pair: p, writes: dvWritesByBridge(p.opportunityId, since) }).toEqual({ pair: p, writes: 1 });
    });
    first.outbound.forEach((p, i) => {
      expect(world.referral(p.referralId)?.details.notes).toBe(`Seller's change ${i}`);
      expect({ pair: p, writes: pcWritesByBridge(p.referralId, since) }).toEqual({ pair: p, writes: 1 });
    });
  }, 240_000);

  it("survive one of them being SIGKILLed mid-burst: the other finishes everything, including the dead one's jobs", async () => {
    const aBefore = syncsBy(a);
    const bBefore = syncsBy(b);
    // Kill A once it has done some of the new burst's work (it dies with jobs in hand).
    const killer = waitFor(() => syncsBy(a) >= aBefore + 5, "instance a to work on the burst", 120_000).then(() => world.crash(a));
    const second = await burst("two");
    await killer;
    expect(a.running).toBe(false);
    const edits = second.inbound.map((p, i) => world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${p.referralId}`, [{ op: "replace", path: "/details/dealValue", value: 1000 + i }]));
    await Promise.all(edits);
    await world.settle(180_000);
    expectOneToOne([...second.inbound, ...second.outbound]);
    second.inbound.forEach((p, i) => expect(world.row(Table.opportunity.logicalName, p.opportunityId)?.[O.estimatedValue]).toBe(1000 + i));
    const q = await world.queue();
    expect({ queued: q.queued, running: q.running, dead: q.dead }).toEqual({ queued: 0, running: 0, dead: 0 });
    console.log(`syncs in the second burst: a ${syncsBy(a) - aBefore} (then killed), b ${syncsBy(b) - bBefore}`);
    expect(syncsBy(b)).toBeGreaterThan(bBefore);
  }, 300_000);
});
