/**
 * The bridge under test, in a process of its own (so its CPU, its event loop and its memory are its
 * own, not the emulators'). Started by bench/lib/bridge-process.ts with an IPC channel; the first
 * message says what to run:
 *
 *   serve     startBridge (webhooks, worker), optionally `connect` (both webhooks registered), and
 *             optionally a bare Fastify route answering 204 (the intake baseline), on port 0
 *   backfill  one `backfill` against the sandbox, then its summary and this process's peak RSS
 *
 * While serving it answers `stats` (RSS, heap, queue), `sweep` (one reconcile sweep) and `stop`.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import Fastify, { type FastifyInstance } from "fastify";
import { z } from "zod";
import { loadConfig } from "@cosell/bridge/src/config";
import { connect } from "@cosell/bridge/src/connect";
import { createRuntime, startBridge, type RunningBridge } from "@cosell/bridge/src/index";
import { createLogger } from "@cosell/bridge/src/observability/logger";
import { backfill } from "@cosell/bridge/src/reconcile/backfill";
import type { StoreConfig } from "@cosell/bridge/src/store";

const StoreSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("sqlite"), path: z.string() }),
  z.object({ kind: z.literal("postgres"), connectionString: z.string(), schema: z.string(), poolSize: z.number().int().positive().optional() }),
]);

export const StartMessage = z.object({
  mode: z.enum(["serve", "backfill"]),
  env: z.record(z.string(), z.string()),
  store: StoreSchema,
  worker: z.boolean().default(true),
  connect: z.boolean().default(false),
  bare: z.boolean().default(false),
  concurrency: z.number().int().positive().optional(),
  webhookHeader: z.string().default("x-cosell-webhook-key"),
});
export type StartMessage = z.input<typeof StartMessage>;

const Command = z.object({ cmd: z.enum(["stats", "sweep", "stop"]), id: z.number() });

function send(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error("bench/child/bridge.ts must be started with an IPC channel"));
    process.send(message, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

// How long the bridge's event loop was blocked (SQLite is synchronous; GC pauses): reset on each read.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function loop() {
  const out = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  loopDelay.reset();
  return out;
}

function memory() {
  const m = process.memoryUsage();
  // resourceUsage().maxRSS is in kilobytes: the process's peak resident set so far.
  const cpu = process.cpuUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, maxRss: process.resourceUsage().maxRSS * 1024, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function serve(start: z.infer<typeof StartMessage>): Promise<void> {
  const config = loadConfig(start.env);
  const log = createLogger({ level: config.logLevel, secrets: Object.values(start.env).filter((v) => v.length > 20), destination: process.stderr });
  const bridge: RunningBridge = await startBridge(config, { log, store: start.store as StoreConfig, worker: start.worker, reconcile: false, workerPollMs: 200 });
  let bare: FastifyInstance | undefined;
  let bareUrl: string | undefined;
  if (start.bare) {
    // The baseline: the same framework and the same HTTP stack, nothing but a 204.
    bare = Fastify({ logger: false });
    bare.post("/bare", async (_req, reply) => reply.code(204).send());
    bareUrl = `${await bare.listen({ port: 0, host: "127.0.0.1" })}/bare`;
  }
  if (start.connect) {
    const plan = await connect({
      publicUrl: bridge.url,
      partnerCenter: bridge.runtime.partnerCenterClient,
      dataverse: bridge.runtime.dataverseClient,
      mapping: await bridge.runtime.settings.mapping(),
      webhookHeader: start.webhookHeader,
      webhookKey: config.dataverse.webhookKey,
    });
    if (!plan.ok) throw new Error(`connect refused: ${JSON.stringify(plan.steps)}`);
  }
  const stop = async () => {
    await bare?.close();
    await bridge.close();
  };
  process.on("message", (raw: unknown) => {
    const parsed = Command.safeParse(raw);
    if (!parsed.success) return;
    const { cmd, id } = parsed.data;
    void (async () => {
      try {
        if (cmd === "stats") {
          const queue = await bridge.runtime.store.queueStats();
          await send({ type: "reply", id, value: { ...memory(), queue, busy: bridge.runtime.worker.busy, loopDelay: loop() } });
        } else if (cmd === "sweep") {
          const summary = await bridge.runtime.reconciler.sweep({ fromBeginning: true });
          await send({ type: "reply", id, value: { enqueued: summary.keys.length } });
        } else {
          await stop();
          await send({ type: "reply", id, value: {} });
          process.exit(0);
        }
      } catch (err) {
        await send({ type: "reply", id, error: (err as Error).stack ?? String(err) });
      }
    })();
  });
  await send({ type: "ready", url: bridge.url, ...(bareUrl ? { bareUrl } : {}), ...memory() });
}

async function runBackfill(start: z.infer<typeof StartMessage>): Promise<void> {
  const config = loadConfig(start.env);
  const log = createLogger({ level: config.logLevel, secrets: Object.values(start.env).filter((v) => v.length > 20), destination: process.stderr });
  const rt = await createRuntime(config, { log, store: start.store as StoreConfig, ...(start.concurrency ? { workerConcurrency: start.concurrency } : {}) });
  // What the peak RSS is made of: the JS heap, and memory outside it (buffers, native).
  const peak = { heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  }, 250);
  try {
    await send({ type: "ready", ...memory() });
    // Progress once a second to stderr (the run's log): where the time goes.
    let lastProgress = 0;
    const t0 = performance.now();
    const summary = await backfill(rt, {
      ...(start.concurrency ? { concurrency: start.concurrency } : {}),
      onProgress: (p) => {
        const now = performance.now();
        if (now - lastProgress < 1000) return;
        lastProgress = now;
        const m = process.memoryUsage();
        process.stderr.write(`progress ${((now - t0) / 1000).toFixed(1)} s ${p.phase} listed ${p.listed} done ${p.done}/${p.total} heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MB rss ${(m.rss / 2 ** 20).toFixed(0)} MB\n`);
      },
    });
    const links = await countLinks(rt.store);
    await send({ type: "backfill", summary, links, peak, ...memory() });
  } finally {
    clearInterval(sampler);
    await rt.close();
  }
}

async function countLinks(store: { listLinks(q: { afterKey?: string; limit?: number }): Promise<Array<{ key: string }>> }): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.listLinks({ limit: 1000, ...(after ? { afterKey: after } : {}) });
    n += page.length;
    if (page.length < 1000) return n;
    after = page[page.length - 1]?.key;
  }
}

process.once("message", (raw: unknown) => {
  const start = StartMessage.parse(raw);
  const run = start.mode === "serve" ? serve(start) : runBackfill(start).then(() => process.exit(0));
  run.catch(async (err: unknown) => {
    await send({ type: "error", error: (err as Error).stack ?? String(err) }).catch(() => undefined);
    process.exit(1);
  });
});
