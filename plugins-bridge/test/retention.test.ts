/**
 * Retention (engine/retention.ts, issue 13): the store stays the same size once traffic has run
 * longer than COSELL_RETENTION_DAYS, on both engines (a SQLite file; PostgreSQL at 127.0.0.1:5432,
 * database `test`, a schema of its own, dropped afterwards; unreachable is a failure), and what is
 * still needed (pending create intents, queued jobs, dead letters, links, other cursors) is kept.
 * `startBridge` prunes at start and on its timer, which stops on close.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import { Client } from "pg";
import { loadConfig } from "../src/config";
import { createIntentName } from "../src/engine/sync-engine";
import { DAY_MS, Retention } from "../src/engine/retention";
import { startBridge } from "../src/index";
import { createLogger } from "../src/observability/logger";
import { dropPostgresSchema, openStore, type PruneInput, type PruneResult, type Store, type StoreConfig } from "../src/store";
import { VALID_ENV } from "./config-fixtures";

const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const T0 = Date.parse("2026-01-01T09:00:00.000Z");
const TABLES = ["events", "sync_log", "cursors", "jobs", "links"] as const;
type Counts = Record<(typeof TABLES)[number], number>;

interface Engine {
  readonly config: StoreConfig;
  counts(): Promise<Counts>;
  cleanup(): Promise<void>;
}

function sqliteEngine(): Engine {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-retention-"));
  const file = path.join(dir, "store.sqlite");
  return {
    config: { kind: "sqlite", path: file },
    counts: async () => {
      const db = new Database(file, { readonly: true });
      try {
        const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
        return Object.fromEntries(TABLES.map((t) => [t, count(t)])) as Counts;
      } finally {
        db.close();
      }
    },
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresEngine(): Engine {
  const schema = `cosell_test_${Math.random().toString(36).slice(2, 10)}`;
  return {
    config: { kind: "postgres", connectionString: PG_URL, schema, poolSize: 4 },
    counts: async () => {
      const c = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5_000 });
      try {
        await c.connect();
      } catch (err) {
        throw new Error(`PostgreSQL is required for the retention tests at ${PG_URL} (user postgres, trust auth, database test); CI starts it`, { cause: err });
      }
      try {
        const out: Partial<Counts> = {};
        for (const t of TABLES) out[t] = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".${t}`)).rows[0]?.n);
        return out as Counts;
      } finally {
        await c.end();
      }
    },
    cleanup: () => dropPostgresSchema(PG_URL, schema),
  };
}

const quietLog = () => ({ info: jest.fn(), error: jest.fn() });

describe.each([
  ["sqlite", sqliteEngine],
  ["postgres", postgresEngine],
] as const)("retention on %s", (_name, makeEngine) => {
  let engine: Engine;
  let store: Store;
  let now = T0;
  const RETENTION_DAYS = 30;
  const PER_DAY = 8;

  beforeAll(async () => {
    engine = makeEngine();
    store = await openStore(engine.config, { now: () => now });
  });
  afterAll(async () => {
    await store?.close();
    await engine?.cleanup();
  });

  /**
   * A day of traffic: PER_DAY new referrals, each created as an opportunity (webhook stored, intent
   * kept before the create, link saved, job done, two history rows), spread over the day.
   */
  async function day(n: number): Promise<void> {
    for (let i = 0; i < PER_DAY; i++) {
      now = T0 + n * DAY_MS + i * 60_000;
      const referralId = `ref-${n}-${i}`;
      const key = `opportunity:opp-${n}-${i}`;
      await store.recordEvent({ source: "partner-center", dedupeKey: `${referralId}|created`, linkKey: `referral:${referralId}`, receivedAt: new Date(now), payload: { referralId } });
      await store.setCursor(createIntentName(referralId), JSON.stringify({ copied: { "opportunity.name": referralId } }));
      await store.saveLink({
        key,
        referralId,
        engagementId: null,
        entity: "opportunity",
        recordId: `opp-${n}-${i}`,
        base: {},
        pcETag: null,
        crmETag: null,
        lastSyncedAt: new Date(now),
        state: "active",
        expectedVersion: null,
      });
      const job = await store.claimNext("w", 60_000);
      if (!job) throw new Error("the day's job was not queued");
      await store.completeAndClaim(
        job.id,
        "w",
        [
          { linkKey: key, direction: "PC→CRM", outcome: "ok", message: `created from ${referralId}`, correlationId: null, at: new Date(now) },
          { linkKey: key, direction: "CRM→PC", outcome: "ok", message: "accepted", correlationId: null, at: new Date(now) },
        ],
        null,
      );
    }
  }

  test("60 days of traffic with the hourly run: flat once the retention starts, and nothing still needed is pruned", async () => {
    // Still needed, from day 0: a create that has not finished (no link), a dead letter, a job
    // waiting in the queue, the refresh token and a reconcile cursor.
    now = T0;
    await store.setCursor(createIntentName("ref-pending"), JSON.stringify({ copied: {} }));
    await store.setCursor("secret:partner-center-refresh-token", "{}");
    await store.setCursor("reconcile:partner-center", "2026-01-01T00:00:00Z|ref-0");
    const dead = await store.enqueue({ linkKey: "opportunity:dead", kind: "sync", payload: {} });
    await store.claimNext("w", 60_000);
    await store.deadLetter(dead.jobId, "the referral is read-only");
    const waiting = await store.enqueue({ linkKey: "opportunity:later", kind: "sync", payload: {}, runAt: new Date(T0 + 365 * DAY_MS) });

    const log = quietLog();
    const retention = new Retention({ store, log, policy: { days: RETENTION_DAYS, intervalMs: 3_600_000 }, now: () => now });
    const sizes: Counts[] = [];
    for (let n = 0; n < 60; n++) {
      await day(n);
      now = T0 + n * DAY_MS + 12 * 3_600_000;
      await retention.runOnce(); // what the timer runs every hour; once a day is enough to simulate
      sizes.push(await engine.counts());
    }

    // Links grow (one per referral, never pruned); everything else levels off after 30 days.
    const flat = sizes.slice(RETENTION_DAYS + 1);
    for (const s of flat) {
      expect({ events: s.events, sync_log: s.sync_log, cursors: s.cursors, jobs: s.jobs }).toEqual({
        events: RETENTION_DAYS * PER_DAY,
        sync_log: RETENTION_DAYS * PER_DAY * 2,
        cursors: RETENTION_DAYS * PER_DAY + 3,
        jobs: 2,
      });
    }
    expect(sizes.at(-1)?.links).toBe(60 * PER_DAY);
    // Without pruning, day 60 would hold 60 days of each.
    expect(sizes.at(-1)?.events).toBeLessThan(60 * PER_DAY);

    expect(await store.getCursor(createIntentName("ref-pending"))).toBeDefined();
    expect(await store.getCursor("secret:partner-center-refresh-token")).toBe("{}");
    expect(await store.getCursor("reconcile:partner-center")).toBeDefined();
    expect(await store.getCursor(createIntentName("ref-0-0"))).toBeUndefined();
    expect(await store.getCursor(createIntentName("ref-59-0"))).toBeDefined();
    expect((await store.listDeadLetters()).map((j) => j.id)).toEqual([dead.jobId]);
    expect((await store.getJob(waiting.jobId))?.state).toBe("queued");
    expect(log.error).not.toHaveBeenCalled();
    expect(log.info).toHaveBeenLastCalledWith(
      expect.objectContaining({ retentionDays: 30, pruned: { syncs: PER_DAY * 2, events: PER_DAY, createIntents: PER_DAY } }),
      "retention: pruned old rows",
    );
  });
});

describe("the retention timer", () => {
  afterEach(() => jest.useRealTimers());

  const fakeStore = () => {
    const calls: PruneInput[] = [];
    let release: (() => void) | undefined;
    return {
      calls,
      /** Holds the next prune until `finish()` is called. */
      hold: () => new Promise<void>((r) => (release = r)),
      finish: () => release?.(),
      prune: jest.fn(async (input: PruneInput): Promise<PruneResult> => {
        calls.push(input);
        return { syncs: 1, events: 2, createIntents: 3 };
      }),
    };
  };

  test("runs at start, then every interval, with the cutoff the policy's days before now; unref'd; stops on stop()", async () => {
    jest.useFakeTimers({ doNotFake: ["nextTick", "setImmediate", "queueMicrotask"], now: T0 });
    const store = fakeStore();
    const log = quietLog();
    const setIntervalSpy = jest.spyOn(global, "setInterval");
    const retention = new Retention({ store, log, policy: { days: 7, intervalMs: 3_600_000 } });
    retention.start();
    await Promise.resolve();
    expect(store.calls).toEqual([{ syncsBefore: new Date(T0 - 7 * DAY_MS), eventsBefore: new Date(T0 - 7 * DAY_MS), createIntentsBefore: new Date(T0 - 7 * DAY_MS) }]);
    const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
    expect(setIntervalSpy).toHaveBeenCalledWith(expect.any(Function), 3_600_000);
    expect(timer.hasRef()).toBe(false);
    setIntervalSpy.mockRestore();

    await jest.advanceTimersByTimeAsync(3_600_000);
    expect(store.calls).toHaveLength(2);
    expect(store.calls[1]?.syncsBefore).toEqual(new Date(T0 + 3_600_000 - 7 * DAY_MS));
    await jest.advanceTimersByTimeAsync(2 * 3_600_000);
    expect(store.calls).toHaveLength(4);
    expect(log.info).toHaveBeenCalledWith(expect.objectContaining({ pruned: { syncs: 1, events: 2, createIntents: 3 } }), "retention: pruned old rows");

    await retention.stop();
    await jest.advanceTimersByTimeAsync(10 * 3_600_000);
    expect(store.calls).toHaveLength(4);
  });

  test("a failed run is logged and the next one runs; a slow run is never overlapped; stop() waits for it", async () => {
    jest.useFakeTimers({ doNotFake: ["nextTick", "setImmediate", "queueMicrotask"], now: T0 });
    const store = fakeStore();
    const log = quietLog();
    store.prune.mockRejectedValueOnce(new Error("database is locked"));
    const retention = new Retention({ store, log, policy: { days: 30, intervalMs: 1_000 } });
    retention.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(log.error).toHaveBeenCalledWith({ err: expect.objectContaining({ message: "database is locked" }) }, "retention: pruning failed");

    const held = store.hold();
    store.prune.mockImplementationOnce(async (input) => {
      store.calls.push(input);
      await held;
      return { syncs: 0, events: 0, createIntents: 0 };
    });
    await jest.advanceTimersByTimeAsync(1_000); // the slow run starts
    await jest.advanceTimersByTimeAsync(5_000); // its ticks are skipped
    expect(store.prune).toHaveBeenCalledTimes(2);
    let stopped = false;
    const stopping = retention.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    store.finish();
    await stopping;
    expect(stopped).toBe(true);
  });
});

test("startBridge prunes at start (nothing did before) and stops the timer on close", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-retention-bridge-"));
  const file = path.join(dir, "bridge.sqlite");
  try {
    // 40 days ago and just now: a webhook, a history row, and a finished create.
    const old = Date.now() - 40 * DAY_MS;
    let now = old;
    const seed = await openStore({ kind: "sqlite", path: file }, { now: () => now });
    for (const [at, tag] of [
      [old, "old"],
      [Date.now(), "new"],
    ] as const) {
      now = at;
      await seed.recordEvent({ source: "dataverse", dedupeKey: tag, linkKey: `opportunity:${tag}`, receivedAt: new Date(at), payload: {} });
      await seed.recordSync({ linkKey: `opportunity:${tag}`, direction: "CRM→PC", outcome: "ok", message: tag, correlationId: null, at: new Date(at) });
      await seed.setCursor(createIntentName(`ref-${tag}`), "{}");
      await seed.saveLink({ key: `opportunity:${tag}`, referralId: `ref-${tag}`, engagementId: null, entity: "opportunity", recordId: tag, base: {}, pcETag: null, crmETag: null, lastSyncedAt: new Date(at), state: "active", expectedVersion: null });
    }
    await seed.close();

    const lines: string[] = [];
    const log = createLogger({ level: "info", secrets: [], destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString("utf8")), done()) }) });
    const config = loadConfig({ ...VALID_ENV, BRIDGE_PORT: "0", BRIDGE_HOST: "127.0.0.1", BRIDGE_SQLITE_PATH: file, RECONCILE_INTERVAL_SECONDS: "0" });
    expect(config.retention).toEqual({ days: 30, intervalMs: 3_600_000 });
    const clearSpy = jest.spyOn(global, "clearInterval");
    const bridge = await startBridge(config, { log, worker: false });
    try {
      const deadline = Date.now() + 10_000;
      while (!lines.some((l) => l.includes("retention: pruned old rows")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const line = JSON.parse(lines.find((l) => l.includes("retention: pruned old rows")) ?? "{}") as { pruned?: unknown; retentionDays?: number };
      expect(line).toMatchObject({ retentionDays: 30, pruned: { syncs: 1, events: 1, createIntents: 1 } });
      const store = bridge.runtime.store;
      expect((await store.recentSyncs()).map((s) => s.message)).toEqual(["new"]);
      expect(await store.findEvent("dataverse", "old")).toBeUndefined();
      expect(await store.findEvent("dataverse", "new")).toBeDefined();
      expect(await store.getCursor(createIntentName("ref-old"))).toBeUndefined();
      expect(await store.getCursor(createIntentName("ref-new"))).toBe("{}");
    } finally {
      const before = clearSpy.mock.calls.length;
      await bridge.close();
      expect(clearSpy.mock.calls.length).toBeGreaterThan(before);
      clearSpy.mockRestore();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
