/**
 * What reaches the database when webhooks arrive together: the group commit of their events and the
 * batched link lookups, counted at the engine, on both engines (PostgreSQL: 127.0.0.1:5432, database
 * `test`, a schema of this file's own, dropped afterwards). Behaviour is in store.test.ts › group commit.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { dropPostgresSchema, openStore, type Link, type SaveLinkInput } from "../src/store";
import { PostgresEngine, SqliteEngine, type Engine, type Op, type RunMode } from "../src/store/engine";
import { SqlStore } from "../src/store/sql-store";

const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

/** The real engine, counting the operations (transactions, or single statements) it runs. */
class CountingEngine implements Engine {
  runs = 0;
  constructor(private readonly inner: Engine) {}
  get dialect() {
    return this.inner.dialect;
  }
  run<T>(op: () => Op<T>, mode: RunMode): Promise<T> {
    this.runs++;
    return this.inner.run(op, mode);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Opened {
  readonly store: SqlStore;
  readonly engine: CountingEngine;
}

async function sqlite(dir: string): Promise<Opened> {
  const file = path.join(dir, "batching.sqlite");
  await (await openStore({ kind: "sqlite", path: file })).close();
  const engine = new CountingEngine(new SqliteEngine(new Database(file)));
  return { store: new SqlStore(engine, { maxAttempts: 8, now: Date.now }), engine };
}

async function postgres(schema: string): Promise<Opened> {
  await (await openStore({ kind: "postgres", connectionString: PG_URL, schema, poolSize: 2 })).close();
  const engine = new CountingEngine(new PostgresEngine(new pg.Pool({ connectionString: PG_URL, max: 10, options: `-c search_path=${schema}` })));
  return { store: new SqlStore(engine, { maxAttempts: 8, now: Date.now }), engine };
}

const link = (n: number, entity: "opportunity" | "lead"): SaveLinkInput => ({
  key: `link-${n}`,
  referralId: `ref-${n}`,
  entity,
  recordId: `rec-${n}`,
  base: {},
  state: "active",
  expectedVersion: null,
});

describe.each(["sqlite", "postgres"] as const)("store on %s: batching", (kind) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-batching-"));
  const schema = `cosell_test_${Math.random().toString(36).slice(2, 10)}`;
  let opened: Opened;

  beforeEach(async () => {
    fs.rmSync(path.join(dir, "batching.sqlite"), { force: true });
    if (kind === "postgres") await dropPostgresSchema(PG_URL, schema);
    opened = kind === "sqlite" ? await sqlite(dir) : await postgres(schema);
  });
  afterEach(() => opened.store.close());
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (kind === "postgres") await dropPostgresSchema(PG_URL, schema);
  });

  it("commits 600 concurrent webhooks in 3 operations of at most 256 events", async () => {
    const { store, engine } = opened;
    const results = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        store.recordEvent({ source: "partner-center", dedupeKey: `e-${i}`, linkKey: `L-${i % 40}`, receivedAt: new Date(), payload: { i } }),
      ),
    );
    expect(results.filter((r) => r.isNew)).toHaveLength(600);
    expect(engine.runs).toBe(3);
  });

  it("answers concurrent single-link lookups with one query per kind on PostgreSQL, and each at once on SQLite", async () => {
    const { store, engine } = opened;
    for (let n = 0; n < 10; n++) await store.saveLink(link(n, n % 2 ? "lead" : "opportunity"));
    engine.runs = 0;
    const referrals = Array.from({ length: 30 }, (_, i) => `ref-${i % 15}`); // 10 linked, 5 not, each twice
    const [byReferral, opportunities, leads] = await Promise.all([
      Promise.all(referrals.map((r) => store.findLinkByReferralId(r))),
      Promise.all([0, 1, 2, 3].map((n) => store.findLinkByRecord("opportunity", `rec-${n}`))),
      Promise.all([0, 1, 2, 3].map((n) => store.findLinkByRecord("lead", `rec-${n}`))),
    ]);
    const keys = (links: (Link | undefined)[]) => links.map((l) => l?.key ?? null);
    expect(keys(byReferral)).toEqual(referrals.map((r) => (Number(r.slice(4)) < 10 ? `link-${r.slice(4)}` : null)));
    expect(keys(opportunities)).toEqual(["link-0", null, "link-2", null]);
    expect(keys(leads)).toEqual([null, "link-1", null, "link-3"]);
    expect(byReferral[0]).toMatchObject({ referralId: "ref-0", entity: "opportunity", recordId: "rec-0", version: 1 });
    expect(engine.runs).toBe(kind === "postgres" ? 3 : 38);
    // A write that completed is seen by the next lookup.
    await store.saveLink(link(12, "lead"));
    expect((await store.findLinkByReferralId("ref-12"))?.key).toBe("link-12");
  });
});
