/**
 * Figure 1: propagation latency, both directions. From the emulator's commit of a change on one side
 * to the commit of the bridge's write on the other (both emulators stamp their commits with
 * the same wall clock (Date.now() with a sub-millisecond fraction), in this process, so both ends are on one clock):
 *
 *   PC→CRM  Microsoft edits a referral's notes (Partner Center commit, actor microsoft)
 *           → the bridge's write of that opportunity (Dataverse commit by the bridge's user)
 *   CRM→PC  a seller edits an opportunity's description (Dataverse commit by the seller)
 *           → the bridge's PATCH of the referral (Partner Center commit, actor partner)
 *
 * The changes are sent open-loop at a fixed rate, alternating directions, each on a link with no
 * change of its own in flight (a link rests a moment after its change landed, so the bridge's echo
 * of its own write is not taken for the next change's). After each run both sides are compared:
 * a change whose value did not arrive counts as lost. A change that did not land within
 * CHANGE_TIMEOUT_MS stays in the percentiles as what it is, at least that long (see `landedSamples`),
 * and is counted in `timedOut`. The bridge runs with its worker and without its reconcile timer.
 */
import { OpportunityColumn } from "@cosell/contract";
import type { CommitEvent } from "@cosell/sandbox/src/partner-center";
import { figure, type Figure, type Switch } from "./lib/figures";
import { percentile, spread } from "./lib/stats";
import type { StoreKind } from "./lib/stores";
import { BENCH_DATAVERSE_LIMITS, countRequests, inboundReferral, must, sellerOpportunity, settle, sleep, startWorld, waitFor, type RunContext, type World } from "./lib/world";

export interface PropagationOptions {
  /** Changes per direction per run. */
  readonly changes: number;
  /** Links per direction. */
  readonly links: number;
  /** Changes per second, both directions together. */
  readonly ratePerSecond: number;
  readonly runs: number;
  readonly latencies: readonly number[];
}

interface DvCommit {
  readonly entity: string;
  readonly id: string;
  readonly message: string;
  readonly at: number;
  readonly callerId: string;
}

interface RunResult {
  /** Each change's landing time in ms, `undefined` for one that did not land in time. */
  readonly pcToCrm: Array<number | undefined>;
  readonly crmToPc: Array<number | undefined>;
  lost: number;
  /** Dataverse 429s answered during the run. */
  throttled?: number;
}

interface LinkPair {
  readonly referralId: string;
  readonly opportunityId: string;
}

export const CHANGE_TIMEOUT_MS = 30_000;
const OFF: readonly Switch[] = ["reconcile timer"];

/**
 * The latency samples of one direction: a change that timed out counts as the timeout, a lower
 * bound on its latency, so that it weighs on the percentiles instead of dropping out of them.
 */
export function landedSamples(landed: ReadonlyArray<number | undefined>, timeoutMs = CHANGE_TIMEOUT_MS): number[] {
  return landed.map((ms) => ms ?? timeoutMs);
}

export const timedOut = (landed: ReadonlyArray<number | undefined>): number => landed.filter((ms) => ms === undefined).length;
/** How long a link rests after its change landed before it gets the next one. */
const REST_MS = 400;

async function seedLinks(world: World, count: number, log: RunContext["log"]): Promise<{ inbound: LinkPair[]; outbound: LinkPair[] }> {
  const { sandbox } = world;
  const run = Date.now().toString(36);
  const inboundIds = await sandbox.seedReferrals(Array.from({ length: count }, (_, i) => inboundReferral(`in${run}x${i}`)));
  const outboundOpps: string[] = [];
  for (let i = 0; i < count; i++) outboundOpps.push(await sellerOpportunity(sandbox, `out${run}x${i}`));
  log(`  seeded ${count} inbound referrals and ${count} shared opportunities; waiting for the bridge to link them`);
  const inbound: LinkPair[] = [];
  for (const referralId of inboundIds) {
    const filter = encodeURIComponent(`${OpportunityColumn.referralId} eq '${referralId}'`);
    const opp = await waitFor(async () => {
      const body = await must(sandbox.dataverseApi<{ value: Array<{ opportunityid: string }> }>("GET", `/opportunities?$select=opportunityid&$filter=${filter}`), "find opportunity");
      return body.value[0];
    }, `an opportunity for referral ${referralId}`);
    inbound.push({ referralId, opportunityId: opp.opportunityid });
  }
  const outbound: LinkPair[] = [];
  for (const opportunityId of outboundOpps) {
    const referralId = await waitFor(async () => {
      const body = await must(sandbox.dataverseApi<Record<string, unknown>>("GET", `/opportunities(${opportunityId})?$select=${OpportunityColumn.referralId}`), "read opportunity");
      return body[OpportunityColumn.referralId] as string | undefined;
    }, `a referral for opportunity ${opportunityId}`);
    outbound.push({ referralId, opportunityId });
  }
  await settle(world);
  return { inbound, outbound };
}

async function runOnce(world: World, links: { inbound: LinkPair[]; outbound: LinkPair[] }, o: PropagationOptions, runTag: string): Promise<RunResult> {
  const { sandbox } = world;
  const bridgeUser = sandbox.bridgeUserId.toLowerCase();

  type Pending = { t0?: number; resolve: (ms: number | undefined) => void };
  const pcToCrm = new Map<string, Pending>(); // by referral id (t0), then by opportunity (landing)
  const crmToPc = new Map<string, Pending>(); // by opportunity id (t0), then by referral (landing)
  const pcToCrmByOpp = new Map<string, Pending>();
  const crmToPcByReferral = new Map<string, Pending>();

  const onPc = (c: CommitEvent) => {
    if (c.actor === "microsoft") {
      const p = pcToCrm.get(c.referralId);
      if (p && p.t0 === undefined) p.t0 = c.at;
    } else if (c.actor === "partner") {
      const p = crmToPcByReferral.get(c.referralId);
      if (p && p.t0 !== undefined && c.at > p.t0) p.resolve(c.at - p.t0);
    }
  };
  const onDv = (c: DvCommit) => {
    if (c.entity !== "opportunity") return;
    const id = c.id.toLowerCase();
    if (c.callerId.toLowerCase() === bridgeUser) {
      const p = pcToCrmByOpp.get(id);
      if (p && p.t0 !== undefined && c.at > p.t0) p.resolve(c.at - p.t0);
    } else {
      const p = crmToPc.get(id);
      if (p && p.t0 === undefined) p.t0 = c.at;
    }
  };
  sandbox.partnerCenter.events.on("commit", onPc);
  sandbox.dataverse.events.on("commit", onDv);

  const idle = { in: [...links.inbound], out: [...links.outbound] };
  const lastValue = new Map<string, string>();
  const samples: RunResult = { pcToCrm: [], crmToPc: [], lost: 0 };
  const inFlight: Promise<void>[] = [];

  const measure = async (direction: "in" | "out", link: LinkPair, value: string): Promise<void> => {
    let resolveLanding!: (ms: number | undefined) => void;
    const landed = new Promise<number | undefined>((r) => (resolveLanding = r));
    const pending: Pending = { resolve: (ms) => resolveLanding(ms) };
    const opp = link.opportunityId.toLowerCase();
    if (direction === "in") {
      pcToCrm.set(link.referralId, pending);
      pcToCrmByOpp.set(opp, pending);
    } else {
      crmToPc.set(opp, pending);
      crmToPcByReferral.set(link.referralId, pending);
    }
    const timer = setTimeout(() => pending.resolve(undefined), CHANGE_TIMEOUT_MS);
    try {
      if (direction === "in") await must(sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${link.referralId}`, [{ op: "replace", path: "/details/notes", value }]), "Microsoft's edit");
      else await must(sandbox.dataverseApi("PATCH", `/opportunities(${link.opportunityId})`, { description: value }, { headers: { "if-match": "*" } }), "the seller's edit");
      lastValue.set(`${direction}:${link.referralId}`, value);
      (direction === "in" ? samples.pcToCrm : samples.crmToPc).push(await landed);
    } finally {
      clearTimeout(timer);
      pcToCrm.delete(link.referralId);
      pcToCrmByOpp.delete(opp);
      crmToPc.delete(opp);
      crmToPcByReferral.delete(link.referralId);
    }
    await sleep(REST_MS);
    idle[direction].push(link);
  };

  try {
    const interval = 1000 / o.ratePerSecond;
    const started = performance.now();
    for (let i = 0; i < o.changes * 2; i++) {
      const due = started + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const direction = i % 2 === 0 ? "in" : "out";
      // Open loop unless every link of this direction still has a change in flight.
      const link = await waitFor(() => idle[direction].shift(), `an idle ${direction} link`, CHANGE_TIMEOUT_MS * 2, 5);
      inFlight.push(measure(direction, link, `${direction === "in" ? "Microsoft" : "Seller"} note ${runTag} #${i}`));
    }
    await Promise.all(inFlight);
  } finally {
    sandbox.partnerCenter.events.off("commit", onPc);
    sandbox.dataverse.events.off("commit", onDv);
  }

  // Every last value must be on the other side once everything has settled.
  await settle(world);
  for (const link of links.inbound) {
    const want = lastValue.get(`in:${link.referralId}`);
    if (want === undefined) continue;
    const row = await must(sandbox.dataverseApi<{ description?: string }>("GET", `/opportunities(${link.opportunityId})?$select=description`), "read opportunity");
    if (row.description !== want) samples.lost++;
  }
  for (const link of links.outbound) {
    const want = lastValue.get(`out:${link.referralId}`);
    if (want === undefined) continue;
    if (sandbox.partnerCenter.getReferral(link.referralId)?.details.notes !== want) samples.lost++;
  }
  return samples;
}

export async function propagation(ctx: RunContext, kind: StoreKind, o: PropagationOptions): Promise<Figure[]> {
  ctx.log(`propagation on ${kind}: ${o.runs} run(s) × ${o.changes} changes each way at ${o.ratePerSecond}/s, latency ${o.latencies.join(" and ")} ms`);
  const world = await startWorld(ctx, kind, "propagation", { sandbox: { dataverseLimits: BENCH_DATAVERSE_LIMITS } });
  const counter = countRequests(world.sandbox);
  const figures: Figure[] = [];
  try {
    const links = await seedLinks(world, o.links, ctx.log);
    for (const latency of o.latencies) {
      world.sandbox.partnerCenter.faults.update({ latencyMs: latency });
      world.sandbox.dataverse.faults.update({ latencyMs: latency });
      const runs: RunResult[] = [];
      for (let r = 0; r < o.runs; r++) {
        await world.bridge.stats(); // resets the event-loop delay histogram
        const cpu0 = process.cpuUsage();
        const bridgeCpu0 = (await world.bridge.stats()).cpuMs;
        const throttled0 = counter.throttled;
        const result = await runOnce(world, links, o, `${latency}ms-${r}`);
        const after = await world.bridge.stats();
        const cpu = process.cpuUsage(cpu0);
        result.throttled = counter.throttled - throttled0;
        ctx.log(
          `  (bridge CPU ${((after.cpuMs - bridgeCpu0) / 1000).toFixed(1)} s, emulators ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; ` +
            `bridge event loop blocked p99 ${after.loopDelay.p99.toFixed(0)} ms, max ${after.loopDelay.max.toFixed(0)} ms; Dataverse 429s ${result.throttled})`,
        );
        ctx.log(
          `  latency ${latency} ms run ${r + 1}: PC→CRM p50 ${percentile(landedSamples(result.pcToCrm), 50).toFixed(1)} p99 ${percentile(landedSamples(result.pcToCrm), 99).toFixed(1)} ms; ` +
            `CRM→PC p50 ${percentile(landedSamples(result.crmToPc), 50).toFixed(1)} p99 ${percentile(landedSamples(result.crmToPc), 99).toFixed(1)} ms; ` +
            `timed out ${timedOut(result.pcToCrm) + timedOut(result.crmToPc)}; lost ${result.lost}`,
        );
        runs.push(result);
      }
      const base = `propagation.${kind}.latency${latency}ms`;
      for (const [dir, pick] of [
        ["pcToCrm", (r: RunResult) => r.pcToCrm],
        ["crmToPc", (r: RunResult) => r.crmToPc],
      ] as const) {
        for (const p of [50, 95, 99]) {
          const target =
            latency === 0 ? (p === 50 ? { op: "<=" as const, value: 50 } : p === 99 ? { op: "<=" as const, value: 250 } : null) : p === 99 ? { op: "<=" as const, value: 500 } : null;
          const note = `commit to commit, ${latency} ms injected; a change not landed in ${CHANGE_TIMEOUT_MS / 1000} s counts as ${CHANGE_TIMEOUT_MS} ms`;
          figures.push(figure(`${base}.${dir}.p${p}`, "ms", spread(runs.map((r) => percentile(landedSamples(pick(r)), p))), target, note, OFF));
        }
      }
      figures.push(figure(`${base}.throttled`, "responses", spread(runs.map((r) => r.throttled ?? 0)), null, "Dataverse 429s during the run (service protection)", OFF));
      figures.push(
        figure(`${base}.timedOut`, "changes", spread(runs.map((r) => timedOut(r.pcToCrm) + timedOut(r.crmToPc))), null, `changes not landed within ${CHANGE_TIMEOUT_MS / 1000} s`, OFF),
      );
      figures.push(figure(`${base}.lost`, "changes", spread(runs.map((r) => r.lost)), { op: "==", value: 0 }, "a change whose value never reached the other side", OFF));
    }
  } finally {
    counter.stop();
    world.sandbox.partnerCenter.faults.update({});
    world.sandbox.dataverse.faults.update({});
    await world.close();
  }
  return figures;
}
