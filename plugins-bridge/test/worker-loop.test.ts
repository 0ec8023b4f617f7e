/**
 * The worker's loops against a real store, on both engines: a job enqueued in this process is
 * picked up at once — also when the notify lands while a claim is in flight — and a synced job is
 * completed together with the next claim, its history with it, in per-link order. The idle poll is
 * set to an hour, so a missed wake-up shows as a test that never finishes, not as a slow one.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import type { SyncEngine, SyncOutcome } from "../src/engine/sync-engine";
import { Worker, type JobResult } from "../src/engine/worker";
import { dropPostgresSchema, openStore, type Job, type Store } from "../src/store";

const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const HOUR = 3_600_000;

type Opener = () => Promise<{ store: Store; drop: () => Promise<void> }>;

const sqlite: Opener = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-worker-loop-"));
  const store = await openStore({ kind: "sqlite", path: path.join(dir, "w.sqlite") });
  return { store, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
};

const postgres: Opener = async () => {
  const schema = `cosell_test_wl_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const store = await openStore({ kind: "postgres", connectionString: PG_URL, schema, poolSize: 4 });
  return {
    store,
    drop: () => dropPostgresSchema(PG_URL, schema),
  };
};

describe.each([["sqlite", sqlite], ["postgres", postgres]] as const)("worker loops on %s", (_name, opener) => {
  let store: Store;
  let drop: () => Promise<void>;
  let worker: Worker | undefined;
  const done = (over: Partial<Extract<SyncOutcome, { kind: "done" }>> = {}): SyncOutcome => ({ kind: "done", reports: [], wrote: { partnerCenter: 0, dataverse: 0 }, ...over });

  beforeEach(async () => {
    ({ store, drop } = await opener());
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await store.close();
    await drop();
  });

  /** Resolves with the first `n` results. */
  function collect(n: number): { results: JobResult[]; all: Promise<JobResult[]>; onResult: (r: JobResult) => void } {
    const results: JobResult[] = [];
    let resolve!: (r: JobResult[]) => void;
    const all = new Promise<JobResult[]>((r) => (resolve = r));
    return {
      results,
      all,
      onResult: (r) => {
        results.push(r);
        if (results.length === n) resolve(results);
      },
    };
  }

  it("picks up a job notified while an empty claim was in flight, without waiting for the poll", async () => {
    const c = collect(1);
    let claims = 0;
    let releaseClaim!: () => void;
    const claimHeld = new Promise<void>((r) => (releaseClaim = r));
    let claimStarted!: () => void;
    const started = new Promise<void>((r) => (claimStarted = r));
    // The first claim finds nothing, and only returns after the job was enqueued and notified.
    const gated: Store = Object.create(store, {
      claimNext: {
        value: async (workerId: string, leaseMs: number): Promise<Job | undefined> => {
          claims++;
          const job = await store.claimNext(workerId, leaseMs);
          if (claims === 1) {
            claimStarted();
            await claimHeld;
          }
          return job;
        },
      },
    }) as Store;
    const engine = { run: async () => done(), markKeyFailed: async () => undefined } as unknown as SyncEngine;
    worker = new Worker({ store: gated, engine, log: pino({ level: "silent" }), concurrency: 1, instanceId: "t", pollMs: HOUR, onResult: c.onResult });
    worker.start();
    await started;
    await store.enqueue({ linkKey: "A", kind: "sync", payload: {} });
    worker.notify();
    releaseClaim();
    const [r] = await c.all;
    expect(r?.outcome.kind).toBe("done");
    expect(claims).toBe(2);
  });

  it("completes each synced job with the next claim, history included, one job of a link at a time and in order", async () => {
    const LINKS = 4;
    const PER_LINK = 5;
    const c = collect(LINKS * PER_LINK);
    const running = new Set<string>();
    const order = new Map<string, number[]>();
    let overlaps = 0;
    const engine = {
      run: async (key: string) => {
        if (running.has(key)) overlaps++;
        running.add(key);
        await new Promise((r) => setImmediate(r));
        running.delete(key);
        return done({ reports: [{ direction: "PC→CRM", outcome: "ok", message: `synced ${key}` }] });
      },
      markKeyFailed: async () => undefined,
    } as unknown as SyncEngine;
    worker = new Worker({ store, engine, log: pino({ level: "silent" }), concurrency: 3, instanceId: "t", pollMs: HOUR, onResult: c.onResult });
    worker.start();
    for (let i = 0; i < PER_LINK; i++) {
      for (let l = 0; l < LINKS; l++) {
        // Distinct kinds: nothing coalesces, every job runs.
        const { jobId } = await store.enqueue({ linkKey: `link-${l}`, kind: `step-${i}`, payload: {} });
        const seen = order.get(`link-${l}`) ?? [];
        seen.push(jobId);
        order.set(`link-${l}`, seen);
        worker.notify();
      }
    }
    const results = await c.all;
    expect(results.every((r) => r.outcome.kind === "done")).toBe(true);
    expect(overlaps).toBe(0);
    for (let l = 0; l < LINKS; l++) {
      expect(results.filter((r) => r.job.linkKey === `link-${l}`).map((r) => r.job.id)).toEqual(order.get(`link-${l}`));
    }
    // Results are reported once the job is completed: nothing of them is left in the queue.
    expect(await store.queueStats()).toMatchObject({ queued: 0, running: 0, dead: 0 });
    const history = await store.recentSyncs(100);
    expect(history).toHaveLength(LINKS * PER_LINK);
    expect(new Set(history.map((h) => h.correlationId))).toEqual(new Set(results.map((r) => r.correlationId)));
  });

  it("completes the job in hand when stopped mid-sync, with its history", async () => {
    const c = collect(1);
    let inSync!: () => void;
    const syncing = new Promise<void>((r) => (inSync = r));
    let finishSync!: () => void;
    const finished = new Promise<void>((r) => (finishSync = r));
    const engine = {
      run: async () => {
        inSync();
        await finished;
        return done({ reports: [{ direction: "CRM→PC", outcome: "ok", message: "shared" }] });
      },
      markKeyFailed: async () => undefined,
    } as unknown as SyncEngine;
    worker = new Worker({ store, engine, log: pino({ level: "silent" }), concurrency: 2, instanceId: "t", pollMs: HOUR, onResult: c.onResult });
    worker.start();
    await store.enqueue({ linkKey: "A", kind: "sync", payload: {} });
    worker.notify();
    await syncing;
    const stopping = worker.stop();
    finishSync();
    await stopping;
    expect((await c.all)[0]?.outcome.kind).toBe("done");
    expect(await store.queueStats()).toMatchObject({ queued: 0, running: 0 });
    expect((await store.recentSyncs()).map((h) => h.message)).toEqual(["shared"]);
  });
});
