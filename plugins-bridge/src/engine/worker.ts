/**
 * The worker: N loops claiming jobs from the store (one job per link at a time, across every
 * instance), each job one sync with its own correlation id, the lease renewed while it runs.
 * What happens after a failure is decided from the error's class:
 *
 *   ThrottledError                         → again at now + Retry-After (never earlier)
 *   TransientError, ConcurrencyError,
 *   StaleLinkError, anything unexpected    → again after exponential backoff with jitter
 *   ValidationError, AuthError,
 *   NotFoundError, LinkConflictError       → dead letter with the reason (and the record marked Error)
 *
 * After SYNC_MAX_ATTEMPTS the store turns a retry into a dead letter. Workers never sleep on a
 * retry: the wait is the job's run_at.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { AuthError, NotFoundError, ThrottledError, ValidationError } from "../http/errors";
import { LeaseLostError, LinkConflictError, nextRunAt, type BackoffPolicy, type Job, type Store, type SyncRecordInput } from "../store";
import type { SyncEngine, SyncOutcome, SyncReport, WriteCount } from "./sync-engine";

/** What a job's payload may carry: how many times the work was forwarded (loops stop at MAX_HOPS). */
const ForwardPayload = z.looseObject({ hops: z.number().int().min(0).optional() });
const MAX_HOPS = 6;

export interface JobResult {
  readonly job: Job;
  readonly correlationId: string;
  readonly durationMs: number;
  readonly outcome:
    | { readonly kind: "done"; readonly outcome: SyncOutcome }
    | { readonly kind: "retry"; readonly error: string; readonly runAt: Date; readonly dead: boolean }
    | { readonly kind: "dead-letter"; readonly reason: string; readonly outcome?: SyncOutcome }
    | { readonly kind: "lease-lost" };
}

export interface WorkerOptions {
  readonly store: Store;
  readonly engine: SyncEngine;
  readonly log: Logger;
  readonly concurrency: number;
  readonly instanceId: string;
  readonly leaseMs?: number;
  /** Idle loops look for work this often (a new event wakes them at once). */
  readonly pollMs?: number;
  readonly reapEveryMs?: number;
  readonly onResult?: (result: JobResult) => void;
  /** Backoff of failed syncs (config.backoff, from SYNC_BACKOFF_MAX_SECONDS); DEFAULT_BACKOFF when absent. */
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
}

/** A job that synced and waits to be completed with its loop's next claim. */
interface Finished {
  readonly result: JobResult;
  readonly history: readonly SyncRecordInput[];
  readonly log: Logger;
  readonly wrote: WriteCount | undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2000);
  return String(err).slice(0, 2000);
}

function isPermanent(err: unknown): boolean {
  return err instanceof ValidationError || err instanceof AuthError || err instanceof NotFoundError || err instanceof LinkConflictError;
}

export class Worker {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private wakers: Array<() => void> = [];
  /**
   * Counts `notify` calls. A loop whose claim found nothing goes idle only if no notify came while
   * the claim was in flight: on PostgreSQL a claim takes milliseconds, and a job committed during it
   * (which its snapshot may have missed) would otherwise wait for the next poll.
   */
  private notified = 0;
  private reaper?: NodeJS.Timeout;
  private active = 0;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(private readonly o: WorkerOptions) {
    this.leaseMs = o.leaseMs ?? 60_000;
    this.pollMs = o.pollMs ?? 500;
  }

  /** Jobs being processed right now. */
  get busy(): number {
    return this.active;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.concurrency; i++) this.loops.push(this.loop(`${this.o.instanceId}#${i}`));
    this.reaper = setInterval(() => {
      this.o.store.reapExpiredLeases().then(
        (n) => n > 0 && this.o.log.warn({ jobs: n }, "re-queued jobs whose worker stopped answering"),
        (err: unknown) => this.o.log.warn({ err }, "could not reap expired leases"),
      );
    }, this.o.reapEveryMs ?? 15_000);
    this.reaper.unref();
  }

  /** Stops claiming; waits for the jobs in hand (their leases keep them safe if this times out). */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.reaper) clearInterval(this.reaper);
    this.wakeAll();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.loops), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    if (timer) clearTimeout(timer);
    this.loops.length = 0;
  }

  /**
   * A job was just enqueued: wakes one idle loop (each notify one more). Waking them all made every
   * event cost one claim per idle loop, all but one of them empty — on PostgreSQL, most of the
   * store's round trips. A loop that claims a job wakes another (there may be more work), and a
   * loop mid-claim sees the notify afterwards (`notified`).
   */
  notify(): void {
    this.notified++;
    this.wakers.shift()?.();
  }

  private wakeAll(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const wake of w) wake();
  }

  private idle(): Promise<void> {
    // Stopped while this loop was claiming: stop()'s wake-up has come and gone.
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wakers = this.wakers.filter((w) => w !== done);
        resolve();
      };
      const t = setTimeout(done, this.pollMs);
      this.wakers.push(done);
    });
  }

  /**
   * Claims and processes jobs until stopped. A job that synced without error is completed together
   * with the next claim (`store.completeAndClaim`: its history, its deletion and the next claim in
   * one transaction, one round trip on PostgreSQL); it stays `running` meanwhile, which is
   * microseconds, so nothing of its link can start before it is completed.
   */
  private async loop(workerId: string): Promise<void> {
    let finished: Finished | undefined;
    while (this.running) {
      const notifiedBefore = this.notified;
      let job: Job | undefined;
      try {
        if (finished) {
          const f = finished;
          finished = undefined;
          job = await this.settle(f, workerId, { workerId, leaseMs: this.leaseMs });
        } else {
          job = await this.o.store.claimNext(workerId, this.leaseMs);
        }
      } catch (err) {
        this.o.log.error({ err }, "could not claim a job; the store may be unreachable");
        await this.idle();
        continue;
      }
      if (!job) {
        if (this.notified === notifiedBefore) await this.idle();
        continue;
      }
      // There may be more work than this loop: let another look.
      this.wakers.shift()?.();
      const r = await this.execute(job, workerId, true);
      if ("deferred" in r) finished = r.deferred;
    }
    if (finished) await this.settle(finished, workerId, null).catch(() => undefined);
  }

  /**
   * Completes a finished job (with its history) and, with `next`, claims another. Reports the job's
   * result once its completion is known; a completion that fails is reported as such.
   */
  private async settle(f: Finished, workerId: string, next: { workerId: string; leaseMs: number } | null): Promise<Job | undefined> {
    let claimed: Job | undefined;
    let result = f.result;
    let failure: unknown;
    try {
      claimed = await this.o.store.completeAndClaim(f.result.job.id, workerId, f.history, next);
    } catch (err) {
      failure = err;
      if (err instanceof LeaseLostError) {
        f.log.warn("lost the job's lease; another worker has it now");
        result = { ...f.result, outcome: { kind: "lease-lost" } };
      } else {
        const reason = describe(err);
        f.log.error({ err }, "could not complete the job; its lease will bring it back");
        result = { ...f.result, outcome: { kind: "retry", error: reason, runAt: new Date(Date.now() + this.leaseMs), dead: false } };
      }
    }
    if (f.wrote) f.log.info({ wrote: f.wrote, reports: f.history.length }, "sync done");
    this.o.onResult?.(result);
    // A lost lease is the job's fate, not the store's: claim on. Anything else: the caller waits.
    if (failure !== undefined && !(failure instanceof LeaseLostError)) throw failure;
    if (failure !== undefined && next) return this.o.store.claimNext(next.workerId, next.leaseMs);
    return claimed;
  }

  /** One job, start to finish (also used by backfill and tests). */
  async process(job: Job, workerId: string): Promise<JobResult> {
    const r = await this.execute(job, workerId, false);
    if ("deferred" in r) throw new Error("unreachable: a job processed alone is completed at once");
    return r.result;
  }

  /**
   * Runs one job. With `defer`, a job that synced without error is not completed here: its result,
   * history and log come back to the loop, which completes it with its next claim.
   */
  private async execute(job: Job, workerId: string, defer: boolean): Promise<{ result: JobResult } | { deferred: Finished }> {
    const { store, engine } = this.o;
    const correlationId = randomUUID();
    const log = this.o.log.child({ correlationId, jobId: job.id, linkKey: job.linkKey });
    const started = performance.now();
    this.active++;
    let leaseLost = false;
    const renew = setInterval(() => {
      store.extendLease(job.id, workerId, this.leaseMs).catch((err: unknown) => {
        if (err instanceof LeaseLostError) leaseLost = true;
        log.warn({ err }, "could not extend the job's lease");
      });
    }, Math.max(1_000, Math.floor(this.leaseMs / 3)));
    let result: JobResult["outcome"];
    let deferred = false;
    try {
      log.debug({ attempt: job.attempts }, "sync started");
      const outcome = await engine.run(job.linkKey, { correlationId });
      if (leaseLost) throw new LeaseLostError(job.id, workerId);
      const finished = await this.finish(job, workerId, outcome, log, defer);
      result = finished.result;
      deferred = finished.deferred;
    } catch (err) {
      result = await this.fail(job, workerId, err, log);
    } finally {
      clearInterval(renew);
      this.active--;
    }
    const out: JobResult = { job, correlationId, durationMs: performance.now() - started, outcome: result };
    const history = this.history(out);
    if (deferred && result.kind === "done") {
      const wrote = result.outcome.kind === "done" ? result.outcome.wrote : undefined;
      return { deferred: { result: out, history, log, wrote } };
    }
    try {
      for (const entry of history) await store.recordSync(entry);
    } catch (err) {
      log.warn({ err }, "could not record the sync in the history");
    }
    this.o.onResult?.(out);
    return { result: out };
  }

  /** With `defer`, a done sync's completion is left to the loop (`deferred: true`). */
  private async finish(
    job: Job,
    workerId: string,
    outcome: SyncOutcome,
    log: Logger,
    defer: boolean,
  ): Promise<{ result: JobResult["outcome"]; deferred: boolean }> {
    const { store } = this.o;
    if (outcome.kind === "forward") {
      const hops = (ForwardPayload.safeParse(job.payload).data?.hops ?? 0) + 1;
      if (hops > MAX_HOPS) {
        const reason = `forwarded ${MAX_HOPS} times without finding the link's own key (last: ${outcome.reason})`;
        await store.deadLetter(job.id, reason, workerId);
        log.error({ reason }, "sync dead-lettered");
        return { result: { kind: "dead-letter", reason }, deferred: false };
      }
      // Enqueued before this job completes, deferred or not: a crash in between re-runs this job.
      await store.enqueue({ linkKey: outcome.to, kind: "sync", payload: { hops, from: job.linkKey, reason: outcome.reason } });
      if (!defer) await store.complete(job.id, workerId);
      log.debug({ to: outcome.to, reason: outcome.reason }, "forwarded");
      this.notify();
      return { result: { kind: "done", outcome }, deferred: defer };
    }
    if (outcome.kind === "dead-letter") {
      await store.deadLetter(job.id, outcome.reason, workerId);
      log.warn({ reason: outcome.reason }, "sync dead-lettered");
      return { result: { kind: "dead-letter", reason: outcome.reason, outcome }, deferred: false };
    }
    if (outcome.followUp) {
      await store.enqueue({ linkKey: outcome.followUp, kind: "sync", payload: { hops: 0, from: job.linkKey, reason: "follow-up" } });
      this.notify();
    }
    if (defer) return { result: { kind: "done", outcome }, deferred: true };
    await store.complete(job.id, workerId);
    log.info({ wrote: outcome.wrote, reports: outcome.reports.length }, "sync done");
    return { result: { kind: "done", outcome }, deferred: false };
  }

  private async fail(job: Job, workerId: string, err: unknown, log: Logger): Promise<JobResult["outcome"]> {
    const { store, engine } = this.o;
    if (err instanceof LeaseLostError) {
      log.warn("lost the job's lease; another worker has it now");
      return { kind: "lease-lost" };
    }
    const reason = describe(err);
    try {
      if (isPermanent(err)) {
        await store.deadLetter(job.id, reason, workerId);
        log.error({ err }, "sync failed for good: dead letter");
        await engine.markKeyFailed(job.linkKey, sellerMessage(err)).catch((e: unknown) => log.warn({ err: e }, "could not mark the record as failed"));
        return { kind: "dead-letter", reason };
      }
      const retryAfterMs = err instanceof ThrottledError ? err.retryAfterMs : undefined;
      const runAt = nextRunAt(new Date(), job.attempts, { retryAfterMs, random: this.o.random, policy: this.o.backoff });
      const r = await store.retryLater(job.id, { error: reason, runAt, workerId });
      if (r.state === "dead") {
        log.error({ err, attempts: job.attempts }, "sync failed too often: dead letter");
        await engine
          .markKeyFailed(job.linkKey, "The bridge could not sync this record after several attempts; your admin can retry it from the bridge's status page.")
          .catch((e: unknown) => log.warn({ err: e }, "could not mark the record as failed"));
      } else log.warn({ err, runAt: r.runAt, attempts: job.attempts }, "sync failed; will try again");
      return { kind: "retry", error: reason, runAt, dead: r.state === "dead" };
    } catch (storeErr) {
      if (storeErr instanceof LeaseLostError) return { kind: "lease-lost" };
      log.error({ err: storeErr, cause: reason }, "could not record the job's failure; its lease will bring it back");
      return { kind: "retry", error: reason, runAt: new Date(Date.now() + this.leaseMs), dead: false };
    }
  }

  /** The sync history rows of a job's result: one per report (none for a sync that did nothing). */
  private history(result: JobResult): SyncRecordInput[] {
    const at = new Date();
    const entries: SyncReport[] = [];
    const o = result.outcome;
    if (o.kind === "done" && o.outcome.kind === "done") entries.push(...o.outcome.reports);
    else if (o.kind === "dead-letter") {
      if (o.outcome?.kind === "dead-letter") entries.push(...o.outcome.reports.filter((r) => r.message !== o.reason));
      entries.push({ direction: "CRM→PC", outcome: "error", message: `Dead letter: ${o.reason}` });
    }
    else if (o.kind === "retry") entries.push({ direction: "CRM→PC", outcome: "error", message: `${o.dead ? "Gave up" : "Will retry"}: ${o.error}` });
    return entries
      .slice(0, 20)
      .map((e) => ({ linkKey: result.job.linkKey, direction: e.direction, outcome: e.outcome, message: e.message.slice(0, 2000), correlationId: result.correlationId, at }));
  }
}

function sellerMessage(err: unknown): string {
  if (err instanceof AuthError) return "The bridge cannot sign in to Partner Center or Dynamics 365 right now; your admin has been told.";
  if (err instanceof ValidationError) return `The change was refused: ${err.message.replace(/^\S+ \S+ \S+: /, "").slice(0, 400)}`;
  if (err instanceof NotFoundError) return "The referral or record this sync needs no longer exists.";
  return "The bridge could not sync this record; your admin can retry it from the bridge's status page.";
}
