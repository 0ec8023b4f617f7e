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

/** A job is at the head of its link when no other job of the link runs and none queued is older. */
const PG_HEAD_OF_LINK = (job: string) => `NOT EXISTS (
      SELECT 1 FROM jobs e
      WHERE e.link_key = ${job}.link_key AND e.id <> ${job}.id
        AND (e.state = 'running' OR (e.state = 'queued' AND e.id < ${job}.id)))`;

/**
 * PostgreSQL: the claim (and "complete, then claim the next") as server-side functions, so a worker
 * makes one round trip per job where it made ten (BEGIN, candidates, advisory lock, UPDATE, COMMIT,
 * then BEGIN, SELECT … FOR UPDATE, DELETE, COMMIT and the history INSERT). The algorithm is the one
 * README.md describes, unchanged: PL/pgSQL runs each statement of a VOLATILE function with a fresh
 * snapshot (READ COMMITTED), so the UPDATE after `pg_try_advisory_xact_lock` still sees every earlier
 * claim of the link. Both set `synchronous_commit = off` for their own transaction only: losing one
 * of these commits in a server crash re-runs a job (see README.md, "Durability settings").
 * SQLite: nothing (its operations are statements in one local transaction already).
 */
function pgQueueFunctions(dialect: Dialect): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      if (dialect !== "postgres") return;
      await sql
        .raw(
          `CREATE FUNCTION cosell_claim(p_worker text, p_now bigint, p_until bigint, p_candidates integer)
           RETURNS SETOF jobs LANGUAGE plpgsql VOLATILE AS $fn$
           DECLARE
             c record;
             claimed jobs;
           BEGIN
             PERFORM set_config('synchronous_commit', 'off', true);
             FOR c IN
               SELECT j.id, j.link_key FROM jobs j
               WHERE j.state = 'queued' AND j.run_at <= p_now AND ${PG_HEAD_OF_LINK("j")}
               ORDER BY j.id LIMIT p_candidates FOR UPDATE OF j SKIP LOCKED
             LOOP
               IF pg_try_advisory_xact_lock(hashtext(current_schema()), hashtext(c.link_key)) THEN
                 UPDATE jobs SET state = 'running', locked_by = p_worker, locked_until = p_until,
                   attempts = attempts + 1, updated_at = p_now
                 WHERE id = c.id AND state = 'queued' AND ${PG_HEAD_OF_LINK("jobs")}
                 RETURNING * INTO claimed;
                 IF FOUND THEN
                   RETURN NEXT claimed;
                   RETURN;
                 END IF;
               END IF;
             END LOOP;
             RETURN;
           END
           $fn$`,
        )
        .execute(db);
      await sql
        .raw(
          `CREATE FUNCTION cosell_complete_and_claim(p_job bigint, p_holder text, p_history jsonb,
             p_worker text, p_now bigint, p_until bigint, p_candidates integer)
           RETURNS SETOF jobs LANGUAGE plpgsql VOLATILE AS $fn$
           BEGIN
             PERFORM set_config('synchronous_commit', 'off', true);
             DELETE FROM jobs WHERE id = p_job AND state = 'running' AND locked_by = p_holder;
             IF NOT FOUND THEN
               -- The caller finds out why (lease lost, job gone) with the ordinary complete.
               RAISE EXCEPTION 'job % is not held by %', p_job, p_holder USING ERRCODE = 'CB001';
             END IF;
             INSERT INTO sync_log (link_key, direction, outcome, message, correlation_id, at)
               SELECT h.link_key, h.direction, h.outcome, h.message, h.correlation_id, h.at
               FROM jsonb_to_recordset(p_history) AS h(link_key text, direction text, outcome text,
                 message text, correlation_id text, at bigint);
             IF p_worker IS NOT NULL THEN
               RETURN QUERY SELECT * FROM cosell_claim(p_worker, p_now, p_until, p_candidates);
             END IF;
             RETURN;
           END
           $fn$`,
        )
        .execute(db);
    },
    async down(db: AnyDb): Promise<void> {
      if (dialect !== "postgres") return;
      await sql.raw("DROP FUNCTION IF EXISTS cosell_complete_and_claim(bigint, text, jsonb, text, bigint, bigint, integer)").execute(db);
      await sql.raw("DROP FUNCTION IF EXISTS cosell_claim(text, bigint, bigint, integer)").execute(db);
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    getMigrations: () => Promise.resolve({ "0001_initial": initial(dialect), "0002_pg_queue_functions": pgQueueFunctions(dialect) }),
  };
}

/** The latest migration's name: a store whose table lacks it has not been migrated. */
export const LATEST_MIGRATION = "0002_pg_queue_functions";
