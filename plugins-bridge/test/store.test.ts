/**
 * The store's contract, run against both engines: a SQLite file and PostgreSQL (127.0.0.1:5432,
 * database `test`, one schema for this file, dropped afterwards). PostgreSQL being unreachable is a
 * failure, not a skip: CI starts it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Client } from "pg";
import {
  JobStateError,
  LeaseLostError,
  LinkConflictError,
  StaleLinkError,
  StoreClosedError,
  openStore,
  type Job,
  type SaveLinkInput,
  type Store,
  type StoreOptions,
} from "../src/store";
import { migrationProvider } from "../src/store/migrations";

const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const T0 = Date.parse("2026-11-25T10:00:00.000Z");
/** Every migration, recorded once (the list is the same on both engines). */
let MIGRATIONS = 0;
beforeAll(async () => {
  MIGRATIONS = Object.keys(await migrationProvider("sqlite").getMigrations()).length;
});

interface Harness {
  readonly name: "sqlite" | "postgres";
  setup(): Promise<void>;
  /** An empty database for the next test. */
  reset(): Promise<void>;
  open(options?: StoreOptions, extra?: { poolSize?: number }): Promise<Store>;
  /** Rows of kysely's migration table (to prove a reopen migrates nothing twice). */
  migrationCount(): Promise<number>;
  /**
   * A database that has never been migrated, with a stray `links` table that makes the migration
   * fail half-way; `clear()` removes the stray table; `tables()` lists what is there.
   */
  brokenDatabase(): Promise<{ open(): Promise<Store>; tables(): Promise<string[]>; clear(): Promise<void> }>;
  /** Fixture SQL run in the current test's database, beside the store (triggers that inject faults). */
  sql(statements: { readonly sqlite: string; readonly postgres: string }): Promise<void>;
  /** Rows of `events`, and on PostgreSQL how many transactions wrote them (distinct xmin). */
  eventRows(): Promise<{ rows: number; transactions?: number }>;
  teardown(): Promise<void>;
}

function sqliteHarness(): Harness {
  let dir = "";
  let n = 0;
  const file = () => path.join(dir, `store-${n}.sqlite`);
  return {
    name: "sqlite",
    setup: async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-store-"));
    },
    reset: async () => {
      n++;
    },
    open: (options) => openStore({ kind: "sqlite", path: file() }, options),
    migrationCount: async () => {
      const db = new Database(file(), { readonly: true });
      try {
        return (db.prepare("SELECT COUNT(*) AS n FROM kysely_migration").get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    brokenDatabase: async () => {
      const broken = path.join(dir, `broken-${n}.sqlite`);
      const sql = (text: string): string[][] | undefined => {
        const db = new Database(broken);
        try {
          const statement = db.prepare(text);
          if (!statement.reader) return void statement.run();
          return statement.raw().all() as string[][];
        } finally {
          db.close();
        }
      };
      sql("CREATE TABLE links (stray INTEGER)");
      return {
        open: () => openStore({ kind: "sqlite", path: broken }),
        tables: async () => (sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") ?? []).map((r) => String(r[0])),
        clear: async () => void sql("DROP TABLE links"),
      };
    },
    sql: async (statements) => {
      const db = new Database(file());
      try {
        db.exec(statements.sqlite);
      } finally {
        db.close();
      }
    },
    eventRows: async () => {
      const db = new Database(file(), { readonly: true });
      try {
        return { rows: (db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n };
      } finally {
        db.close();
      }
    },
    teardown: async () => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresHarness(): Harness {
  const schema = `cosell_test_${Math.random().toString(36).slice(2, 10)}`;
  let admin: Client | undefined;
  const connected = () => {
    if (!admin) throw new Error("PostgreSQL harness not set up");
    return admin;
  };
  return {
    name: "postgres",
    setup: async () => {
      admin = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5_000 });
      try {
        await admin.connect();
      } catch (err) {
        admin = undefined;
        throw new Error(
          `PostgreSQL is required for the store tests at ${PG_URL} (user postgres, trust auth, database test); CI starts it`,
          { cause: err },
        );
      }
    },
    reset: async () => {
      const exists = await connected().query("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'jobs'", [
        schema,
      ]);
      if (exists.rowCount) {
        await connected().query(`DROP TRIGGER IF EXISTS refuse_events ON "${schema}".events`);
        await connected().query(`TRUNCATE "${schema}".events, "${schema}".jobs, "${schema}".links, "${schema}".cursors, "${schema}".sync_log RESTART IDENTITY`);
      }
    },
    open: (options, extra) =>
      openStore({ kind: "postgres", connectionString: PG_URL, schema, poolSize: extra?.poolSize ?? 10 }, options),
    migrationCount: async () => Number((await connected().query(`SELECT COUNT(*) AS n FROM "${schema}".kysely_migration`)).rows[0].n),
    brokenDatabase: async () => {
      const broken = `${schema}_broken`;
      await connected().query(`CREATE SCHEMA "${broken}"; CREATE TABLE "${broken}".links (stray integer)`);
      return {
        open: () => openStore({ kind: "postgres", connectionString: PG_URL, schema: broken, poolSize: 2 }),
        tables: async () =>
          (await connected().query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [broken])).rows.map(
            (r: { table_name: string }) => r.table_name,
          ),
        clear: async () => void (await connected().query(`DROP TABLE "${broken}".links`)),
      };
    },
    sql: async (statements) => {
      await connected().query(`SET search_path TO "${schema}"; ${statements.postgres}; RESET search_path`);
    },
    eventRows: async () => {
      const r = await connected().query(`SELECT COUNT(*) AS n, COUNT(DISTINCT xmin::text) AS tx FROM "${schema}".events`);
      return { rows: Number(r.rows[0].n), transactions: Number(r.rows[0].tx) };
    },
    teardown: async () => {
      if (!admin) return;
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}_broken" CASCADE`);
      await admin.end();
    },
  };
}

/** A clock the test moves by hand. */
function manualClock(start = T0) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    date: (offsetMs = 0) => new Date(now + offsetMs),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([["sqlite", sqliteHarness], ["postgres", postgresHarness]] as const)("store on %s", (_name, make) => {
  const h = make();
  const opened: Store[] = [];
  const open = async (options?: StoreOptions, extra?: { poolSize?: number }) => {
    const store = await h.open(options, extra);
    opened.push(store);
    return store;
  };

  beforeAll(() => h.setup());
  afterAll(() => h.teardown());
  beforeEach(() => h.reset());
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  const event = (dedupeKey: string, linkKey: string, payload: unknown = { dedupeKey }) => ({
    source: "dataverse" as const,
    dedupeKey,
    linkKey,
    receivedAt: new Date(T0),
    payload,
  });

  const link = (over: Partial<SaveLinkInput> = {}): SaveLinkInput => ({
    key: "link-1",
    referralId: "ref-1",
    engagementId: "eng-1",
    entity: "opportunity",
    recordId: "opp-1",
    base: { name: "Contoso", dealValue: 1000 },
    pcETag: "pc-1",
    crmETag: "crm-1",
    lastSyncedAt: new Date(T0),
    state: "active",
    expectedVersion: null,
    ...over,
  });

  describe("migrations", () => {
    it("runs them once and keeps the data on reopen", async () => {
      const first = await open();
      await first.saveLink(link());
      await first.recordEvent(event("op-1", "link-1"));
      await first.close();
      const again = await open();
      const third = await open();
      expect(await h.migrationCount()).toBe(MIGRATIONS);
      expect((await again.getLink("link-1"))?.referralId).toBe("ref-1");
      expect((await third.findEvent("dataverse", "op-1"))?.linkKey).toBe("link-1");
    });

    it("migrates all or nothing: a migration failing half-way leaves no table behind", async () => {
      const db = await h.brokenDatabase();
      await expect(db.open()).rejects.toMatchObject({ name: "StoreOpenError", message: expect.stringMatching(/0001_initial/) });
      // events and jobs were created before links failed: rolled back with it.
      expect((await db.tables()).filter((t) => !t.startsWith("kysely_"))).toEqual(["links"]);
      await db.clear();
      const store = await db.open();
      opened.push(store);
      expect((await store.enqueue({ linkKey: "A", kind: "sync", payload: {} })).coalesced).toBe(false);
    });

    it("lets several stores open the same empty database at once", async () => {
      const stores = await Promise.all([open(), open(), open()]);
      await Promise.all(stores.map((s, i) => s.setCursor(`c${i}`, String(i))));
      expect(await stores[0]!.getCursor("c2")).toBe("2");
      expect(await h.migrationCount()).toBe(MIGRATIONS);
    });
  });

  describe("inbox", () => {
    it("stores a webhook with its job, and recognises a redelivery", async () => {
      const store = await open();
      const first = await store.recordEvent(event("op-1", "link-1", { entity: "opportunity", id: "opp-1" }));
      expect(first).toMatchObject({ isNew: true, coalesced: false });
      const again = await store.recordEvent(event("op-1", "link-1", { entity: "opportunity", id: "opp-1" }));
      expect(again).toEqual({ isNew: false });
      // The same key from the other source is another event.
      expect((await store.recordEvent({ ...event("op-1", "link-1"), source: "partner-center" })).isNew).toBe(true);

      if (!first.isNew) throw new Error("unreachable");
      const stored = await store.getEvent(first.eventId);
      expect(stored).toMatchObject({ source: "dataverse", dedupeKey: "op-1", linkKey: "link-1", payload: { entity: "opportunity", id: "opp-1" } });
      expect(stored?.receivedAt.getTime()).toBe(T0);
      const job = await store.getJob(first.jobId);
      expect(job).toMatchObject({ linkKey: "link-1", kind: "sync", state: "queued" });
      expect((await store.queueStats()).queued).toBe(1);
    });

    it("accepts exactly one of many concurrent deliveries of the same event", async () => {
      const store = await open();
      const results = await Promise.all(Array.from({ length: 20 }, () => store.recordEvent(event("op-dup", "link-1"))));
      expect(results.filter((r) => r.isNew)).toHaveLength(1);
      expect((await store.queueStats()).queued).toBe(1);
    });

    it("refuses a payload that is not JSON", async () => {
      const store = await open();
      await expect(store.recordEvent(event("op-x", "link-1", () => "a function is not JSON"))).rejects.toThrow(/JSON/);
      expect(await store.findEvent("dataverse", "op-x")).toBeUndefined();
    });
  });

  describe("group commit", () => {
    /**
     * Refuses events whose dedupe key is LIKE `pattern`: on PostgreSQL at COMMIT (a deferred
     * constraint trigger, so the statement itself succeeds and only the commit fails), on SQLite
     * at the insert (inside the shared transaction).
     */
    const refuseEvents = (pattern: string) =>
      h.sql({
        sqlite: `CREATE TRIGGER refuse_events BEFORE INSERT ON events WHEN NEW.dedupe_key LIKE '${pattern}'
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
        postgres: `CREATE OR REPLACE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS
                     $$ BEGIN RAISE EXCEPTION 'refused by the test: %', NEW.dedupe_key; END $$;
                   CREATE CONSTRAINT TRIGGER refuse_events AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED
                     FOR EACH ROW WHEN (NEW.dedupe_key LIKE '${pattern}') EXECUTE FUNCTION refuse_event()`,
      });

    it("writes many concurrent webhooks exactly once each, in a few transactions of at most 256", async () => {
      const store = await open();
      const n = 600;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => store.recordEvent(event(`op-${i}`, `link-${i % 50}`))));
      const stored = results.map((r) => {
        if (!r.isNew) throw new Error("every event is new");
        return r;
      });
      expect(new Set(stored.map((r) => r.eventId)).size).toBe(n);
      const rows = await h.eventRows();
      expect(rows.rows).toBe(n);
      // Three batches: 256 + 256 + 88, each one transaction (SQLite's have no visible trace).
      if (rows.transactions !== undefined) expect(rows.transactions).toBe(3);
      expect((await store.queueStats()).queued).toBe(50);
      // Per link: one job, first event inserted it, the later ones coalesced, it names the newest event.
      for (const l of [0, 7, 49]) {
        const mine = stored.filter((_, i) => i % 50 === l);
        expect(new Set(mine.map((r) => r.jobId)).size).toBe(1);
        expect(mine.map((r) => r.coalesced)).toEqual(mine.map((_, k) => k > 0));
        const job = await store.getJob(mine[0]!.jobId);
        const newest = mine[mine.length - 1]!;
        expect(job).toMatchObject({ linkKey: `link-${l}`, coalesced: mine.length - 1, payload: { source: "dataverse", eventId: newest.eventId } });
        expect((await store.getEvent(mine[3]!.eventId))?.dedupeKey).toBe(`op-${3 * 50 + l}`);
      }
    });

    it("dedupes the same event twice in one batch, and one stored before it, as one at a time would", async () => {
      const store = await open();
      expect((await store.recordEvent(event("op-old", "link-1"))).isNew).toBe(true);
      const batch = [
        event("op-a", "link-1"),
        event("op-b", "link-2"),
        event("op-a", "link-1"),
        event("op-old", "link-1"),
        { ...event("op-a", "link-1"), source: "partner-center" as const },
        event("op-b", "link-2"),
      ];
      const results = await Promise.all(batch.map((e) => store.recordEvent(e)));
      expect(results.map((r) => r.isNew)).toEqual([true, true, false, false, true, false]);
      expect((await h.eventRows()).rows).toBe(4);
      expect((await store.queueStats()).queued).toBe(2);
    });

    it("coalesces a batch into a queued job, and not into a running one", async () => {
      const store = await open();
      const first = await store.recordEvent(event("op-0", "L"));
      const merged = await Promise.all([1, 2, 3].map((i) => store.recordEvent(event(`op-${i}`, "L"))));
      expect(merged).toEqual(merged.map(() => expect.objectContaining({ isNew: true, coalesced: true, jobId: first.isNew && first.jobId })));
      const running = await store.claimNext("w", 60_000);
      expect(running).toMatchObject({ coalesced: 3 });
      const next = await Promise.all([4, 5].map((i) => store.recordEvent(event(`op-${i}`, "L"))));
      expect(next.map((r) => r.isNew && r.coalesced)).toEqual([false, true]);
      expect(next[0]!.isNew && next[0]!.jobId).not.toBe(running?.id);
    });

    it("answers no caller before the commit: when it fails, every caller of the batch is refused and nothing is stored", async () => {
      const store = await open();
      await store.recordEvent(event("op-warm", "link-0"));
      await refuseEvents("op-%");
      const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.recordEvent(event(`op-${i}`, `link-${i % 3}`))));
      expect(settled.map((s) => s.status)).toEqual(settled.map(() => "rejected"));
      expect(settled[0]).toMatchObject({ reason: expect.objectContaining({ message: expect.stringMatching(/refused by the test/) }) });
      expect((await h.eventRows()).rows).toBe(1);
      expect((await store.queueStats()).queued).toBe(1);
    });

    it("fails a bad event alone: the others of its batch are stored", async () => {
      const store = await open();
      await store.recordEvent(event("op-warm", "link-0"));
      await refuseEvents("bad-%");
      const keys = ["op-1", "op-2", "bad-3", "op-4", "op-5"];
      const settled = await Promise.allSettled(keys.map((k, i) => store.recordEvent(event(k, `link-${i % 2}`))));
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
      expect(settled.every((s) => s.status === "rejected" || s.value.isNew)).toBe(true);
      expect((await h.eventRows()).rows).toBe(5);
      expect(await store.findEvent("dataverse", "bad-3")).toBeUndefined();
      expect((await store.queueStats()).queued).toBe(2);
      if (h.name === "postgres") {
        // A payload PostgreSQL's jsonb refuses (NUL in a string) is another bad event.
        const mixed = await Promise.allSettled([
          store.recordEvent(event("op-6", "link-0")),
          store.recordEvent(event("op-7", "link-1", { note: "a\u0000b" })),
          store.recordEvent(event("op-8", "link-1")),
        ]);
        expect(mixed.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      }
    });
  });

  describe("coalescing", () => {
    it("turns a burst of 20 edits into one sync, or two when the first already runs", async () => {
      const store = await open();
      const burst = async (from: number) => {
        const results = [];
        for (let i = from; i < from + 20; i++) results.push(await store.recordEvent(event(`op-${i}`, "ref-A")));
        return results;
      };
      const first = await burst(0);
      const jobIds = new Set(first.map((r) => (r.isNew ? r.jobId : -1)));
      expect(jobIds.size).toBe(1);
      const job = await store.claimNext("w1", 60_000);
      expect(job).toMatchObject({ linkKey: "ref-A", coalesced: 19 });
      // The newest hint wins: the job names the last event.
      const last = first[19];
      if (!last?.isNew) throw new Error("unreachable");
      expect(job?.payload).toEqual({ source: "dataverse", eventId: last.eventId });

      // The running job is not merged into: the next burst becomes exactly one more job.
      const second = await burst(20);
      const secondIds = new Set(second.map((r) => (r.isNew ? r.jobId : -1)));
      expect(secondIds.size).toBe(1);
      expect(secondIds.has(job!.id)).toBe(false);
      expect(await store.queueStats()).toMatchObject({ queued: 1, running: 1 });
    });

    it("merges enqueues of the same link and kind only, bringing a fresh job forward but not one in backoff", async () => {
      const clock = manualClock();
      const store = await open({ now: clock.now });
      const a = await store.enqueue({ linkKey: "L", kind: "sync", payload: { n: 1 }, runAt: clock.date(10_000) });
      const b = await store.enqueue({ linkKey: "L", kind: "sync", payload: { n: 2 }, runAt: clock.date(1_000) });
      const other = await store.enqueue({ linkKey: "L", kind: "accept", payload: { n: 3 } });
      expect(a.coalesced).toBe(false);
      expect(b).toEqual({ jobId: a.jobId, coalesced: true });
      expect(other.jobId).not.toBe(a.jobId);
      const merged = await store.getJob(a.jobId);
      expect(merged).toMatchObject({ payload: { n: 2 }, coalesced: 1 });
      expect(merged?.runAt.getTime()).toBe(clock.now() + 1_000);

      // A job waiting out a Retry-After keeps waiting, whatever arrives meanwhile.
      clock.advance(1_000);
      const claimed = await store.claimNext("w", 60_000);
      expect(claimed?.id).toBe(a.jobId);
      await store.retryLater(a.jobId, { error: "429", runAt: clock.date(30_000), workerId: "w" });
      await store.enqueue({ linkKey: "L", kind: "sync", payload: { n: 4 } });
      expect((await store.getJob(a.jobId))?.runAt.getTime()).toBe(clock.now() + 30_000);
    });
  });

  describe("claiming", () => {
    it("keeps strict FIFO per link and never runs two jobs of one link at once, across claimers", async () => {
      // Several stores on one database, several async claimers each: the instances of the bridge.
      const instances = await Promise.all(
        h.name === "postgres" ? [open(undefined, { poolSize: 5 }), open(undefined, { poolSize: 5 })] : [open(), open(), open(), open()],
      );
      const claimersPerInstance = h.name === "postgres" ? 4 : 2;
      const LINKS = 20;
      const JOBS = 200;
      for (let i = 0; i < JOBS; i++) {
        // Distinct kinds so nothing coalesces: every job must run, in order.
        await instances[0]!.enqueue({ linkKey: `link-${i % LINKS}`, kind: `step-${i}`, payload: { seq: Math.floor(i / LINKS) } });
      }

      const running = new Set<string>();
      const order = new Map<string, number[]>();
      let overlaps = 0;
      let done = 0;
      const deadline = Date.now() + 50_000;
      const claimer = async (store: Store, workerId: string) => {
        while (done < JOBS && Date.now() < deadline) {
          const job: Job | undefined = await store.claimNext(workerId, 60_000);
          if (!job) {
            await sleep(2);
            continue;
          }
          if (running.has(job.linkKey)) overlaps++;
          running.add(job.linkKey);
          const seen = order.get(job.linkKey) ?? [];
          seen.push((job.payload as { seq: number }).seq);
          order.set(job.linkKey, seen);
          await sleep(Math.random() * 3); // let the other claimers try this link meanwhile
          running.delete(job.linkKey);
          await store.complete(job.id, workerId);
          done++;
        }
      };
      await Promise.all(instances.flatMap((store, i) => Array.from({ length: claimersPerInstance }, (_, c) => claimer(store, `w${i}.${c}`))));

      expect(done).toBe(JOBS);
      expect(overlaps).toBe(0);
      for (let l = 0; l < LINKS; l++) expect(order.get(`link-${l}`)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(await instances[0]!.queueStats()).toMatchObject({ queued: 0, running: 0, dead: 0 });
    }, 60_000);

    it("keeps strict FIFO per link when each completion claims the next job (completeAndClaim)", async () => {
      const instances = await Promise.all(
        h.name === "postgres" ? [open(undefined, { poolSize: 5 }), open(undefined, { poolSize: 5 })] : [open(), open(), open()],
      );
      const LINKS = 10;
      const JOBS = 100;
      await instances[0]!.enqueueMany(
        Array.from({ length: JOBS }, (_, i) => ({ linkKey: `link-${i % LINKS}`, kind: `step-${i}`, payload: { seq: Math.floor(i / LINKS) } })),
      );
      const running = new Set<string>();
      const order = new Map<string, number[]>();
      let overlaps = 0;
      let done = 0;
      const deadline = Date.now() + 50_000;
      const claimer = async (store: Store, workerId: string) => {
        let job: Job | undefined;
        while (done < JOBS && Date.now() < deadline) {
          if (!job) job = await store.claimNext(workerId, 60_000);
          if (!job) {
            await sleep(2);
            continue;
          }
          if (running.has(job.linkKey)) overlaps++;
          running.add(job.linkKey);
          const seen = order.get(job.linkKey) ?? [];
          seen.push((job.payload as { seq: number }).seq);
          order.set(job.linkKey, seen);
          await sleep(Math.random() * 3);
          running.delete(job.linkKey);
          const history = [{ linkKey: job.linkKey, direction: "PC→CRM" as const, outcome: "ok" as const, message: `step ${job.kind}`, correlationId: null, at: new Date(T0) }];
          done++;
          job = await store.completeAndClaim(job.id, workerId, history, done < JOBS ? { workerId, leaseMs: 60_000 } : null);
        }
        if (job) await store.complete(job.id, workerId);
      };
      await Promise.all(instances.flatMap((store, i) => Array.from({ length: 4 }, (_, c) => claimer(store, `w${i}.${c}`))));

      expect(done).toBe(JOBS);
      expect(overlaps).toBe(0);
      for (let l = 0; l < LINKS; l++) expect(order.get(`link-${l}`)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(await instances[0]!.queueStats()).toMatchObject({ queued: 0, running: 0, dead: 0 });
      expect(await instances[0]!.recentSyncs(1000)).toHaveLength(JOBS);
    }, 60_000);

    it("completes with the history and claims the next job in one operation, or does neither when the lease is lost", async () => {
      const clock = manualClock();
      const store = await open({ now: clock.now });
      const first = await store.enqueue({ linkKey: "A", kind: "sync", payload: 1 });
      const second = await store.enqueue({ linkKey: "A", kind: "accept", payload: 2 });
      expect((await store.claimNext("w", 1_000))?.id).toBe(first.jobId);
      const entry = { linkKey: "A", direction: "CRM→PC" as const, outcome: "ok" as const, message: "shared", correlationId: "c-1", at: clock.date() };
      // The next job of the same link becomes the head as the first is deleted, in the same operation.
      const next = await store.completeAndClaim(first.jobId, "w", [entry], { workerId: "w", leaseMs: 1_000 });
      expect(next).toMatchObject({ id: second.jobId, state: "running", lockedBy: "w", attempts: 1 });
      expect(await store.getJob(first.jobId)).toBeUndefined();
      expect(await store.recentSyncs()).toEqual([expect.objectContaining({ linkKey: "A", message: "shared", correlationId: "c-1" })]);

      // Lease lost: LeaseLostError, no history, nothing claimed.
      const third = await store.enqueue({ linkKey: "B", kind: "sync", payload: 3 });
      clock.advance(1_001);
      expect(await store.reapExpiredLeases()).toBe(1);
      expect((await store.claimNext("w2", 1_000))?.id).toBe(second.jobId);
      await expect(store.completeAndClaim(second.jobId, "w", [{ ...entry, message: "late" }], { workerId: "w", leaseMs: 1_000 })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      expect(await store.getJob(third.jobId)).toMatchObject({ state: "queued" });
      expect((await store.recentSyncs()).map((r) => r.message)).toEqual(["shared"]);
      await expect(store.completeAndClaim(second.jobId, "w2", [], null)).resolves.toBeUndefined();
      expect(await store.getJob(second.jobId)).toBeUndefined();
      await expect(store.completeAndClaim(1e9, "w2", [], null)).rejects.toThrow();
      // A bad history row is refused before anything is written.
      const job = await store.claimNext("w3", 1_000);
      await expect(store.completeAndClaim(job!.id, "w3", [{ ...entry, outcome: "nope" as "ok" }], null)).rejects.toBeInstanceOf(TypeError);
      expect(await store.getJob(job!.id)).toMatchObject({ state: "running" });
    });

    it("enqueues many in one transaction, merging exactly as enqueue does", async () => {
      const store = await open();
      const one = await store.enqueue({ linkKey: "A", kind: "sync", payload: { n: 0 } });
      const many = await store.enqueueMany([
        { linkKey: "A", kind: "sync", payload: { n: 1 } },
        { linkKey: "B", kind: "sync", payload: { n: 2 } },
        { linkKey: "B", kind: "sync", payload: { n: 3 } },
      ]);
      expect(many).toEqual([
        { jobId: one.jobId, coalesced: true },
        { jobId: expect.any(Number), coalesced: false },
        { jobId: many[1]!.jobId, coalesced: true },
      ]);
      expect(await store.getJob(one.jobId)).toMatchObject({ payload: { n: 1 }, coalesced: 1 });
      expect(await store.getJob(many[1]!.jobId)).toMatchObject({ payload: { n: 3 }, coalesced: 1 });
      expect(await store.enqueueMany([])).toEqual([]);
      await expect(store.enqueueMany([{ linkKey: "", kind: "sync", payload: {} }])).rejects.toBeInstanceOf(TypeError);
    });

    it("never runs two jobs of one link at once while jobs keep arriving and being retried", async () => {
      const instances = await Promise.all(
        h.name === "postgres" ? [open(undefined, { poolSize: 6 }), open(undefined, { poolSize: 6 })] : [open(), open()],
      );
      const PRODUCERS = 4;
      const PER_PRODUCER = 40;
      const TOTAL = PRODUCERS * PER_PRODUCER;
      const running = new Set<string>();
      let overlaps = 0;
      let done = 0;
      let produced = 0;
      const deadline = Date.now() + 50_000;
      const producer = async (p: number) => {
        for (let i = 0; i < PER_PRODUCER; i++) {
          await instances[p % instances.length]!.enqueue({ linkKey: `hot-${(p + i) % 5}`, kind: `p${p}-${i}`, payload: {} });
          produced++;
          if (i % 5 === 0) await sleep(1);
        }
      };
      const claimer = async (store: Store, workerId: string) => {
        while (done < TOTAL && Date.now() < deadline) {
          const job = await store.claimNext(workerId, 60_000);
          if (!job) {
            await sleep(2);
            continue;
          }
          if (running.has(job.linkKey)) overlaps++;
          running.add(job.linkKey);
          await sleep(Math.random() * 2);
          running.delete(job.linkKey);
          if (job.attempts === 1 && job.id % 3 === 0) {
            // A failure: back to the queue at once, still the head of its link.
            await store.retryLater(job.id, { error: "transient", runAt: new Date(0), workerId });
          } else {
            await store.complete(job.id, workerId);
            done++;
          }
        }
      };
      await Promise.all([
        ...Array.from({ length: PRODUCERS }, (_, p) => producer(p)),
        ...instances.flatMap((store, i) => Array.from({ length: 4 }, (_, c) => claimer(store, `w${i}.${c}`))),
      ]);
      expect(produced).toBe(TOTAL);
      expect(done).toBe(TOTAL);
      expect(overlaps).toBe(0);
    }, 60_000);

    it("holds back a retried dead letter while a later job of its link runs", async () => {
      const store = await open();
      const first = await store.enqueue({ linkKey: "A", kind: "sync", payload: {} });
      const second = await store.enqueue({ linkKey: "A", kind: "accept", payload: {} });
      await store.claimNext("w", 60_000);
      await store.deadLetter(first.jobId, "bad data", "w");
      expect((await store.claimNext("w", 60_000))?.id).toBe(second.jobId);
      // The dead letter has the older id, but the link is busy: it waits.
      await store.retryDeadLetter(first.jobId);
      expect(await store.claimNext("w2", 60_000)).toBeUndefined();
      await store.complete(second.jobId, "w");
      expect((await store.claimNext("w2", 60_000))?.id).toBe(first.jobId);
    });

    it("does not claim a job before its run_at, nor a later job of the same link", async () => {
      const clock = manualClock();
      const store = await open({ now: clock.now });
      const late = await store.enqueue({ linkKey: "A", kind: "sync", payload: 1, runAt: clock.date(5_000) });
      await store.enqueue({ linkKey: "A", kind: "accept", payload: 2 });
      const b = await store.enqueue({ linkKey: "B", kind: "sync", payload: 3 });
      expect((await store.claimNext("w", 1_000))?.id).toBe(b.jobId);
      expect(await store.claimNext("w", 1_000)).toBeUndefined();
      clock.advance(5_000);
      expect((await store.claimNext("w", 1_000))?.id).toBe(late.jobId);
    });

    it("re-queues a job whose lease ran out, and the old holder can no longer finish it", async () => {
      const clock = manualClock();
      const store = await open({ now: clock.now });
      const { jobId } = await store.enqueue({ linkKey: "A", kind: "sync", payload: {} });
      await store.enqueue({ linkKey: "A", kind: "accept", payload: {} });
      const job = await store.claimNext("w1", 1_000);
      expect(job).toMatchObject({ id: jobId, state: "running", lockedBy: "w1", attempts: 1 });
      expect(job?.lockedUntil?.getTime()).toBe(T0 + 1_000);

      clock.advance(500);
      expect(await store.reapExpiredLeases()).toBe(0);
      expect(await store.claimNext("w2", 1_000)).toBeUndefined(); // the link is busy
      await store.extendLease(jobId, "w1", 1_000); // now until T0 + 1500
      clock.advance(900);
      expect(await store.reapExpiredLeases()).toBe(0);

      clock.advance(700);
      expect(await store.reapExpiredLeases()).toBe(1);
      expect(await store.getJob(jobId)).toMatchObject({ state: "queued", lockedBy: null, lastError: expect.stringMatching(/lease of worker w1 expired/) });
      const again = await store.claimNext("w2", 1_000);
      expect(again).toMatchObject({ id: jobId, lockedBy: "w2", attempts: 2 });
      await expect(store.complete(jobId, "w1")).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.extendLease(jobId, "w1", 1_000)).rejects.toBeInstanceOf(LeaseLostError);
      await store.complete(jobId, "w2");
      expect(await store.getJob(jobId)).toBeUndefined();
    });

    it("dead-letters a job whose worker keeps dying once its attempts are spent", async () => {
      const clock = manualClock();
      const store = await open({ now: clock.now, maxAttempts: 2 });
      const { jobId } = await store.enqueue({ linkKey: "A", kind: "sync", payload: {} });
      for (let i = 0; i < 2; i++) {
        expect((await store.claimNext("crashy", 100))?.id).toBe(jobId);
        clock.advance(101);
        expect(await store.reapExpiredLeases()).toBe(1);
      }
      expect(await store.getJob(jobId)).toMatchObject({ state: "dead", lastError: expect.stringMatching(/gave up after 2 attempts/) });
    });
  });

  describe("retries and dead letters", () => {
    it("retries at run_at, then dead-letters with the reason after N attempts, and retries a dead letter", async () => {
      const clock = manualClock();
      const store = await open({ now: clock.now, maxAttempts: 2 });
      const { jobId } = await store.enqueue({ linkKey: "A", kind: "sync", payload: { v: 1 } });
      const next = await store.enqueue({ linkKey: "A", kind: "accept", payload: {} });

      await store.claimNext("w", 10_000);
      const retry = await store.retryLater(jobId, { error: "503 from Partner Center", runAt: clock.date(2_000), workerId: "w" });
      expect(retry).toEqual({ state: "queued", runAt: clock.date(2_000) });
      expect(await store.claimNext("w", 10_000)).toBeUndefined(); // neither it nor the job behind it
      clock.advance(2_000);
      expect(await store.claimNext("w", 10_000)).toMatchObject({ id: jobId, attempts: 2, lastError: "503 from Partner Center" });

      expect(await store.retryLater(jobId, { error: "503 again", runAt: clock.date(4_000), workerId: "w" })).toEqual({ state: "dead" });
      const dead = await store.listDeadLetters();
      expect(dead.map((j) => j.id)).toEqual([jobId]);
      expect(dead[0]?.lastError).toBe("gave up after 2 attempts: 503 again");
      // A dead letter does not hold up its link.
      expect((await store.claimNext("w", 10_000))?.id).toBe(next.jobId);
      await store.complete(next.jobId, "w");

      await store.retryDeadLetter(jobId);
      expect(await store.listDeadLetters()).toEqual([]);
      expect(await store.claimNext("w", 10_000)).toMatchObject({ id: jobId, attempts: 1, payload: { v: 1 } });
      await expect(store.retryDeadLetter(jobId)).rejects.toBeInstanceOf(JobStateError);
    });

    it("dead-letters on request, and a retry merges what was queued for the link meanwhile", async () => {
      const store = await open();
      const { jobId } = await store.enqueue({ linkKey: "A", kind: "sync", payload: { v: 1 } });
      await store.claimNext("w", 10_000);
      const meanwhile = await store.enqueue({ linkKey: "A", kind: "sync", payload: { v: 2 } });
      expect(meanwhile.jobId).not.toBe(jobId);

      await store.deadLetter(jobId, "the referral is Won: read-only", "w");
      expect((await store.getJob(jobId))?.lastError).toBe("the referral is Won: read-only");
      await store.retryDeadLetter(jobId);
      // One queued job per link and kind: the newer one was folded into the retried one.
      expect(await store.getJob(meanwhile.jobId)).toBeUndefined();
      expect(await store.getJob(jobId)).toMatchObject({ state: "queued", payload: { v: 2 }, coalesced: 1 });
      await expect(store.deadLetter(jobId, "again", "someone-else")).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.complete(jobId)).rejects.toBeInstanceOf(JobStateError);
    });
  });

  describe("links", () => {
    it("versions saves optimistically: a stale save fails with a typed error", async () => {
      const store = await open();
      const v1 = await store.saveLink(link());
      expect(v1).toMatchObject({ key: "link-1", version: 1, base: { name: "Contoso", dealValue: 1000 }, pcETag: "pc-1" });
      await expect(store.saveLink(link())).rejects.toBeInstanceOf(StaleLinkError);

      const v2 = await store.saveLink(link({ base: { name: "Contoso Ltd" }, crmETag: "crm-2", expectedVersion: 1 }));
      expect(v2).toMatchObject({ version: 2, base: { name: "Contoso Ltd" }, crmETag: "crm-2" });
      const stale = store.saveLink(link({ base: { name: "lost update" }, expectedVersion: 1 }));
      await expect(stale).rejects.toMatchObject({ name: "StaleLinkError", expectedVersion: 1, actualVersion: 2 });
      expect((await store.getLink("link-1"))?.base).toEqual({ name: "Contoso Ltd" });
      await expect(store.saveLink(link({ key: "nope", referralId: "r9", recordId: "o9", expectedVersion: 3 }))).rejects.toMatchObject({
        actualVersion: null,
      });
    });

    it("lets exactly one of several concurrent saves of the same version win", async () => {
      const store = await open();
      await store.saveLink(link());
      const saves = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store.saveLink(link({ base: { writer: i }, expectedVersion: 1 }))),
      );
      expect(saves.filter((s) => s.status === "fulfilled")).toHaveLength(1);
      for (const s of saves) if (s.status === "rejected") expect(s.reason).toBeInstanceOf(StaleLinkError);
      expect((await store.getLink("link-1"))?.version).toBe(2);
    });

    it("finds links by referral and by record, and refuses to bind either twice", async () => {
      const store = await open();
      await store.saveLink(link());
      expect((await store.findLinkByReferralId("ref-1"))?.key).toBe("link-1");
      expect((await store.findLinkByRecord("opportunity", "opp-1"))?.key).toBe("link-1");
      expect(await store.findLinkByRecord("lead", "opp-1")).toBeUndefined();
      await expect(store.saveLink(link({ key: "link-2", recordId: "opp-2" }))).rejects.toBeInstanceOf(LinkConflictError);
      await expect(store.saveLink(link({ key: "link-2", referralId: "ref-2" }))).rejects.toBeInstanceOf(LinkConflictError);
      // The error names the link that holds it, and the message says what.
      await expect(store.saveLink(link({ key: "link-2", recordId: "opp-2" }))).rejects.toMatchObject({ otherKey: "link-1", message: expect.stringMatching(/referral ref-1/) });
      await expect(store.saveLink(link({ key: "link-2", referralId: "ref-2" }))).rejects.toMatchObject({ otherKey: "link-1", message: expect.stringMatching(/opportunity opp-1/) });
      expect(await store.getLink("link-2")).toBeUndefined();
      // An update that would take another link's record is refused the same way, and changes nothing.
      const second = await store.saveLink(link({ key: "link-2", referralId: "ref-2", recordId: "opp-2" }));
      await expect(store.saveLink(link({ key: "link-2", referralId: "ref-2", expectedVersion: second.version }))).rejects.toMatchObject({ otherKey: "link-1" });
      expect(await store.getLink("link-2")).toEqual(second);
    });

    it("finds the links of many referrals or records in one query", async () => {
      const store = await open();
      await store.saveLink(link());
      await store.saveLink(link({ key: "link-2", referralId: "ref-2", recordId: "rec-2" }));
      await store.saveLink(link({ key: "link-3", referralId: "ref-3", entity: "lead", recordId: "rec-3" }));
      const keys = (links: { key: string }[]) => links.map((l) => l.key).sort();
      expect(keys(await store.findLinksByReferralIds(["ref-2", "ref-3", "ref-none", "ref-2"]))).toEqual(["link-2", "link-3"]);
      expect(await store.findLinksByReferralIds([])).toEqual([]);
      expect(keys(await store.findLinksByRecords("opportunity", [link().recordId, "rec-2", "rec-3"]))).toEqual(["link-1", "link-2"]);
      expect(keys(await store.findLinksByRecords("lead", ["rec-3", "x'); DROP TABLE links; --"]))).toEqual(["link-3"]);
      expect((await store.findLinksByReferralIds(["ref-1"]))[0]).toEqual(await store.getLink("link-1"));
    });

    it("moves a link from a qualified lead to its opportunity, keeping the key", async () => {
      const store = await open();
      const lead = await store.saveLink(link({ key: "ref-L", referralId: "ref-L", entity: "lead", recordId: "lead-1" }));
      await store.saveLink(link({ key: "other", referralId: "ref-O", entity: "opportunity", recordId: "opp-taken" }));
      await expect(store.moveLink("ref-L", { entity: "opportunity", recordId: "opp-taken", expectedVersion: lead.version })).rejects.toBeInstanceOf(
        LinkConflictError,
      );
      await expect(store.moveLink("ref-L", { entity: "opportunity", recordId: "opp-taken", expectedVersion: lead.version })).rejects.toMatchObject({ otherKey: "other" });
      const moved = await store.moveLink("ref-L", { entity: "opportunity", recordId: "opp-new", expectedVersion: lead.version });
      expect(moved).toMatchObject({ key: "ref-L", entity: "opportunity", recordId: "opp-new", version: 2, crmETag: null, referralId: "ref-L" });
      expect(await store.findLinkByRecord("lead", "lead-1")).toBeUndefined();
      expect((await store.findLinkByRecord("opportunity", "opp-new"))?.key).toBe("ref-L");
      await expect(store.moveLink("ref-L", { entity: "opportunity", recordId: "opp-x", expectedVersion: 1 })).rejects.toBeInstanceOf(StaleLinkError);
    });

    it("lists links page by page for reconcile and backfill", async () => {
      const store = await open();
      for (let i = 0; i < 7; i++) {
        await store.saveLink(
          link({ key: `k${i}`, referralId: `r${i}`, recordId: `o${i}`, entity: i % 2 ? "lead" : "opportunity", state: i === 3 ? "closed" : "active" }),
        );
      }
      const page1 = await store.listLinks({ limit: 3 });
      const page2 = await store.listLinks({ limit: 3, afterKey: page1.at(-1)?.key });
      const page3 = await store.listLinks({ limit: 3, afterKey: page2.at(-1)?.key });
      expect([...page1, ...page2, ...page3].map((l) => l.key)).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
      expect((await store.listLinks({ entity: "lead" })).map((l) => l.key)).toEqual(["k1", "k3", "k5"]);
      expect((await store.listLinks({ state: "closed" })).map((l) => l.key)).toEqual(["k3"]);
    });
  });

  describe("cursors, history and stats", () => {
    it("keeps reconcile cursors as opaque strings", async () => {
      const store = await open();
      expect(await store.getCursor("pc")).toBeUndefined();
      await store.setCursor("pc", "2026-11-25T10:00:00Z|ref-9");
      await store.setCursor("pc", "2026-11-25T11:00:00Z|ref-12");
      await store.setCursor("crm", "token=abc");
      expect(await store.getCursor("pc")).toBe("2026-11-25T11:00:00Z|ref-12");
      expect(await store.getCursor("crm")).toBe("token=abc");
    });

    it("records syncs, lists recent ones and failures newest first, and prunes old rows", async () => {
      const store = await open();
      const at = (min: number) => new Date(T0 + min * 60_000);
      await store.recordSync({ linkKey: "A", direction: "PC→CRM", outcome: "ok", message: "created", correlationId: "c1", at: at(0) });
      await store.recordSync({ linkKey: "A", direction: "CRM→PC", outcome: "error", message: "429", correlationId: "c2", at: at(1) });
      await store.recordSync({ linkKey: "B", direction: "CRM→PC", outcome: "conflict", message: "name", correlationId: null, at: at(2) });
      await store.recordSync({ linkKey: "B", direction: "PC→CRM", outcome: "error", message: "400", correlationId: "c4", at: at(3) });
      expect((await store.recentSyncs(3)).map((s) => s.message)).toEqual(["400", "name", "429"]);
      expect(await store.recentFailures()).toMatchObject([
        { linkKey: "B", message: "400", outcome: "error", direction: "PC→CRM", correlationId: "c4" },
        { linkKey: "A", message: "429" },
      ]);
      await expect(
        store.recordSync({ linkKey: "A", direction: "PC->CRM" as "PC→CRM", outcome: "ok", message: "x", correlationId: null, at: at(4) }),
      ).rejects.toThrow(/direction/);
      await store.recordEvent({ ...event("old", "A"), receivedAt: at(-100) });
      expect(await store.prune({ syncsBefore: at(2), eventsBefore: at(-1) })).toEqual({ syncs: 2, events: 1, createIntents: 0 });
      expect((await store.recentSyncs()).map((s) => s.message)).toEqual(["400", "name"]);
    });

    it("reports queue depth by state and the lag of the oldest due job", async () => {
      const clock = manualClock();
      const store = await open({ now: clock.now });
      await store.enqueue({ linkKey: "A", kind: "sync", payload: {} });
      clock.advance(1_000);
      await store.enqueue({ linkKey: "B", kind: "sync", payload: {} });
      await store.enqueue({ linkKey: "C", kind: "sync", payload: {}, runAt: clock.date(60_000) });
      const d = await store.enqueue({ linkKey: "D", kind: "sync", payload: {} });
      await store.claimNext("w", 10_000);
      await store.deadLetter(d.jobId, "bad data");
      clock.advance(4_000);
      expect(await store.queueStats()).toEqual({ queued: 2, ready: 1, running: 1, dead: 1, oldestQueuedAt: new Date(T0 + 1_000), lagMs: 4_000 });
    });

    it("closes cleanly and refuses work afterwards", async () => {
      const store = await h.open();
      await store.close();
      await store.close();
      await expect(store.getCursor("x")).rejects.toBeInstanceOf(StoreClosedError);
    });
  });
});
