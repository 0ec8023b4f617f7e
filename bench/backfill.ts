/**
 * Figure 2: backfill of incoming referrals, each with its own customer account and contact, into an
 * empty Dataverse. Both emulators add `latencyMs` to every API request; Dataverse applies its service
 * protection (52 concurrent requests per user, then 429 + Retry-After; a request window, see
 * `window` below). The bridge runs `backfill` in a process of its own, whose peak RSS is read from
 * the kernel when it is done.
 *
 * Counted in the Dataverse emulator's HTTP server: every request of the bridge's application user
 * (a `$batch` is one request), and the 429s among them. The lower bound is
 * admitted requests × latency / 52; the ratio says how close the backfill came to it.
 * Afterwards the rows are counted: every referral exactly once, every account and contact exactly once.
 */
import * as path from "node:path";
import { OpportunityColumn } from "@cosell/contract";
import type { Sandbox } from "@cosell/sandbox/src/compose";
import { BridgeProcess } from "./lib/bridge-process";
import { figure, toMB, unmeasured, type Figure, type Switch } from "./lib/figures";
import { median, spread } from "./lib/stats";
import { freshStore, type BenchStore, type StoreKind } from "./lib/stores";
import { bridgeEnv, countRequests, inboundReferral, must, settle, sleep, startEmulators, type RunContext } from "./lib/world";

export interface BackfillOptions {
  readonly referrals: number;
  readonly latencyMs: number;
  readonly runs: number;
  /** Dataverse's request window during the backfill. */
  readonly window: { readonly requestsPerWindow: number; readonly windowSeconds: number };
  /** Jobs the backfill works at once (undefined: the bridge's default). */
  readonly concurrency?: number;
  /** Figure 4, on the store the last backfill filled: rounds of traffic, then RSS samples. */
  readonly memory: { readonly rounds: number; readonly edits: number; readonly samples: number };
}

export const MAX_CONCURRENT = 52;
/** The backfill runs in a process of its own: no webhook server, no reconcile timer. */
const BACKFILL_OFF: readonly Switch[] = ["reconcile timer", "webhooks"];
/** The serving bridge of figure 4: webhooks and worker on, the reconcile timer off. */
const SERVING_OFF: readonly Switch[] = ["reconcile timer"];

interface BackfillRun {
  readonly wallMs: number;
  readonly processMs: number;
  readonly requests: number;
  readonly throttled: number;
  readonly peakRssMb: number;
  readonly duplicates: number;
  readonly missing: number;
  readonly deadLetters: number;
  readonly errors: number;
  readonly retries: number;
  readonly links: number;
  /** CPU time of the backfill process, and of this one (the emulators), during the run. */
  readonly bridgeCpuMs: number;
  readonly emulatorCpuMs: number;
}

async function seedReferrals(sandbox: Sandbox, count: number, tag: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await sandbox.partnerCenterControl("POST", "/_emulator/inbound-referrals", inboundReferral(`${tag}x${i}`));
      if (res.status >= 300) throw new Error(`could not seed referral ${i}: HTTP ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** All values of one column over an entity set, as the admin would page through them. */
async function columnValues(sandbox: Sandbox, entitySet: string, column: string, filter: string): Promise<string[]> {
  const out: string[] = [];
  let url: string | undefined = `/${entitySet}?$select=${column}&$filter=${encodeURIComponent(filter)}`;
  while (url) {
    const res: { status: number; body: { value?: Array<Record<string, unknown>>; "@odata.nextLink"?: string } } = await sandbox.dataverseApi("GET", url, undefined, {
      as: "admin",
      headers: { prefer: "odata.maxpagesize=5000" },
    });
    if (res.status >= 300) throw new Error(`counting ${entitySet}: HTTP ${res.status}`);
    for (const row of res.body.value ?? []) out.push(String(row[column]));
    const next: string | undefined = res.body["@odata.nextLink"];
    url = next ? next.slice(next.indexOf("/api/data/v9.2") + "/api/data/v9.2".length) : undefined;
  }
  return out;
}

/**
 * Figure 4: the bridge serving (webhooks, worker) on the store a backfill left, holding `links`
 * links. Each round: Microsoft edits `edits` referrals (the bridge syncs them), everything settles,
 * then the process's resident set (VmRSS) is sampled every 500 ms; a round's figure is the median
 * of its samples, and the rounds give the spread.
 */
async function steadyStateRss(ctx: RunContext, sandbox: Sandbox, store: BenchStore, kind: StoreKind, o: BackfillOptions["memory"]): Promise<number[]> {
  sandbox.partnerCenter.faults.update({});
  sandbox.dataverse.faults.update({});
  const bridge = await BridgeProcess.start(
    { mode: "serve", env: bridgeEnv(sandbox, store, { DATAVERSE_MAX_CONCURRENCY: String(MAX_CONCURRENT) }), store: store.config, worker: true, connect: true },
    { logFile: path.join(ctx.workDir, `memory-${kind}.log`) },
  );
  const world = { sandbox, store, bridge, close: async () => undefined };
  try {
    const referrals = [...new Set(sandbox.partnerCenter.changes().filter((c) => c.eventName === "referral-created").map((c) => c.referralId))];
    const rounds: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      for (let i = 0; i < o.edits; i++) {
        const id = referrals[(r * o.edits + i) % referrals.length] as string;
        await must(sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${id}`, [{ op: "replace", path: "/details/notes", value: `Memory round ${r} edit ${i}` }]), "Microsoft's edit");
      }
      await settle(world, 1_000, 300_000);
      const samples: number[] = [];
      for (let i = 0; i < o.samples; i++) {
        await sleep(500);
        samples.push(toMB(bridge.currentRss() ?? Number.NaN));
      }
      const stats = await bridge.stats();
      ctx.log(`  memory round ${r + 1}: RSS median ${median(samples).toFixed(0)} MB (heap ${toMB(stats.heapUsed).toFixed(0)} MB) after ${o.edits} synced edits`);
      rounds.push(median(samples));
    }
    return rounds;
  } finally {
    await bridge.stop();
  }
}

const duplicatesIn = (values: readonly string[]) => values.length - new Set(values.map((v) => v.toLowerCase())).size;

export async function backfillFigures(ctx: RunContext, kind: StoreKind, o: BackfillOptions): Promise<Figure[]> {
  ctx.log(
    `backfill on ${kind}: ${o.runs} run(s) × ${o.referrals} referrals, ${o.latencyMs} ms per request, ${MAX_CONCURRENT} concurrent, ` +
      `window ${o.window.requestsPerWindow} requests / ${o.window.windowSeconds} s`,
  );
  const sandbox = await startEmulators({
    dataverseLimits: { maxConcurrentPerUser: MAX_CONCURRENT, ...o.window },
    // The emulator's own logs bounded to the run's size (it keeps them in memory).
    faults: { partnerCenter: { latencyMs: o.latencyMs }, dataverse: { latencyMs: o.latencyMs } },
  });
  const runs: BackfillRun[] = [];
  let memory: number[] | undefined;
  try {
    const tag = `bf${Date.now().toString(36)}`;
    const seeded = performance.now();
    await seedReferrals(sandbox, o.referrals, tag);
    ctx.log(`  ${o.referrals} referrals in Partner Center (${((performance.now() - seeded) / 1000).toFixed(1)} s)`);
    for (let r = 0; r < o.runs; r++) {
      // An empty Dataverse again (the contract and the bridge's application user stay).
      sandbox.dataverse.reset({ keepCustomizations: true });
      const store = await freshStore(kind, ctx.workDir, `backfill${r}`);
      const counter = countRequests(sandbox);
      try {
        const env = bridgeEnv(sandbox, store, { DATAVERSE_MAX_CONCURRENCY: String(MAX_CONCURRENT) });
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const child = await BridgeProcess.start(
          { mode: "backfill", env, store: store.config, ...(o.concurrency ? { concurrency: o.concurrency } : {}) },
          { logFile: path.join(ctx.workDir, `backfill-${kind}-${r}.log`), ...(ctx.profileDir ? { profileDir: ctx.profileDir } : {}) },
        );
        const done = await child.backfillResult(30 * 60_000);
        const processMs = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        const emulatorCpuMs = (cpu.user + cpu.system) / 1000;
        await child.exit();
        counter.stop();
        const opportunities = await columnValues(sandbox, "opportunities", OpportunityColumn.referralId, `${OpportunityColumn.referralId} ne null`);
        const accounts = await columnValues(sandbox, "accounts", "name", `startswith(name,'Customer ${tag}')`);
        const contacts = await columnValues(sandbox, "contacts", "emailaddress1", `startswith(emailaddress1,'cara.${tag}')`);
        const s = done.summary;
        const run: BackfillRun = {
          wallMs: s.durationMs ?? Number.NaN,
          processMs,
          requests: counter.requests,
          throttled: counter.throttled,
          peakRssMb: toMB(done.maxRss),
          duplicates: duplicatesIn(opportunities) + duplicatesIn(accounts) + duplicatesIn(contacts),
          missing: Math.max(0, o.referrals - new Set(opportunities).size) + Math.max(0, o.referrals - new Set(accounts).size) + Math.max(0, o.referrals - new Set(contacts).size),
          deadLetters: s.deadLetters ?? 0,
          errors: s.errors ?? 0,
          retries: s.retries ?? 0,
          links: done.links,
          bridgeCpuMs: done.cpuMs,
          emulatorCpuMs,
        };
        ctx.log(
          `  run ${r + 1}: ${(run.wallMs / 1000).toFixed(1)} s (process ${(processMs / 1000).toFixed(1)} s), ${run.requests} requests + ${run.throttled} × 429, ` +
            `${run.retries} retries, peak RSS ${run.peakRssMb.toFixed(0)} MB (heap ${toMB(done.peak.heapUsed).toFixed(0)} MB, external ${toMB(done.peak.external).toFixed(0)} MB), CPU bridge ${(run.bridgeCpuMs / 1000).toFixed(1)} s / emulators ${(run.emulatorCpuMs / 1000).toFixed(1)} s, ${run.links} links, duplicates ${run.duplicates}, missing ${run.missing}, dead letters ${run.deadLetters}`,
        );
        runs.push(run);
        if (r === o.runs - 1 && run.links > 0) memory = await steadyStateRss(ctx, sandbox, store, kind, o.memory);
      } finally {
        counter.stop();
        await store.drop().catch(() => undefined);
      }
    }
  } finally {
    await sandbox.close();
  }
  const base = `backfill.${kind}`;
  const lowerBound = (r: BackfillRun) => (r.requests * o.latencyMs) / MAX_CONCURRENT;
  return [
    figure(`${base}.wallTime`, "s", spread(runs.map((r) => r.wallMs / 1000)), { op: "<=", value: 60 }, `${o.referrals} referrals, each with an account and a contact`, BACKFILL_OFF),
    figure(`${base}.duplicates`, "rows", spread(runs.map((r) => r.duplicates)), { op: "==", value: 0 }, "opportunities per referral id, accounts per name, contacts per e-mail", BACKFILL_OFF),
    figure(`${base}.missing`, "rows", spread(runs.map((r) => r.missing)), { op: "==", value: 0 }, "opportunities, accounts, contacts not created", BACKFILL_OFF),
    figure(`${base}.unhandled429`, "jobs", spread(runs.map((r) => r.deadLetters + r.errors)), { op: "==", value: 0 }, "dead letters or errors left after the backfill", BACKFILL_OFF),
    figure(`${base}.throttled`, "responses", spread(runs.map((r) => r.throttled)), null, "429s Dataverse answered (each retried after its Retry-After)", BACKFILL_OFF),
    figure(`${base}.peakRss`, "MB", spread(runs.map((r) => r.peakRssMb)), { op: "<=", value: 300 }, "the backfill process (kernel's peak resident set)", BACKFILL_OFF),
    figure(`${base}.bridgeCpu`, "s", spread(runs.map((r) => r.bridgeCpuMs / 1000)), null, "CPU time of the backfill process (user + system)", BACKFILL_OFF),
    figure(`${base}.emulatorCpu`, "s", spread(runs.map((r) => r.emulatorCpuMs / 1000)), null, "CPU time of the emulators' process during the backfill", BACKFILL_OFF),
    figure(`${base}.requests`, "requests", spread(runs.map((r) => r.requests)), null, "Dataverse requests admitted (a $batch is one)", BACKFILL_OFF),
    figure(`${base}.lowerBound`, "s", spread(runs.map((r) => lowerBound(r) / 1000)), null, `requests × ${o.latencyMs} ms / ${MAX_CONCURRENT}`, BACKFILL_OFF),
    figure(`${base}.ratioToLowerBound`, "×", spread(runs.map((r) => r.wallMs / lowerBound(r))), null, "wall time / lower bound", BACKFILL_OFF),
    figure(
      `${base}.windowBound`,
      "s",
      spread(runs.map((r) => (r.requests * o.window.windowSeconds) / o.window.requestsPerWindow)),
      null,
      `requests / (${o.window.requestsPerWindow} per ${o.window.windowSeconds} s): the request window's own bound`,
      BACKFILL_OFF,
    ),
    memory
      ? figure(`memory.${kind}.steadyStateRss`, "MB", spread(memory), { op: "<=", value: 150 }, `the bridge serving, holding ${o.referrals} links`, SERVING_OFF)
      : unmeasured(`memory.${kind}.steadyStateRss`, "MB", { op: "<=", value: 150 }, "no backfill filled the store", SERVING_OFF),
  ];
}
