/**
 * Intake benchmark: how many webhooks a second the store persists (event row + job, one transaction).
 *   npx tsx bench/tools/store-intake.ts [events] [concurrency]
 * SQLite always; PostgreSQL too when DATABASE_URL is set (a throw-away schema, dropped afterwards).
 * Events go to 500 links, so most coalesce into a queued job, as a burst of edits would.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { openStore, type Store, type StoreConfig } from "@cosell/bridge/src/store";

async function run(store: Store, events: number, concurrency: number): Promise<number> {
  let next = 0;
  const payload = { message: "Update", primaryEntity: "opportunity", attributes: "x".repeat(600) };
  const worker = async () => {
    while (next < events) {
      const i = next++;
      await store.recordEvent({
        source: "dataverse",
        dedupeKey: `op-${i}`,
        receivedAt: new Date(),
        payload: { ...payload, i },
        linkKey: `link-${i % 500}`,
      });
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return events / seconds;
}

async function bench(label: string, config: StoreConfig, events: number, concurrency: number): Promise<void> {
  const store = await openStore(config);
  try {
    await run(store, Math.min(500, events), concurrency); // warm-up: statements prepared, pool filled
    const rate = await run(store, events, concurrency);
    const stats = await store.queueStats();
    console.log(`${label}: ${Math.round(rate)} events/s (${events} events, ${concurrency} in flight; ${stats.queued} jobs queued)`);
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const events = Number(process.argv[2] ?? 10_000);
  const concurrency = Number(process.argv[3] ?? 16);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-bench-"));
  try {
    await bench("sqlite (WAL, synchronous=NORMAL)", { kind: "sqlite", path: path.join(dir, "normal.sqlite") }, events, concurrency);
    await bench("sqlite (WAL, synchronous=FULL)", { kind: "sqlite", path: path.join(dir, "full.sqlite"), durability: "full" }, events, concurrency);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env["DATABASE_URL"];
  if (!url) {
    console.log("postgres: skipped (set DATABASE_URL)");
    return;
  }
  const schema = `cosell_bench_${process.pid}`;
  try {
    await bench("postgres", { kind: "postgres", connectionString: url, schema, poolSize: concurrency }, events, concurrency);
  } finally {
    const admin = new Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
