/**
 * Looking into the bridge's store from the outside, the way an operator would: row counts per
 * table straight from the database (independent of the store's own code), SQLite's integrity check,
 * and the store itself opened from the test process (it is built for several processes at once).
 */
import Database from "better-sqlite3";
import { Client } from "pg";
import { openStore, type Store, type StoreConfig } from "@cosell/bridge/src/store";

export const STORE_TABLES = ["events", "jobs", "links", "cursors", "sync_log"] as const;
export type TableCounts = Record<(typeof STORE_TABLES)[number], number>;

/** Rows per table, and jobs per state. */
export async function tableCounts(config: StoreConfig): Promise<TableCounts & { jobStates: Record<string, number> }> {
  const counts = {} as TableCounts;
  const jobStates: Record<string, number> = {};
  if (config.kind === "sqlite") {
    const db = new Database(config.path, { readonly: true, fileMustExist: true });
    try {
      db.pragma("busy_timeout = 10000");
      for (const t of STORE_TABLES) counts[t] = Number((db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
      for (const row of db.prepare("SELECT state, count(*) AS n FROM jobs GROUP BY state").all() as Array<{ state: string; n: number }>) jobStates[row.state] = Number(row.n);
    } finally {
      db.close();
    }
  } else {
    const client = new Client({ connectionString: config.connectionString });
    await client.connect();
    try {
      const schema = config.schema ?? "cosell_bridge";
      for (const t of STORE_TABLES) counts[t] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".${t}`)).rows[0]?.n ?? 0);
      for (const row of (await client.query<{ state: string; n: string }>(`SELECT state, count(*) AS n FROM "${schema}".jobs GROUP BY state`)).rows) jobStates[row.state] = Number(row.n);
    } finally {
      await client.end();
    }
  }
  return { ...counts, jobStates };
}

/** SQLite: `PRAGMA integrity_check` ("ok" when intact). PostgreSQL: always "ok" (the server guarantees it). */
export function integrity(config: StoreConfig): string {
  if (config.kind !== "sqlite") return "ok";
  const db = new Database(config.path, { fileMustExist: true });
  try {
    return String(db.pragma("integrity_check", { simple: true }));
  } finally {
    db.close();
  }
}

/**
 * The bridge's store, opened from the test process (a second process on the same file or schema)
 * to look at it: it does not reap leases (that would dead-letter the bridge's jobs by the default
 * attempt limit rather than the bridge's own).
 */
export function openProbe(config: StoreConfig): Promise<Store> {
  return openStore(config.kind === "postgres" ? { ...config, poolSize: 2 } : config, { reapOnOpen: false });
}
