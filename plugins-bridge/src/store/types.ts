/**
 * The bridge's store: the durable inbox of webhooks, the per-link job queue, the links between
 * referrals and Dynamics records (with the base snapshot of the three-way merge), reconcile cursors
 * and the recent sync history. One interface, two engines (SQLite file, PostgreSQL); see README.md.
 *
 * Times are `Date`s at this interface and epoch milliseconds in the tables.
 */
import type { AuditDirection, AuditOutcome } from "@cosell/contract";

/** What `JSON.parse` gives back: payloads and base snapshots are stored as JSON. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type EventSource = "partner-center" | "dataverse";

export interface IncomingEvent {
  readonly source: EventSource;
  /**
   * Recognises a redelivery of the same webhook: Dataverse's OperationId (+ message), or for
   * Partner Center the event name + resource + change date. Unique per source.
   */
  readonly dedupeKey: string;
  readonly receivedAt: Date;
  /** The webhook body (or the part of it worth keeping); a hint, re-read from the source before acting. */
  readonly payload: unknown;
  /** The link this event concerns; the job it enqueues is serialized with every other job of the link. */
  readonly linkKey: string;
  /** Kind of the job to enqueue or coalesce into; default `"sync"`. */
  readonly jobKind?: string;
}

export type RecordEventResult =
  | { readonly isNew: true; readonly eventId: number; readonly jobId: number; readonly coalesced: boolean }
  | { readonly isNew: false };

export interface StoredEvent {
  readonly id: number;
  readonly source: EventSource;
  readonly dedupeKey: string;
  readonly linkKey: string;
  readonly receivedAt: Date;
  readonly payload: JsonValue;
}

/** queued → running → (deleted on completion) | queued again (retry, reaper) | dead (dead letter). */
export type JobState = "queued" | "running" | "dead";

export interface Job {
  readonly id: number;
  readonly linkKey: string;
  readonly kind: string;
  /** The newest payload enqueued for this job (later enqueues of the same link and kind merge into it). */
  readonly payload: JsonValue;
  readonly state: JobState;
  /** Not claimed before this time (backoff, Retry-After). */
  readonly runAt: Date;
  /** Claims so far, this one included; reset when a dead letter is retried. */
  readonly attempts: number;
  /** How many later enqueues were merged into this job. */
  readonly coalesced: number;
  readonly lockedBy: string | null;
  readonly lockedUntil: Date | null;
  /** The last failure: the retry error, or the dead-letter reason. */
  readonly lastError: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface EnqueueInput {
  readonly linkKey: string;
  readonly kind: string;
  readonly payload: unknown;
  /** Default: now. */
  readonly runAt?: Date;
}

export interface EnqueueResult {
  readonly jobId: number;
  /** True when merged into a job of the same link and kind that was still queued. */
  readonly coalesced: boolean;
}

export type RetryResult = { readonly state: "queued"; readonly runAt: Date } | { readonly state: "dead" };

export interface QueueStats {
  readonly queued: number;
  /** Queued and due now (run_at reached). */
  readonly ready: number;
  readonly running: number;
  readonly dead: number;
  /** Creation time of the oldest queued job (the oldest unprocessed hint), or null. */
  readonly oldestQueuedAt: Date | null;
  /** How long the oldest due job has waited, 0 when none: the queue's lag. */
  readonly lagMs: number;
}

export type LinkEntity = "opportunity" | "lead";

/** One referral ↔ one Dynamics record, and what both looked like after the last sync. */
export interface Link {
  readonly key: string;
  readonly referralId: string;
  readonly engagementId: string | null;
  readonly entity: LinkEntity;
  readonly recordId: string;
  /** The last synced snapshot: the base of the three-way merge. */
  readonly base: JsonValue;
  readonly pcETag: string | null;
  readonly crmETag: string | null;
  readonly lastSyncedAt: Date | null;
  /** The sync engine's own label for the link (e.g. active, closed); the store does not interpret it. */
  readonly state: string;
  /** Incremented by every save; a save naming an older version fails with StaleLinkError. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface SaveLinkInput {
  readonly key: string;
  readonly referralId: string;
  readonly engagementId?: string | null;
  readonly entity: LinkEntity;
  readonly recordId: string;
  readonly base: unknown;
  readonly pcETag?: string | null;
  readonly crmETag?: string | null;
  readonly lastSyncedAt?: Date | null;
  readonly state: string;
  /** null: create (fails if the key exists); a number: update the link at exactly that version. */
  readonly expectedVersion: number | null;
}

export interface MoveLinkInput {
  readonly entity: LinkEntity;
  readonly recordId: string;
  readonly expectedVersion: number;
}

export interface ListLinksQuery {
  /** Keyset pagination: links whose key sorts after this one. */
  readonly afterKey?: string;
  /** Default 100, at most 1000. */
  readonly limit?: number;
  readonly entity?: LinkEntity;
  readonly state?: string;
}

export interface SyncRecordInput {
  readonly linkKey: string;
  readonly direction: AuditDirection;
  readonly outcome: AuditOutcome;
  readonly message: string;
  readonly correlationId: string | null;
  readonly at: Date;
}

export interface SyncRecord extends SyncRecordInput {
  readonly id: number;
}

/**
 * Cursors named `create-intent:<referral id>`: what creating a record from that referral copies from
 * Partner Center, kept before the create (the sync engine writes and reads them; prune removes them).
 */
export const CREATE_INTENT_PREFIX = "create-intent:";

export interface PruneInput {
  /** Delete sync history older than this. */
  readonly syncsBefore?: Date;
  /** Delete stored webhooks older than this (ends their dedupe window). */
  readonly eventsBefore?: Date;
  /**
   * Delete create intents last written before this whose referral is linked (the create finished);
   * an intent without a link is kept whatever its age: its create may still be retried.
   */
  readonly createIntentsBefore?: Date;
}

export interface PruneResult {
  readonly syncs: number;
  readonly events: number;
  readonly createIntents: number;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";

  // Inbox
  /** Persists a webhook and enqueues (or coalesces into) its link's job in one transaction. */
  recordEvent(event: IncomingEvent): Promise<RecordEventResult>;
  getEvent(id: number): Promise<StoredEvent | undefined>;
  findEvent(source: EventSource, dedupeKey: string): Promise<StoredEvent | undefined>;

  // Jobs
  enqueue(input: EnqueueInput): Promise<EnqueueResult>;
  /** The lowest due job whose link has no earlier queued job and no running job; exclusive across instances. */
  claimNext(workerId: string, leaseMs: number): Promise<Job | undefined>;
  /** Deletes a finished job. With `workerId`, throws LeaseLostError unless that worker still holds it. */
  complete(jobId: number, workerId?: string): Promise<void>;
  /**
   * `complete(jobId, workerId)`, the job's sync history written, and then (with `next`) `claimNext`,
   * as one operation: one transaction on SQLite, one round trip on PostgreSQL. Throws what
   * `complete` throws, and then neither writes the history nor claims.
   */
  completeAndClaim(
    jobId: number,
    workerId: string,
    history: readonly SyncRecordInput[],
    next: { readonly workerId: string; readonly leaseMs: number } | null,
  ): Promise<Job | undefined>;
  /** Many `enqueue`s in one transaction (the reconcile sweep enqueues a listed page at once). */
  enqueueMany(inputs: readonly EnqueueInput[]): Promise<EnqueueResult[]>;
  /** Back to the queue until `runAt`, or to the dead letters once the attempts are spent. */
  retryLater(jobId: number, retry: { error: string; runAt: Date; workerId?: string }): Promise<RetryResult>;
  deadLetter(jobId: number, reason: string, workerId?: string): Promise<void>;
  listDeadLetters(limit?: number): Promise<Job[]>;
  /** Back to the queue, due now, with its attempts reset. */
  retryDeadLetter(jobId: number): Promise<void>;
  /** Re-queues running jobs whose lease ran out (their worker died); returns how many. */
  reapExpiredLeases(now?: Date): Promise<number>;
  extendLease(jobId: number, workerId: string, leaseMs: number): Promise<void>;
  getJob(jobId: number): Promise<Job | undefined>;
  queueStats(): Promise<QueueStats>;

  // Links
  getLink(key: string): Promise<Link | undefined>;
  findLinkByReferralId(referralId: string): Promise<Link | undefined>;
  findLinkByRecord(entity: LinkEntity, recordId: string): Promise<Link | undefined>;
  /** The links of these referrals (those that have one), in one query. */
  findLinksByReferralIds(referralIds: readonly string[]): Promise<Link[]>;
  /** The links of these records of one table (those that have one), in one query. */
  findLinksByRecords(entity: LinkEntity, recordIds: readonly string[]): Promise<Link[]>;
  saveLink(input: SaveLinkInput): Promise<Link>;
  /** A qualified lead: the link (same key, same queue) now points at the opportunity. */
  moveLink(key: string, to: MoveLinkInput): Promise<Link>;
  listLinks(query?: ListLinksQuery): Promise<Link[]>;

  // Reconcile cursors (opaque strings)
  getCursor(name: string): Promise<string | undefined>;
  setCursor(name: string, value: string): Promise<void>;

  // Sync history
  recordSync(entry: SyncRecordInput): Promise<void>;
  recentSyncs(limit?: number): Promise<SyncRecord[]>;
  recentFailures(limit?: number): Promise<SyncRecord[]>;
  prune(input: PruneInput): Promise<PruneResult>;

  close(): Promise<void>;
}

export type StoreConfig =
  | {
      readonly kind: "sqlite";
      readonly path: string;
      /** "normal" (default): synchronous=NORMAL with WAL; "full": fsync on every commit. See README. */
      readonly durability?: "normal" | "full";
    }
  | {
      readonly kind: "postgres";
      readonly connectionString: string;
      /** Default `cosell_bridge`; created when missing. */
      readonly schema?: string;
      /** Connections in the pool; default 10. */
      readonly poolSize?: number;
    };

export interface StoreOptions {
  /** Claims after which a failing job becomes a dead letter; default 8. */
  readonly maxAttempts?: number;
  /** The clock, in epoch milliseconds; tests move it. */
  readonly now?: () => number;
  /**
   * Re-queue the jobs of dead workers at once (default true). False for a store opened only to look
   * at it (tests, tools): reaping applies this instance's attempt limit to another's jobs.
   */
  readonly reapOnOpen?: boolean;
}
