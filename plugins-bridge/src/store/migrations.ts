/**
 * Schema migrations as code, one list for both engines (kysely Migrator). Branches on the dialect only
 * for id columns and JSON; times are epoch milliseconds (bigint) on both, so every comparison is the
 * same SQL. Append new migrations; never edit one that has shipped.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

export type Dialect = "sqlite" | "postgres";

// Migrations never use the typed schema (it describes the latest state, not each step's).
type AnyDb = Kysely<unknown>;

function initial(dialect: Dialect): Migration {
  const pg = dialect === "postgres";
  const json = pg ? "jsonb" : "text";
  const id = (db: AnyDb, table: string) =>
    db.schema
      .createTable(table)
      .addColumn("id", pg ? "bigint" : "integer", (c) =>
        // AUTOINCREMENT: SQLite must never reuse the id of a deleted (completed) job.
        pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
      );

  return {
    async up(db: AnyDb): Promise<void> {
      await id(db, "events")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("dedupe_key", "text", (c) => c.notNull())
        .addColumn("link_key", "text", (c) => c.notNull())
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addColumn("payload", json, (c) => c.notNull())
        .addUniqueConstraint("events_dedupe", ["source", "dedupe_key"])
        .execute();
      await db.schema.createIndex("events_received_at").on("events").column("received_at").execute();
      await db.schema.createIndex("events_link_key").on("events").columns(["link_key", "id"]).execute();

      await id(db, "jobs")
        .addColumn("link_key", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("payload", json, (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull().check(sql`state in ('queued', 'running', 'dead')`))
        .addColumn("run_at", "bigint", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("coalesced", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("locked_by", "text")
        .addColumn("locked_until", "bigint")
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      // The per-link FIFO test ("an earlier job of the same link") and the claim order.
      await db.schema.createIndex("jobs_link_id").on("jobs").columns(["link_key", "id"]).execute();
      await db.schema.createIndex("jobs_state_id").on("jobs").columns(["state", "id"]).execute();
      // At most one queued job per link and kind: later enqueues merge into it (ON CONFLICT).
      await db.schema
        .createIndex("jobs_one_queued")
        .on("jobs")
        .columns(["link_key", "kind"])
        .unique()
        .where(sql<boolean>`state = 'queued'`)
        .execute();

      await db.schema
        .createTable("links")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("referral_id", "text", (c) => c.notNull().unique())
        .addColumn("engagement_id", "text")
        .addColumn("entity", "text", (c) => c.notNull().check(sql`entity in ('opportunity', 'lead')`))
        .addColumn("record_id", "text", (c) => c.notNull())
        .addColumn("base", json, (c) => c.notNull())
        .addColumn("pc_etag", "text")
        .addColumn("crm_etag", "text")
        .addColumn("last_synced_at", "bigint")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("links_record", ["entity", "record_id"])
        .execute();

      await db.schema
        .createTable("cursors")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await id(db, "sync_log")
        .addColumn("link_key", "text", (c) => c.notNull())
        .addColumn("direction", "text", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("correlation_id", "text")
        .addColumn("at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("sync_log_at").on("sync_log").column("at").execute();
      await db.schema.createIndex("sync_log_outcome").on("sync_log").columns(["outcome", "id"]).execute();
    },
    async down(db: AnyDb): Promise<void> {
      for (const table of ["sync_log", "cursors", "links", "jobs", "events"]) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    getMigrations: () => Promise.resolve({ "0001_initial": initial(dialect) }),
  };
}

/** The latest migration's name: a store whose table lacks it has not been migrated. */
export const LATEST_MIGRATION = "0001_initial";
