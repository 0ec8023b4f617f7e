/**
 * The sync shell's own rules, table-driven: job keys, the bases it stores after creates and after
 * a half-done sync, and what the worker does with each outcome and each kind of failure (on a real
 * SQLite store; the engine is a stand-in that answers what each row says).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { isGuid, parseKey, recordKey, referralKey } from "../src/engine/keys";
import { agreedBase, baseAfterReferralCreated, type SyncEngine, type SyncOutcome } from "../src/engine/sync-engine";
import { Worker, type JobResult } from "../src/engine/worker";
import { AuthError, ConcurrencyError, NotFoundError, ThrottledError, TransientError, ValidationError } from "../src/http/errors";
import { loadMapping } from "../src/mapping";
import { LinkConflictError, openStore, StaleLinkError, type Store } from "../src/store";

const GUID = "0B7C9A52-6C1E-4F7A-9D5E-1A2B3C4D5E6F";

describe("job keys", () => {
  it.each([
    [recordKey("opportunity", GUID), { kind: "opportunity", id: GUID.toLowerCase() }],
    [recordKey("lead", GUID), { kind: "lead", id: GUID.toLowerCase() }],
    [referralKey("R-1"), { kind: "referral", id: "R-1" }],
    ["opportunity:not-a-guid", undefined],
    ["account:" + GUID, undefined],
    ["referral:", undefined],
    ["nonsense", undefined],
  ])("%s → %j", (key, parsed) => {
    expect(parseKey(key)).toEqual(parsed);
  });

  it("keys a record the same way whatever the id's case (webhooks and the Web API differ)", () => {
    expect(recordKey("opportunity", GUID)).toBe(recordKey("opportunity", GUID.toLowerCase()));
    expect(isGuid(GUID)).toBe(true);
    expect(isGuid("x")).toBe(false);
  });
});

describe("bases", () => {
  it("agreedBase takes every value both sides now hold and keeps the old base elsewhere", () => {
    const base = { a: 1, b: "x", c: null, "a#held": { pc: 1, crm: 2, reason: "conflict" } };
    expect(agreedBase(base, { a: 2, b: "y", c: "z" }, { a: 2, b: "w", c: "z" })).toEqual({ a: 2, b: "x", c: "z", "a#held": { pc: 1, crm: 2, reason: "conflict" } });
    expect(agreedBase(undefined, { a: [1, 2] }, { a: [1, 2] })).toEqual({ a: [1, 2] });
  });

  it("after a referral is created, shared fields start from Partner Center's values and Partner Center-only fields from Dynamics'", () => {
    const mapping = loadMapping(undefined, {});
    const base = baseAfterReferralCreated(mapping, { "opportunity.dealValue": 100, "opportunity.referralId": "R-1" }, { "opportunity.dealValue": 99, "opportunity.referralId": null });
    expect(base["opportunity.dealValue"]).toBe(100); // both
    expect(base["opportunity.referralId"]).toBeNull(); // pc-to-crm: the first merge copies the id over
    expect(Object.keys(base).every((k) => k.startsWith("opportunity.") || k.startsWith("account.") || k.startsWith("contact."))).toBe(true);
  });
});

describe("worker", () => {
  let dir: string;
  let store: Store;
  let answer: (key: string) => Promise<SyncOutcome>;
  const results: JobResult[] = [];
  const marked: Array<{ key: string; message: string }> = [];
  const engine = {
    run: (key: string) => answer(key),
    markKeyFailed: async (key: string, message: string) => void marked.push({ key, message }),
  } as unknown as SyncEngine;
  let worker: Worker;
  const done = (over: Partial<Extract<SyncOutcome, { kind: "done" }>> = {}): SyncOutcome => ({ kind: "done", reports: [], wrote: { partnerCenter: 0, dataverse: 0 }, ...over });
  const details = { service: "partner-center" as const, method: "GET", path: "/x" };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-worker-"));
    store = await openStore({ kind: "sqlite", path: path.join(dir, "w.sqlite") }, { maxAttempts: 3 });
    worker = new Worker({ store, engine, log: pino({ level: "silent" }), concurrency: 1, instanceId: "t", leaseMs: 10_000, random: () => 0.5, onResult: (r) => results.push(r) });
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    results.length = 0;
    marked.length = 0;
  });

  async function runOnce(key: string): Promise<JobResult> {
    await store.enqueue({ linkKey: key, kind: "sync", payload: { hops: 0 } });
    const job = await store.claimNext("w", 10_000);
    if (!job) throw new Error("nothing to claim");
    return worker.process(job, "w");
  }

  it("completes a done job and enqueues its follow-up under the canonical key", async () => {
    answer = async () => done({ followUp: recordKey("opportunity", GUID) });
    const r = await runOnce("referral:f-1");
    expect(r.outcome.kind).toBe("done");
    expect(await store.getJob(r.job.id)).toBeUndefined();
    const next = await store.claimNext("w", 10_000);
    expect(next?.linkKey).toBe(recordKey("opportunity", GUID));
    await store.complete(next?.id as number, "w");
  });

  it("forwards work to the link's key, and gives up on a forwarding loop", async () => {
    answer = async (key) => ({ kind: "forward", to: key === "referral:a" ? "referral:b" : "referral:a", reason: "loop" });
    let r = await runOnce("referral:a");
    for (let i = 0; i < 10 && r.outcome.kind === "done"; i++) {
      const next = await store.claimNext("w", 10_000);
      if (!next) break;
      r = await worker.process(next, "w");
    }
    expect(r.outcome).toMatchObject({ kind: "dead-letter", reason: expect.stringMatching(/forwarded 6 times/) });
    await store.retryDeadLetter(r.job.id);
    await store.complete((await store.claimNext("w", 1000))?.id as number, "w");
  });

  it.each([
    ["ThrottledError", "retry", new ThrottledError("429", { ...details, status: 429 }, 7_000)],
    ["TransientError", "retry", new TransientError("503", { ...details, status: 503 })],
    ["ConcurrencyError", "retry", new ConcurrencyError("412", { ...details, status: 412 })],
    ["StaleLinkError", "retry", new StaleLinkError("k", 1, 2)],
    ["an unexpected error", "retry", new TypeError("boom")],
    ["ValidationError", "dead-letter", new ValidationError("400", { ...details, status: 400 })],
    ["AuthError", "dead-letter", new AuthError("401", { ...details, status: 401 })],
    ["NotFoundError", "dead-letter", new NotFoundError("404", { ...details, status: 404 })],
    ["LinkConflictError", "dead-letter", new LinkConflictError("k", "other", "taken")],
  ] as const)("%s → %s", async (_name, expected, error) => {
    answer = async () => {
      throw error;
    };
    const key = `referral:err-${Math.random().toString(36).slice(2)}`;
    const r = await runOnce(key);
    expect(r.outcome.kind).toBe(expected);
    const job = await store.getJob(r.job.id);
    if (expected === "retry") {
      expect(job?.state).toBe("queued");
      expect(job?.lastError).toContain(error.name);
    } else {
      expect(job?.state).toBe("dead");
      expect(marked).toEqual([{ key, message: expect.any(String) }]);
    }
    if (job?.state === "queued") {
      await store.deadLetter(job.id, "cleanup");
    }
  });

  it("never retries a throttled job before the server's Retry-After", async () => {
    answer = async () => {
      throw new ThrottledError("429", { ...details, status: 429 }, 42_000);
    };
    const r = await runOnce("referral:throttled");
    if (r.outcome.kind !== "retry") throw new Error(`expected a retry, got ${r.outcome.kind}`);
    const claimedAt = (r.job.lockedUntil?.getTime() ?? 0) - 10_000;
    expect(r.outcome.runAt.getTime() - claimedAt).toBeGreaterThanOrEqual(42_000);
    expect((await store.getJob(r.job.id))?.runAt.getTime()).toBe(r.outcome.runAt.getTime());
  });

  it("backs off exponentially and dead-letters after the configured attempts, telling the seller", async () => {
    // A store whose clock the test moves: each retry becomes due without waiting for it.
    let clock = Date.now();
    const timed = await openStore({ kind: "sqlite", path: path.join(dir, "clock.sqlite") }, { maxAttempts: 3, now: () => clock });
    const w = new Worker({ store: timed, engine, log: pino({ level: "silent" }), concurrency: 1, instanceId: "t", leaseMs: 10_000, random: () => 0.5 });
    answer = async () => {
      throw new TransientError("503", { ...details, status: 503 });
    };
    try {
      await timed.enqueue({ linkKey: "referral:flaky", kind: "sync", payload: {} });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        const job = await timed.claimNext("w", 10_000);
        if (!job) throw new Error(`attempt ${attempt}: nothing due`);
        expect(job.attempts).toBe(attempt);
        const r = await w.process(job, "w");
        if (r.outcome.kind !== "retry") throw new Error(`expected a retry, got ${r.outcome.kind}`);
        if (attempt < 3) {
          expect(r.outcome.dead).toBe(false);
          delays.push(r.outcome.runAt.getTime() - Date.now());
          expect(await timed.claimNext("w", 10_000)).toBeUndefined(); // not before its run_at
          clock = r.outcome.runAt.getTime() + 1;
        } else expect(r.outcome.dead).toBe(true);
      }
      const dead = (await timed.listDeadLetters()).find((j) => j.linkKey === "referral:flaky");
      expect(dead?.lastError).toMatch(/gave up after 3 attempts/);
      expect(delays[1] as number).toBeGreaterThan(delays[0] as number);
      expect(marked.some((m) => m.key === "referral:flaky" && /after several attempts/.test(m.message))).toBe(true);
    } finally {
      await timed.close();
    }
  });
});
