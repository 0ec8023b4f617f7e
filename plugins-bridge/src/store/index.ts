/**
 * `openStore`: opens (and migrates) the bridge's store on a SQLite file or on PostgreSQL.
 * Everything else talks to the `Store` interface in ./types.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { z } from "zod";
import { PostgresEngine, SqliteEngine, type Engine } from "./engine";
import { StoreOpenError } from "./errors";
import { LATEST_MIGRATION, migrationProvider, type Dialect } from "./migrations";
import { SqlStore } from "./sql-store";
import type { Store, StoreConfig, StoreOptions } from "./types";

export * from "./types";
export * from "./errors";
export { nextRunAt, retryDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff";

export const DEFAULT_PG_SCHEMA = "cosell_bridge";
export const DEFAULT_MAX_ATTEMPTS = 8;
/** How long a SQLite connection waits for another one's write lock before failing. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;

const configSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("sqlite"),
    path: z.string().min(1),
    durability: z.enum(["normal", "full"]).optional(),
  }),
  z.object({
    kind: z.literal("postgres"),
    connectionString: z.string().min(1),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, "a PostgreSQL schema name: lower-case letters, digits and _")
      .optional(),
    poolSize: z.number().int().min(1).max(100).optional(),
  }),
]);

const optionsSchema = z.object({
  maxAttempts: z.number().int().min(1).optional(),
  now: z.function().optional(),
  reapOnOpen: z.boolean().optional(),
});

export async function openStore(config: StoreConfig, options: StoreOptions = {}): Promise<Store> {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) throw new StoreOpenError(`invalid store configuration: ${z.prettifyError(parsed.error)}`);
  const opts = optionsSchema.safeParse(options);
  if (!opts.success) throw new StoreOpenError(`invalid store options: ${z.prettifyError(opts.error)}`);

  const engine = config.kind === "sqlite" ? await openSqlite(config) : await openPostgres(config);
  const store = new SqlStore(engine, {
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    now: options.now ?? Date.now,
  });
  if (options.reapOnOpen === false) return store;
  try {
    // Jobs of a crashed instance (this one, last time) go back to the queue now, not at the first sweep.
    await store.reapExpiredLeases();
  } catch (err) {
    await store.close();
    throw new StoreOpenError("the store opened but its job queue could not be read", { cause: err });
  }
  return store;
}

async function migrate(db: Kysely<unknown>, dialect: Dialect, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new StoreOpenError(`store migration ${failed ?? ""} failed`.replace("  ", " "), { cause: error });
  }
}

// ── SQLite ─────────────────────────────────────────────────────────────────────────────────────

/** Stores opening the same file in this process migrate one after the other (see engine.ts). */
const sqliteOpening = new Map<string, Promise<unknown>>();

async function openSqlite(config: Extract<StoreConfig, { kind: "sqlite" }>): Promise<Engine> {
  const file = path.resolve(config.path);
  const previous = sqliteOpening.get(file) ?? Promise.resolve();
  const opening = previous.catch(() => undefined).then(() => openSqliteNow(file, config.durability ?? "normal"));
  sqliteOpening.set(file, opening);
  try {
    return await opening;
  } finally {
    if (sqliteOpening.get(file) === opening) sqliteOpening.delete(file);
  }
}

/** Whether the latest migration is recorded: then opening takes no write lock at all. */
function sqliteUpToDate(db: Database.Database): boolean {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'").get();
  if (!table) return false;
  return db.prepare("SELECT 1 FROM kysely_migration WHERE name = ?").get(LATEST_MIGRATION) !== undefined;
}

async function openSqliteNow(file: string, durability: "normal" | "full"): Promise<Engine> {
  let db: Database.Database;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // WAL: readers never block the writer, and a commit is one append to the log. With WAL,
    // synchronous=NORMAL survives a killed process (the log is in the OS's hands at commit); only an
    // OS crash or power cut can lose the last commits. "full" fsyncs every commit. See README.md.
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal") throw new Error(`could not switch ${file} to WAL (journal_mode is ${String(mode)})`);
    db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
  } catch (err) {
    throw new StoreOpenError(`cannot open the SQLite store at ${file}`, { cause: err });
  }
  try {
    if (!sqliteUpToDate(db)) {
      // kysely runs SQLite migrations without a transaction or a lock. Ours: BEGIN IMMEDIATE makes a
      // migration all-or-nothing (a kill mid-way leaves the previous schema, not half of the new one)
      // and makes a second process wait (busy_timeout) until the first has finished.
      db.exec("BEGIN IMMEDIATE");
      try {
        await migrate(new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) }), "sqlite");
        db.exec("COMMIT");
      } finally {
        if (db.inTransaction) db.exec("ROLLBACK");
      }
    }
  } catch (err) {
    db.close();
    throw err instanceof StoreOpenError ? err : new StoreOpenError(`cannot migrate the SQLite store at ${file}`, { cause: err });
  }
  return new SqliteEngine(db);
}

// ── PostgreSQL ─────────────────────────────────────────────────────────────────────────────────

async function openPostgres(config: Extract<StoreConfig, { kind: "postgres" }>): Promise<Engine> {
  const schema = config.schema ?? DEFAULT_PG_SCHEMA;
  const types = new pg.TypeOverrides();
  // bigint (ids, epoch milliseconds, counts) as numbers: all of ours are far below 2^53.
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  const pool = new pg.Pool({
    connectionString: config.connectionString,
    max: config.poolSize ?? 10,
    // Every connection works in our schema, so the SQL never names it.
    options: `-c search_path=${schema}`,
    types,
  });
  // An idle connection dropped by the server: the pool discards it and the next query reconnects.
  pool.on("error", () => undefined);
  try {
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } catch (err) {
      // Two instances creating it at once: one of them loses this race, harmlessly.
      const code = (err as { code?: string }).code;
      if (code !== "23505" && code !== "42P06") throw err;
    }
    // Kysely's PostgreSQL migrator takes an advisory lock: instances starting together migrate once.
    await migrate(new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) }), "postgres", schema);
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof StoreOpenError) throw err;
    throw new StoreOpenError(`cannot open the PostgreSQL store (schema ${schema})`, { cause: err });
  }
  return new PostgresEngine(pool);
}

/**
 * Drops a PostgreSQL schema of the store and everything in it (tests, benchmarks, and an admin
 * removing the bridge). The name is checked as `openStore` checks it, then quoted.
 */
export async function dropPostgresSchema(connectionString: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new StoreOpenError(`'${schema}' is not a schema name the store uses`);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
