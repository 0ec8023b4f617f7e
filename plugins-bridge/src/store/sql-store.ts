/**
 * The Store over either engine. Every operation is written once as SQL both engines accept; the few
 * places where they differ (PostgreSQL's row and advisory locks in the claim, jsonb) branch on
 * `this.pg`. The claim algorithm and the guarantees are explained in README.md.
 */
import { AUDIT_DIRECTIONS, AUDIT_OUTCOMES } from "@cosell/contract";
import {
  JobNotFoundError,
  JobStateError,
  LeaseLostError,
  LinkConflictError,
  StaleLinkError,
  StoreClosedError,
} from "./errors";
import { isUniqueViolation, stmt, type Engine, type Op, type Row, type RunMode, type StmtResult } from "./engine";
import { LookupBatch } from "./lookup-batch";
import { encodeJson, num, str, strOrNull, toEvent, toJob, toLink, toSyncRecord, decodeJson } from "./rows";
import { CREATE_INTENT_PREFIX } from "./types";
import type {
  EnqueueInput,
  EnqueueResult,
  EventSource,
  IncomingEvent,
  Job,
  Link,
  LinkEntity,
  ListLinksQuery,
  MoveLinkInput,
  PruneInput,
  PruneResult,
  QueueStats,
  RecordEventResult,
  RetryResult,
  SaveLinkInput,
  Store,
  StoredEvent,
  SyncRecord,
  SyncRecordInput,
} from "./types";

/** Candidates the PostgreSQL claim locks at once; others skip them, so a few is enough. */
const CLAIM_CANDIDATES = 3;

/** Events written in one group commit at most (PostgreSQL: one statement's JSON parameter of ~256 KB). */
export const MAX_EVENT_BATCH = 256;

/** Keys in one batched link lookup at most (one JSON array parameter). */
const MAX_LOOKUP_BATCH = 500;

/** An event checked and encoded, waiting for its group commit. */
interface EventRow {
  readonly source: EventSource;
  readonly dedupeKey: string;
  readonly linkKey: string;
  readonly kind: string;
  readonly receivedAt: number;
  readonly payload: string;
  readonly now: number;
}

interface PendingEvent {
  readonly row: EventRow;
  readonly resolve: (result: RecordEventResult) => void;
  readonly reject: (err: unknown) => void;
}

/** A job is at the head of its link when no other job of the link runs and none queued is older. */
function headOfLink(job: string): string {
  return `NOT EXISTS (
    SELECT 1 FROM jobs e
    WHERE e.link_key = ${job}.link_key AND e.id <> ${job}.id
      AND (e.state = 'running' OR (e.state = 'queued' AND e.id < ${job}.id)))`;
}

/** Merging into the queued job of the same link and kind. A job in backoff keeps its run_at. */
const MERGE_QUEUED = `ON CONFLICT (link_key, kind) WHERE state = 'queued' DO UPDATE SET
  payload = excluded.payload,
  coalesced = jobs.coalesced + 1,
  run_at = CASE WHEN jobs.attempts = 0 AND excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END,
  updated_at = excluded.updated_at`;

/**
 * Create intents last written before ? whose referral has a link: the create they describe is done.
 * The prefix is a constant of ours (letters, '-' and ':'), so it is safe inside the SQL text.
 */
const PRUNE_CREATE_INTENTS = `DELETE FROM cursors
  WHERE name LIKE '${CREATE_INTENT_PREFIX}%' AND updated_at < ?
    AND EXISTS (SELECT 1 FROM links l WHERE l.referral_id = substr(cursors.name, ${CREATE_INTENT_PREFIX.length + 1}))`;

const LINK_COLUMNS =
  "key, referral_id, engagement_id, entity, record_id, base, pc_etag, crm_etag, last_synced_at, state, version, created_at, updated_at";

export interface SqlStoreOptions {
  readonly maxAttempts: number;
  readonly now: () => number;
}

function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return Math.min(limit, max);
}

/** SQLSTATE cosell_complete_and_claim raises when the job is not held by the caller (migrations.ts). */
const NOT_HELD = "CB001";

/** Checked on the way in: one bad row would otherwise break every read of the history. */
function checkSyncRecord(entry: SyncRecordInput): void {
  if (!(AUDIT_DIRECTIONS as readonly string[]).includes(entry.direction)) throw new TypeError(`unknown sync direction ${entry.direction}`);
  if (!(AUDIT_OUTCOMES as readonly string[]).includes(entry.outcome)) throw new TypeError(`unknown sync outcome ${entry.outcome}`);
}

function requireText(value: string, what: string): void {
  if (typeof value !== "string" || value.length === 0) throw new TypeError(`${what} must be a non-empty string`);
}

export class SqlStore implements Store {
  readonly kind: "sqlite" | "postgres";
  private readonly pg: boolean;
  private readonly json: string;
  private closed = false;
  /** Events waiting for the next group commit (`flushEvents`), and the loop writing them, while it runs. */
  private pendingEvents: PendingEvent[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly options: SqlStoreOptions,
  ) {
    this.kind = engine.dialect;
    this.pg = engine.dialect === "postgres";
    this.json = this.pg ? "CAST(? AS jsonb)" : "?";
  }

  private run<T>(op: () => Op<T>, mode: RunMode): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    return this.engine.run(op, mode);
  }

  /** Re-runs an operation that lost a race on a unique index to a concurrent writer (PostgreSQL). */
  private async runRetryingUnique<T>(op: () => Op<T>, mode: RunMode): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.run(op, mode);
      } catch (err) {
        if (attempt >= 3 || !isUniqueViolation(err)) throw err;
      }
    }
  }

  private now(): number {
    return this.options.now();
  }

  // ── Inbox ──────────────────────────────────────────────────────────────────────────────────

  async recordEvent(event: IncomingEvent): Promise<RecordEventResult> {
    requireText(event.dedupeKey, "dedupeKey");
    requireText(event.linkKey, "linkKey");
    if (event.source !== "partner-center" && event.source !== "dataverse") throw new TypeError(`unknown event source ${String(event.source)}`);
    if (Number.isNaN(event.receivedAt.getTime())) throw new TypeError("receivedAt is not a valid date");
    const row: EventRow = {
      source: event.source,
      dedupeKey: event.dedupeKey,
      linkKey: event.linkKey,
      kind: event.jobKind ?? "sync",
      receivedAt: event.receivedAt.getTime(),
      payload: encodeJson(event.payload, "event payload"),
      now: this.now(),
    };
    return new Promise((resolve, reject) => {
      this.pendingEvents.push({ row, resolve, reject });
      if (this.flushing === undefined) this.flushing = new Promise<void>((done) => setImmediate(() => void this.flushEvents().finally(done)));
    });
  }

  /**
   * Group commit: a commit costs far more than the inserts of one event (SQLite: ~5×, issue 6's
   * intake profile; PostgreSQL: a round trip and a WAL flush), so the events of concurrent webhooks
   * are written together. Events received in one turn of the event loop, and all those received
   * while a batch is being committed, go in the next batch (at most MAX_EVENT_BATCH), one
   * transaction; each caller (and its 2xx) goes on only once that transaction has committed. Each
   * event is deduplicated and coalesced exactly as on its own, in the order received. If the batch
   * fails, each event is written in a transaction of its own, so one bad event fails alone.
   */
  private async flushEvents(): Promise<void> {
    try {
      while (this.pendingEvents.length > 0) await this.writeEvents(this.pendingEvents.splice(0, MAX_EVENT_BATCH));
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeEvents(batch: PendingEvent[]): Promise<void> {
    // A repeat of an event earlier in the batch is a redelivery of it: it is written after it.
    const seen = new Set<string>();
    const firsts: PendingEvent[] = [];
    const repeats: PendingEvent[] = [];
    for (const b of batch) {
      const id = `${b.row.source}\u0000${b.row.dedupeKey}`;
      (seen.has(id) ? repeats : firsts).push(b);
      seen.add(id);
    }
    if (firsts.length > 1) {
      try {
        const results = this.pg
          ? await this.run(() => this.recordEventsPgOp(firsts.map((b) => b.row)), "auto")
          : await this.run(function* (this: SqlStore) {
              const out: RecordEventResult[] = [];
              for (const b of firsts) out.push(yield* this.recordEventSqliteOp(b.row));
              return out;
            }.bind(this), "tx");
        firsts.forEach((b, i) => b.resolve(results[i] as RecordEventResult));
        for (const b of repeats) b.resolve({ isNew: false });
        return;
      } catch {
        // each on its own, below
      }
    }
    const one = (b: PendingEvent) =>
      (this.pg ? this.run(() => this.recordEventPgOp(b.row), "auto") : this.run(() => this.recordEventSqliteOp(b.row), "tx")).then(b.resolve, b.reject);
    await Promise.all(firsts.map(one));
    await Promise.all(repeats.map(one));
  }

  /** PostgreSQL, one event: one statement, one round trip; the event row and its job commit together or not at all. */
  private *recordEventPgOp(e: EventRow): Op<RecordEventResult> {
    const r = yield stmt(
      `WITH ev AS (
         INSERT INTO events (source, dedupe_key, link_key, received_at, payload)
         VALUES (?, ?, ?, ?, CAST(? AS jsonb))
         ON CONFLICT (source, dedupe_key) DO NOTHING
         RETURNING id),
       job AS (
         INSERT INTO jobs (link_key, kind, payload, state, run_at, attempts, coalesced, created_at, updated_at)
         SELECT ?, ?, jsonb_build_object('source', CAST(? AS text), 'eventId', ev.id), 'queued', ?, 0, 0, ?, ?
         FROM ev
         ${MERGE_QUEUED}
         RETURNING id, coalesced)
       SELECT ev.id AS event_id, job.id AS job_id, job.coalesced FROM ev, job`,
      e.source,
      e.dedupeKey,
      e.linkKey,
      e.receivedAt,
      e.payload,
      e.linkKey,
      e.kind,
      e.source,
      e.now,
      e.now,
      e.now,
    );
    const row = r.rows[0];
    if (!row) return { isNew: false };
    return { isNew: true, eventId: num(row, "event_id"), jobId: num(row, "job_id"), coalesced: num(row, "coalesced") > 0 };
  }

  /**
   * PostgreSQL, a batch of distinct events: one statement. The events travel as one JSON array (the
   * statement's text, and its prepared plan, are the same whatever their number). New events of one
   * link and kind make one job row (ON CONFLICT DO UPDATE may touch a row once per statement), which
   * ends as it would after them one at a time: the newest event's payload, `coalesced` grown by
   * their number, run_at brought forward only for a job that has not failed yet. Jobs are written in
   * key order, so two instances' batches lock them in the same order.
   */
  private *recordEventsPgOp(rows: readonly EventRow[]): Op<RecordEventResult[]> {
    const input = rows.map(
      (e, i) =>
        `{"ord":${i},"source":${JSON.stringify(e.source)},"dedupe_key":${JSON.stringify(e.dedupeKey)},"link_key":${JSON.stringify(e.linkKey)},` +
        `"kind":${JSON.stringify(e.kind)},"received_at":${e.receivedAt},"now":${e.now},"payload":${e.payload}}`,
    );
    const r = yield stmt(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset(CAST(? AS jsonb))
           AS i(ord int, source text, dedupe_key text, link_key text, kind text, received_at bigint, now bigint, payload jsonb)),
       ev AS (
         INSERT INTO events (source, dedupe_key, link_key, received_at, payload)
         SELECT source, dedupe_key, link_key, received_at, payload FROM input ORDER BY ord
         ON CONFLICT (source, dedupe_key) DO NOTHING
         RETURNING id, source, dedupe_key),
       fresh AS (
         SELECT i.ord, i.source, i.link_key, i.kind, i.now, ev.id,
           row_number() OVER (PARTITION BY i.link_key, i.kind ORDER BY i.ord) AS nth,
           count(*) OVER (PARTITION BY i.link_key, i.kind) AS n
         FROM input i JOIN ev ON ev.source = i.source AND ev.dedupe_key = i.dedupe_key),
       grp AS (
         SELECT link_key, kind, count(*) AS n, min(now) AS first_now, max(now) AS last_now,
           (array_agg(jsonb_build_object('source', source, 'eventId', id) ORDER BY ord DESC))[1] AS payload
         FROM fresh GROUP BY link_key, kind),
       job AS (
         INSERT INTO jobs (link_key, kind, payload, state, run_at, attempts, coalesced, created_at, updated_at)
         SELECT link_key, kind, payload, 'queued', first_now, 0, n - 1, first_now, last_now FROM grp ORDER BY link_key, kind
         ON CONFLICT (link_key, kind) WHERE state = 'queued' DO UPDATE SET
           payload = excluded.payload,
           coalesced = jobs.coalesced + excluded.coalesced + 1,
           run_at = CASE WHEN jobs.attempts = 0 AND excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END,
           updated_at = excluded.updated_at
         RETURNING id, link_key, kind, coalesced)
       SELECT fresh.ord, fresh.id AS event_id, fresh.nth, fresh.n, job.id AS job_id, job.coalesced
       FROM fresh JOIN job ON job.link_key = fresh.link_key AND job.kind = fresh.kind`,
      `[${input.join(",")}]`,
    );
    const out: RecordEventResult[] = rows.map(() => ({ isNew: false }));
    for (const row of r.rows) {
      // The job was inserted by this statement iff its count is that of its own events, less one.
      const merged = num(row, "coalesced") !== num(row, "n") - 1;
      out[num(row, "ord")] = { isNew: true, eventId: num(row, "event_id"), jobId: num(row, "job_id"), coalesced: merged || num(row, "nth") > 1 };
    }
    return out;
  }

  private *recordEventSqliteOp(e: EventRow): Op<RecordEventResult> {
    const ev = yield stmt(
      `INSERT INTO events (source, dedupe_key, link_key, received_at, payload) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id`,
      e.source,
      e.dedupeKey,
      e.linkKey,
      e.receivedAt,
      e.payload,
    );
    const row = ev.rows[0];
    if (!row) return { isNew: false };
    const eventId = num(row, "id");
    const job = yield* this.enqueueOp(e.linkKey, e.kind, encodeJson({ source: e.source, eventId }, "job"), e.now, e.now);
    return { isNew: true, eventId, jobId: job.jobId, coalesced: job.coalesced };
  }

  async getEvent(id: number): Promise<StoredEvent | undefined> {
    const dialect = this.kind;
    return this.run(function* () {
      const r = yield stmt("SELECT * FROM events WHERE id = ?", id);
      return r.rows[0] ? toEvent(dialect, r.rows[0]) : undefined;
    }, "auto");
  }

  async findEvent(source: EventSource, dedupeKey: string): Promise<StoredEvent | undefined> {
    const dialect = this.kind;
    return this.run(function* () {
      const r = yield stmt("SELECT * FROM events WHERE source = ? AND dedupe_key = ?", source, dedupeKey);
      return r.rows[0] ? toEvent(dialect, r.rows[0]) : undefined;
    }, "auto");
  }

  // ── Jobs ───────────────────────────────────────────────────────────────────────────────────

  private *enqueueOp(linkKey: string, kind: string, payloadJson: string, runAt: number, now: number): Op<EnqueueResult> {
    const r = yield stmt(
      `INSERT INTO jobs (link_key, kind, payload, state, run_at, attempts, coalesced, created_at, updated_at)
       VALUES (?, ?, ${this.json}, 'queued', ?, 0, 0, ?, ?)
       ${MERGE_QUEUED}
       RETURNING id, coalesced`,
      linkKey,
      kind,
      payloadJson,
      runAt,
      now,
      now,
    );
    const row = r.rows[0];
    if (!row) throw new Error("enqueue returned no row");
    // coalesced only ever grows from 0 on a merge, so 0 means this statement inserted the row.
    return { jobId: num(row, "id"), coalesced: num(row, "coalesced") > 0 };
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    requireText(input.linkKey, "linkKey");
    requireText(input.kind, "kind");
    const payload = encodeJson(input.payload, "job payload");
    const now = this.now();
    const runAt = input.runAt ? input.runAt.getTime() : now;
    return this.run(() => this.enqueueOp(input.linkKey, input.kind, payload, runAt, now), "auto");
  }

  async enqueueMany(inputs: readonly EnqueueInput[]): Promise<EnqueueResult[]> {
    if (inputs.length === 0) return [];
    const now = this.now();
    const rows = inputs.map((input) => {
      requireText(input.linkKey, "linkKey");
      requireText(input.kind, "kind");
      return { linkKey: input.linkKey, kind: input.kind, payload: encodeJson(input.payload, "job payload"), runAt: input.runAt ? input.runAt.getTime() : now };
    });
    // One transaction (one COMMIT, one fsync on PostgreSQL) for the lot; each row merges exactly as
    // `enqueue` would. A job is visible to claimers only once the page commits, which is at most a
    // page of listing later than one transaction per row would make it.
    return this.runRetryingUnique(function* (this: SqlStore) {
      const out: EnqueueResult[] = [];
      for (const r of rows) out.push(yield* this.enqueueOp(r.linkKey, r.kind, r.payload, r.runAt, now));
      return out;
    }.bind(this), "tx");
  }

  async claimNext(workerId: string, leaseMs: number): Promise<Job | undefined> {
    requireText(workerId, "workerId");
    if (!(leaseMs > 0)) throw new RangeError(`leaseMs must be positive, got ${leaseMs}`);
    const now = this.now();
    const dialect = this.kind;
    if (this.pg) {
      // cosell_claim (migrations.ts): the algorithm below, server-side, in one round trip.
      return this.run(function* () {
        const r = yield stmt("SELECT * FROM cosell_claim(?, ?, ?, ?)", workerId, now, now + leaseMs, CLAIM_CANDIDATES);
        return r.rows[0] ? toJob(dialect, r.rows[0]) : undefined;
      }, "auto");
    }
    return this.run(() => this.sqliteClaimOp(workerId, leaseMs, now), "tx");
  }

  /** SQLite, inside BEGIN IMMEDIATE: the whole file is locked for writing, so pick-and-mark is atomic. */
  private *sqliteClaimOp(workerId: string, leaseMs: number, now: number): Op<Job | undefined> {
    const c = yield stmt(
      `SELECT j.id FROM jobs j WHERE j.state = 'queued' AND j.run_at <= ? AND ${headOfLink("j")} ORDER BY j.id LIMIT 1`,
      now,
    );
    const candidate = c.rows[0];
    if (!candidate) return undefined;
    const r = yield stmt(
      `UPDATE jobs SET state = 'running', locked_by = ?, locked_until = ?, attempts = attempts + 1, updated_at = ?
       WHERE id = ? AND state = 'queued' AND ${headOfLink("jobs")}
       RETURNING *`,
      workerId,
      now + leaseMs,
      now,
      num(candidate, "id"),
    );
    return r.rows[0] ? toJob(this.kind, r.rows[0]) : undefined;
  }

  /** Reads a job for a state change, locking its row on PostgreSQL. */
  private *lockJob(jobId: number): Op<Job> {
    const r = yield stmt(`SELECT * FROM jobs WHERE id = ?${this.pg ? " FOR UPDATE" : ""}`, jobId);
    if (!r.rows[0]) throw new JobNotFoundError(jobId);
    return toJob(this.kind, r.rows[0]);
  }

  private static checkHeld(job: Job, workerId: string | undefined, action: string): void {
    if (workerId !== undefined) {
      if (job.state !== "running" || job.lockedBy !== workerId) throw new LeaseLostError(job.id, workerId);
    } else if (job.state !== "running") {
      throw new JobStateError(job.id, job.state, action);
    }
  }

  /**
   * Puts a job back in the queue. A job queued meanwhile for the same link and kind is merged into
   * it (its newer payload kept), which keeps "one queued job per link and kind" and the older id.
   */
  private *requeueOp(job: Job, fields: { runAt: number; lastError: string | null; resetAttempts: boolean }, now: number): Op<void> {
    const sibling = yield stmt(
      "DELETE FROM jobs WHERE link_key = ? AND kind = ? AND state = 'queued' AND id <> ? RETURNING payload, coalesced",
      job.linkKey,
      job.kind,
      job.id,
    );
    const merged = sibling.rows[0];
    const payload = merged ? encodeJson(decodeJson(this.kind, merged, "payload"), "job payload") : encodeJson(job.payload, "job payload");
    const coalesced = job.coalesced + (merged ? num(merged, "coalesced") + 1 : 0);
    yield stmt(
      `UPDATE jobs SET state = 'queued', run_at = ?, locked_by = NULL, locked_until = NULL, last_error = ?,
         payload = ${this.json}, coalesced = ?, attempts = ?, updated_at = ?
       WHERE id = ?`,
      fields.runAt,
      fields.lastError,
      payload,
      coalesced,
      fields.resetAttempts ? 0 : job.attempts,
      now,
      job.id,
    );
  }

  private static deadStmt(jobId: number, reason: string, now: number) {
    return stmt(
      `UPDATE jobs SET state = 'dead', last_error = ?, locked_by = NULL, locked_until = NULL, updated_at = ? WHERE id = ?`,
      reason,
      now,
      jobId,
    );
  }

  async complete(jobId: number, workerId?: string): Promise<void> {
    if (this.pg) {
      // One statement instead of BEGIN, SELECT … FOR UPDATE, DELETE, COMMIT; only when it deletes
      // nothing does the full operation run, to throw the right error.
      const r = await this.run(function* (): Op<StmtResult> {
        return yield workerId === undefined
          ? stmt("DELETE FROM jobs WHERE id = ? AND state = 'running'", jobId)
          : stmt("DELETE FROM jobs WHERE id = ? AND state = 'running' AND locked_by = ?", jobId, workerId);
      }, "auto");
      if (r.changes > 0) return;
    }
    await this.run(() => this.completeOp(jobId, workerId), "tx");
  }

  async completeAndClaim(
    jobId: number,
    workerId: string,
    history: readonly SyncRecordInput[],
    next: { readonly workerId: string; readonly leaseMs: number } | null,
  ): Promise<Job | undefined> {
    requireText(workerId, "workerId");
    if (next) {
      requireText(next.workerId, "workerId");
      if (!(next.leaseMs > 0)) throw new RangeError(`leaseMs must be positive, got ${next.leaseMs}`);
    }
    history.forEach(checkSyncRecord);
    const now = this.now();
    const dialect = this.kind;
    if (this.pg) {
      const rows = history.map((h) => ({
        link_key: h.linkKey,
        direction: h.direction,
        outcome: h.outcome,
        message: h.message,
        correlation_id: h.correlationId,
        at: h.at.getTime(),
      }));
      try {
        return await this.run(function* () {
          const r = yield stmt(
            "SELECT * FROM cosell_complete_and_claim(?, ?, CAST(? AS jsonb), ?, ?, ?, ?)",
            jobId,
            workerId,
            JSON.stringify(rows),
            next?.workerId ?? null,
            now,
            next ? now + next.leaseMs : null,
            CLAIM_CANDIDATES,
          );
          return r.rows[0] ? toJob(dialect, r.rows[0]) : undefined;
        }, "auto");
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code !== NOT_HELD) throw err;
        // Not held (any more): nothing was written or claimed; the ordinary complete says why.
        await this.complete(jobId, workerId);
        for (const h of history) await this.recordSync(h);
        return next ? this.claimNext(next.workerId, next.leaseMs) : undefined;
      }
    }
    return this.run(function* (this: SqlStore) {
      yield* this.completeOp(jobId, workerId);
      for (const h of history) yield SqlStore.syncLogStmt(h);
      return next ? yield* this.sqliteClaimOp(next.workerId, next.leaseMs, now) : undefined;
    }.bind(this), "tx");
  }

  private *completeOp(jobId: number, workerId: string | undefined): Op<void> {
    const job = yield* this.lockJob(jobId);
    SqlStore.checkHeld(job, workerId, "complete");
    yield stmt("DELETE FROM jobs WHERE id = ?", jobId);
  }

  async retryLater(jobId: number, retry: { error: string; runAt: Date; workerId?: string }): Promise<RetryResult> {
    const now = this.now();
    return this.runRetryingUnique(() => this.retryLaterOp(jobId, retry, now), "tx");
  }

  private *retryLaterOp(jobId: number, retry: { error: string; runAt: Date; workerId?: string }, now: number): Op<RetryResult> {
    const job = yield* this.lockJob(jobId);
    SqlStore.checkHeld(job, retry.workerId, "retry");
    if (job.attempts >= this.options.maxAttempts) {
      yield SqlStore.deadStmt(jobId, `gave up after ${job.attempts} attempts: ${retry.error}`, now);
      return { state: "dead" };
    }
    yield* this.requeueOp(job, { runAt: retry.runAt.getTime(), lastError: retry.error, resetAttempts: false }, now);
    return { state: "queued", runAt: retry.runAt };
  }

  async deadLetter(jobId: number, reason: string, workerId?: string): Promise<void> {
    const now = this.now();
    await this.run(() => this.deadLetterOp(jobId, reason, workerId, now), "tx");
  }

  private *deadLetterOp(jobId: number, reason: string, workerId: string | undefined, now: number): Op<void> {
    const job = yield* this.lockJob(jobId);
    if (workerId !== undefined) SqlStore.checkHeld(job, workerId, "dead-letter");
    else if (job.state === "dead") throw new JobStateError(jobId, job.state, "dead-letter");
    yield SqlStore.deadStmt(jobId, reason, now);
  }

  async listDeadLetters(limit?: number): Promise<Job[]> {
    const n = clampLimit(limit, 100, 1000);
    const dialect = this.kind;
    return this.run(function* () {
      const r = yield stmt("SELECT * FROM jobs WHERE state = 'dead' ORDER BY updated_at DESC, id DESC LIMIT ?", n);
      return r.rows.map((row) => toJob(dialect, row));
    }, "auto");
  }

  async retryDeadLetter(jobId: number): Promise<void> {
    const now = this.now();
    await this.runRetryingUnique(() => this.retryDeadLetterOp(jobId, now), "tx");
  }

  private *retryDeadLetterOp(jobId: number, now: number): Op<void> {
    const job = yield* this.lockJob(jobId);
    if (job.state !== "dead") throw new JobStateError(jobId, job.state, "retry a dead letter of");
    yield* this.requeueOp(job, { runAt: now, lastError: job.lastError, resetAttempts: true }, now);
  }

  async reapExpiredLeases(at?: Date): Promise<number> {
    const now = at ? at.getTime() : this.now();
    return this.runRetryingUnique(() => this.reapOp(now), "tx");
  }

  private *reapOp(now: number): Op<number> {
    const r = yield stmt(
      `SELECT * FROM jobs WHERE state = 'running' AND locked_until < ? ORDER BY id${this.pg ? " FOR UPDATE SKIP LOCKED" : ""}`,
      now,
    );
    for (const row of r.rows) {
      const job = toJob(this.kind, row);
      const why = `lease of worker ${job.lockedBy ?? "?"} expired`;
      if (job.attempts >= this.options.maxAttempts) {
        yield SqlStore.deadStmt(job.id, `gave up after ${job.attempts} attempts: ${why}`, now);
      } else {
        yield* this.requeueOp(job, { runAt: now, lastError: why, resetAttempts: false }, now);
      }
    }
    return r.rows.length;
  }

  async extendLease(jobId: number, workerId: string, leaseMs: number): Promise<void> {
    if (!(leaseMs > 0)) throw new RangeError(`leaseMs must be positive, got ${leaseMs}`);
    const now = this.now();
    const r = await this.run(function* (): Op<StmtResult> {
      return yield stmt(
        "UPDATE jobs SET locked_until = ?, updated_at = ? WHERE id = ? AND state = 'running' AND locked_by = ?",
        now + leaseMs,
        now,
        jobId,
        workerId,
      );
    }, "auto");
    if (r.changes === 0) throw new LeaseLostError(jobId, workerId);
  }

  async getJob(jobId: number): Promise<Job | undefined> {
    const dialect = this.kind;
    return this.run(function* () {
      const r = yield stmt("SELECT * FROM jobs WHERE id = ?", jobId);
      return r.rows[0] ? toJob(dialect, r.rows[0]) : undefined;
    }, "auto");
  }

  async queueStats(): Promise<QueueStats> {
    const now = this.now();
    return this.run(function* () {
      const r = yield stmt(
        `SELECT
           COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS queued,
           COALESCE(SUM(CASE WHEN state = 'queued' AND run_at <= ? THEN 1 ELSE 0 END), 0) AS ready,
           COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS running,
           COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS dead,
           MIN(CASE WHEN state = 'queued' THEN created_at END) AS oldest_queued,
           MIN(CASE WHEN state = 'queued' AND run_at <= ? THEN run_at END) AS oldest_due
         FROM jobs`,
        now,
        now,
      );
      const row: Row = r.rows[0] ?? {};
      const oldestQueued = row["oldest_queued"] === null || row["oldest_queued"] === undefined ? null : num(row, "oldest_queued");
      const oldestDue = row["oldest_due"] === null || row["oldest_due"] === undefined ? null : num(row, "oldest_due");
      return {
        queued: num(row, "queued"),
        ready: num(row, "ready"),
        running: num(row, "running"),
        dead: num(row, "dead"),
        oldestQueuedAt: oldestQueued === null ? null : new Date(oldestQueued),
        lagMs: oldestDue === null ? 0 : Math.max(0, now - oldestDue),
      };
    }, "auto");
  }

  // ── Links ──────────────────────────────────────────────────────────────────────────────────

  private findLink(where: string, ...params: (string | number)[]): Promise<Link | undefined> {
    const dialect = this.kind;
    return this.run(function* () {
      const r = yield stmt(`SELECT ${LINK_COLUMNS} FROM links WHERE ${where}`, ...params);
      return r.rows[0] ? toLink(dialect, r.rows[0]) : undefined;
    }, "auto");
  }

  async getLink(key: string): Promise<Link | undefined> {
    return this.findLink("key = ?", key);
  }

  // PostgreSQL: concurrent lookups of single links (one per webhook at intake) share one query,
  // as findLinksByReferralIds / findLinksByRecords (lookup-batch.ts). SQLite answers each at once.
  private readonly byReferral = new LookupBatch<Link>(
    async (ids) => new Map((await this.findLinksByReferralIds(ids)).map((l) => [l.referralId, l])),
    MAX_LOOKUP_BATCH,
  );
  private readonly byRecord: Record<LinkEntity, LookupBatch<Link>> = {
    opportunity: new LookupBatch(async (ids) => new Map((await this.findLinksByRecords("opportunity", ids)).map((l) => [l.recordId, l])), MAX_LOOKUP_BATCH),
    lead: new LookupBatch(async (ids) => new Map((await this.findLinksByRecords("lead", ids)).map((l) => [l.recordId, l])), MAX_LOOKUP_BATCH),
  };

  async findLinkByReferralId(referralId: string): Promise<Link | undefined> {
    if (this.pg && !this.closed) return this.byReferral.get(referralId);
    return this.findLink("referral_id = ?", referralId);
  }

  async findLinkByRecord(entity: LinkEntity, recordId: string): Promise<Link | undefined> {
    const batch = this.byRecord[entity];
    if (this.pg && !this.closed && batch) return batch.get(recordId);
    return this.findLink("entity = ? AND record_id = ?", entity, recordId);
  }

  /**
   * The links among `values` of one column, in one query: the values go as one JSON array, so the
   * statement's text (and its prepared plan) is the same whatever their number.
   */
  private findLinksIn(column: "referral_id" | "record_id", values: readonly string[], entity?: LinkEntity): Promise<Link[]> {
    if (values.length === 0) return Promise.resolve([]);
    const dialect = this.kind;
    const list = this.pg ? "SELECT jsonb_array_elements_text(CAST(? AS jsonb))" : "SELECT value FROM json_each(?)";
    const where = `${column} IN (${list})${entity === undefined ? "" : " AND entity = ?"}`;
    const params: string[] = [JSON.stringify(values)];
    if (entity !== undefined) params.push(entity);
    return this.run(function* () {
      const r = yield stmt(`SELECT ${LINK_COLUMNS} FROM links WHERE ${where}`, ...params);
      return r.rows.map((row) => toLink(dialect, row));
    }, "auto");
  }

  async findLinksByReferralIds(referralIds: readonly string[]): Promise<Link[]> {
    return this.findLinksIn("referral_id", referralIds);
  }

  async findLinksByRecords(entity: LinkEntity, recordIds: readonly string[]): Promise<Link[]> {
    return this.findLinksIn("record_id", recordIds, entity);
  }

  /** Fails when the referral or the record already belongs to another link. */
  private *checkNoOtherLink(key: string, referralId: string | null, entity: LinkEntity, recordId: string): Op<void> {
    const r = yield stmt(
      `SELECT key, referral_id FROM links WHERE key <> ? AND (referral_id = ? OR (entity = ? AND record_id = ?)) LIMIT 1`,
      key,
      referralId,
      entity,
      recordId,
    );
    const other = r.rows[0];
    if (other) {
      const what = strOrNull(other, "referral_id") === referralId ? `referral ${referralId ?? ""}` : `${entity} ${recordId}`;
      throw new LinkConflictError(key, str(other, "key"), `${what} is already linked`);
    }
  }

  private *currentVersion(key: string): Op<number | null> {
    const r = yield stmt("SELECT version FROM links WHERE key = ?", key);
    return r.rows[0] ? num(r.rows[0], "version") : null;
  }

  async saveLink(input: SaveLinkInput): Promise<Link> {
    requireText(input.key, "link key");
    requireText(input.referralId, "referralId");
    requireText(input.recordId, "recordId");
    const now = this.now();
    const base = encodeJson(input.base, "base snapshot");
    // One statement, committed on its own: the unique indexes refuse a referral or a record bound to
    // another link, and only then is that link looked up, for the error. On PostgreSQL one round trip
    // instead of four (BEGIN, conflict check, write, COMMIT); a sync saves its link up to three times.
    try {
      return await this.run(() => this.saveLinkOp(input, base, now), "auto");
    } catch (err) {
      if (isUniqueViolation(err)) {
        await this.run(() => this.checkNoOtherLink(input.key, input.referralId, input.entity, input.recordId), "auto");
        // The other writer's row has gone again (rolled back, or moved) since.
        throw new LinkConflictError(input.key, null, "the referral or the record is already linked", { cause: err });
      }
      throw err;
    }
  }

  /** One write; `currentVersion` only runs (a read) when the version did not match. */
  private *saveLinkOp(input: SaveLinkInput, base: string, now: number): Op<Link> {
    const values = [
      input.referralId,
      input.engagementId ?? null,
      input.entity,
      input.recordId,
      base,
      input.pcETag ?? null,
      input.crmETag ?? null,
      input.lastSyncedAt ? input.lastSyncedAt.getTime() : null,
      input.state,
    ] as const;
    if (input.expectedVersion === null) {
      const r = yield stmt(
        `INSERT INTO links (key, referral_id, engagement_id, entity, record_id, base, pc_etag, crm_etag, last_synced_at, state, version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ${this.json}, ?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT (key) DO NOTHING
         RETURNING ${LINK_COLUMNS}`,
        input.key,
        ...values,
        now,
        now,
      );
      if (r.rows[0]) return toLink(this.kind, r.rows[0]);
      throw new StaleLinkError(input.key, null, yield* this.currentVersion(input.key));
    }
    const r = yield stmt(
      `UPDATE links SET referral_id = ?, engagement_id = ?, entity = ?, record_id = ?, base = ${this.json}, pc_etag = ?,
         crm_etag = ?, last_synced_at = ?, state = ?, version = version + 1, updated_at = ?
       WHERE key = ? AND version = ?
       RETURNING ${LINK_COLUMNS}`,
      ...values,
      now,
      input.key,
      input.expectedVersion,
    );
    if (r.rows[0]) return toLink(this.kind, r.rows[0]);
    throw new StaleLinkError(input.key, input.expectedVersion, yield* this.currentVersion(input.key));
  }

  async moveLink(key: string, to: MoveLinkInput): Promise<Link> {
    requireText(to.recordId, "recordId");
    const now = this.now();
    try {
      // As saveLink: one statement, the unique index refuses a record bound to another link.
      return await this.run(() => this.moveLinkOp(key, to, now), "auto");
    } catch (err) {
      if (isUniqueViolation(err)) {
        await this.run(() => this.checkNoOtherLink(key, null, to.entity, to.recordId), "auto");
        throw new LinkConflictError(key, null, `${to.entity} ${to.recordId} is already linked`, { cause: err });
      }
      throw err;
    }
  }

  private *moveLinkOp(key: string, to: MoveLinkInput, now: number): Op<Link> {
    // The new record's ETag is unknown until the next read of it.
    const r = yield stmt(
      `UPDATE links SET entity = ?, record_id = ?, crm_etag = NULL, version = version + 1, updated_at = ?
       WHERE key = ? AND version = ?
       RETURNING ${LINK_COLUMNS}`,
      to.entity,
      to.recordId,
      now,
      key,
      to.expectedVersion,
    );
    if (r.rows[0]) return toLink(this.kind, r.rows[0]);
    throw new StaleLinkError(key, to.expectedVersion, yield* this.currentVersion(key));
  }

  async listLinks(query: ListLinksQuery = {}): Promise<Link[]> {
    const limit = clampLimit(query.limit, 100, 1000);
    const where = ["key > ?"];
    const params: (string | number)[] = [query.afterKey ?? ""];
    if (query.entity) {
      where.push("entity = ?");
      params.push(query.entity);
    }
    if (query.state !== undefined) {
      where.push("state = ?");
      params.push(query.state);
    }
    const dialect = this.kind;
    // COLLATE "C" on PostgreSQL: byte order, the same as SQLite's, whatever the database's locale.
    const order = this.pg ? `key COLLATE "C"` : "key";
    const cmp = this.pg ? where.map((w) => (w === "key > ?" ? `key COLLATE "C" > ?` : w)) : where;
    return this.run(function* () {
      const r = yield stmt(`SELECT ${LINK_COLUMNS} FROM links WHERE ${cmp.join(" AND ")} ORDER BY ${order} LIMIT ?`, ...params, limit);
      return r.rows.map((row) => toLink(dialect, row));
    }, "auto");
  }

  // ── Cursors ────────────────────────────────────────────────────────────────────────────────

  async getCursor(name: string): Promise<string | undefined> {
    return this.run(function* () {
      const r = yield stmt("SELECT value FROM cursors WHERE name = ?", name);
      return r.rows[0] ? str(r.rows[0], "value") : undefined;
    }, "auto");
  }

  async setCursor(name: string, value: string): Promise<void> {
    requireText(name, "cursor name");
    const now = this.now();
    await this.run(function* () {
      yield stmt(
        `INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        name,
        value,
        now,
      );
    }, "auto");
  }

  // ── Sync history ───────────────────────────────────────────────────────────────────────────

  private static syncLogStmt(entry: SyncRecordInput) {
    return stmt(
      "INSERT INTO sync_log (link_key, direction, outcome, message, correlation_id, at) VALUES (?, ?, ?, ?, ?, ?)",
      entry.linkKey,
      entry.direction,
      entry.outcome,
      entry.message,
      entry.correlationId,
      entry.at.getTime(),
    );
  }

  async recordSync(entry: SyncRecordInput): Promise<void> {
    checkSyncRecord(entry);
    await this.run(function* () {
      yield SqlStore.syncLogStmt(entry);
    }, "auto");
  }

  private syncs(where: string, limit: number | undefined): Promise<SyncRecord[]> {
    const n = clampLimit(limit, 50, 1000);
    return this.run(function* () {
      const r = yield stmt(`SELECT * FROM sync_log ${where} ORDER BY at DESC, id DESC LIMIT ?`, n);
      return r.rows.map(toSyncRecord);
    }, "auto");
  }

  async recentSyncs(limit?: number): Promise<SyncRecord[]> {
    return this.syncs("", limit);
  }

  async recentFailures(limit?: number): Promise<SyncRecord[]> {
    return this.syncs("WHERE outcome = 'error'", limit);
  }

  async prune(input: PruneInput): Promise<PruneResult> {
    return this.run(function* () {
      let syncs = 0;
      let events = 0;
      let createIntents = 0;
      if (input.syncsBefore) syncs = (yield stmt("DELETE FROM sync_log WHERE at < ?", input.syncsBefore.getTime())).changes;
      if (input.eventsBefore) events = (yield stmt("DELETE FROM events WHERE received_at < ?", input.eventsBefore.getTime())).changes;
      if (input.createIntentsBefore) createIntents = (yield stmt(PRUNE_CREATE_INTENTS, input.createIntentsBefore.getTime())).changes;
      return { syncs, events, createIntents };
    }, "tx");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A batch being committed finishes first (events queued behind it are refused: StoreClosedError).
    await this.flushing;
    await this.engine.close();
  }
}
