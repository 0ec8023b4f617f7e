/**
 * SYNC_BACKOFF_MAX_SECONDS reaches the worker: the configuration's backoff policy, passed to the
 * Worker explicitly, caps the wait before each retry of a failing sync (on a real SQLite store whose
 * clock the test moves, so no retry is waited for). Jitter is pinned to its top (random = 1), so
 * each wait is exactly min(ceiling, 1 s × 2^(attempt − 1)); the assertions bracket run_at between
 * the moments just before and just after the failure, never measure elapsed time.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { loadConfig } from "../src/config";
import type { SyncEngine } from "../src/engine/sync-engine";
import { Worker } from "../src/engine/worker";
import { ThrottledError, TransientError } from "../src/http/errors";
import { openStore, type BackoffPolicy } from "../src/store";
import { VALID_ENV } from "./config-fixtures";

const valid: Record<string, string> = { ...VALID_ENV };

const details = { service: "partner-center" as const, method: "GET", path: "/x" };

describe("worker backoff from SYNC_BACKOFF_MAX_SECONDS", () => {
  let dir: string;
  let failure: () => Error;
  const engine = {
    run: async () => {
      throw failure();
    },
    markKeyFailed: async () => undefined,
  } as unknown as SyncEngine;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-backoff-"));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Fails one job `attempts` times in a row; for each retry, the expected wait and whether run_at fell within it. */
  async function waits(name: string, backoff: BackoffPolicy | undefined, attempts: number): Promise<Array<{ atLeast: boolean; atMost: boolean; delay: number }>> {
    let clock = Date.now();
    const store = await openStore({ kind: "sqlite", path: path.join(dir, `${name}.sqlite`) }, { maxAttempts: 100, now: () => clock });
    const worker = new Worker({ store, engine, log: pino({ level: "silent" }), concurrency: 1, instanceId: name, leaseMs: 10_000, random: () => 1, ...(backoff ? { backoff } : {}) });
    const out: Array<{ atLeast: boolean; atMost: boolean; delay: number }> = [];
    try {
      await store.enqueue({ linkKey: `referral:${name}`, kind: "sync", payload: {} });
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const job = await store.claimNext("w", 10_000);
        if (!job) throw new Error(`attempt ${attempt}: nothing due`);
        expect(job.attempts).toBe(attempt);
        const before = Date.now();
        const r = await worker.process(job, "w");
        const after = Date.now();
        if (r.outcome.kind !== "retry") throw new Error(`expected a retry, got ${r.outcome.kind}`);
        expect((await store.getJob(job.id))?.runAt.getTime()).toBe(r.outcome.runAt.getTime());
        const delay = Math.min(backoff?.maxMs ?? 15 * 60_000, 1_000 * 2 ** (attempt - 1));
        const runAt = r.outcome.runAt.getTime();
        out.push({ atLeast: runAt >= before + delay, atMost: runAt <= after + delay, delay });
        clock = runAt + 1;
      }
    } finally {
      await store.close();
    }
    return out;
  }

  it("caps every wait at the configured ceiling", async () => {
    failure = () => new TransientError("503", { ...details, status: 503 });
    const config = loadConfig({ ...valid, SYNC_BACKOFF_MAX_SECONDS: "3" });
    expect(config.backoff).toEqual({ baseMs: 1_000, maxMs: 3_000 });
    const got = await waits("capped", config.backoff, 6);
    expect(got.map((g) => g.delay)).toEqual([1_000, 2_000, 3_000, 3_000, 3_000, 3_000]);
    for (const g of got) expect(g).toEqual({ atLeast: true, atMost: true, delay: g.delay });
  });

  it("keeps growing up to 15 minutes by default", async () => {
    failure = () => new TransientError("503", { ...details, status: 503 });
    const config = loadConfig(valid);
    const got = await waits("default", config.backoff, 6);
    expect(got.map((g) => g.delay)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000]);
    for (const g of got) expect(g).toEqual({ atLeast: true, atMost: true, delay: g.delay });
  });

  it("takes a ceiling below the base as the whole policy (SYNC_BACKOFF_MAX_SECONDS=1)", async () => {
    failure = () => new TransientError("503", { ...details, status: 503 });
    const config = loadConfig({ ...valid, SYNC_BACKOFF_MAX_SECONDS: "1" });
    const got = await waits("one-second", config.backoff, 4);
    expect(got.map((g) => g.delay)).toEqual([1_000, 1_000, 1_000, 1_000]);
    for (const g of got) expect(g).toEqual({ atLeast: true, atMost: true, delay: g.delay });
  });

  it("still never retries before a Retry-After beyond the ceiling", async () => {
    failure = () => new ThrottledError("429", { ...details, status: 429 }, 10_000);
    const config = loadConfig({ ...valid, SYNC_BACKOFF_MAX_SECONDS: "2" });
    const store = await openStore({ kind: "sqlite", path: path.join(dir, "throttled.sqlite") }, { maxAttempts: 100 });
    const worker = new Worker({ store, engine, log: pino({ level: "silent" }), concurrency: 1, instanceId: "t", leaseMs: 10_000, random: () => 1, backoff: config.backoff });
    try {
      await store.enqueue({ linkKey: "referral:throttled", kind: "sync", payload: {} });
      const job = await store.claimNext("w", 10_000);
      if (!job) throw new Error("nothing due");
      const before = Date.now();
      const r = await worker.process(job, "w");
      if (r.outcome.kind !== "retry") throw new Error(`expected a retry, got ${r.outcome.kind}`);
      expect(r.outcome.runAt.getTime()).toBeGreaterThanOrEqual(before + 10_000);
    } finally {
      await store.close();
    }
  });
});
