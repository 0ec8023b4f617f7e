/**
 * Backfill: every existing referral and every opportunity / lead that takes part, synced once.
 * It is a reconcile from the beginning whose jobs go through the ordinary queue (so a running
 * `serve` and the backfill never sync one link at the same time), worked off here by a worker of
 * its own with high concurrency. Referrals come from the listing already in full, so their first
 * read is served from it (one GET fewer per referral).
 */
import { performance } from "node:perf_hooks";
import type { BridgeRuntime } from "../engine/runtime";
import { Worker, type JobResult } from "../engine/worker";

export interface BackfillProgress {
  readonly phase: "listing" | "syncing" | "done";
  readonly listed: number;
  readonly total: number;
  readonly done: number;
}

export interface BackfillSummary {
  readonly referralsListed: number;
  readonly recordsListed: number;
  readonly jobsEnqueued: number;
  readonly jobsProcessed: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly skipped: number;
  readonly errors: number;
  readonly deadLetters: number;
  readonly retries: number;
  readonly durationMs: number;
}

export interface BackfillOptions {
  /** Default true (backfill); false = a reconcile sweep worked off the same way (`cosell-bridge reconcile`). */
  readonly fromBeginning?: boolean;
  readonly concurrency?: number;
  readonly onProgress?: (p: BackfillProgress) => void;
  /** Give up waiting after this long without any job finishing (default 10 minutes). */
  readonly stallTimeoutMs?: number;
}

export async function backfill(rt: BridgeRuntime, options: BackfillOptions = {}): Promise<BackfillSummary> {
  const started = performance.now();
  const counts = { processed: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, errors: 0, dead: 0, retries: 0 };
  let total = 0;
  let lastProgressAt = Date.now();
  const report = (phase: BackfillProgress["phase"], listed: number) => options.onProgress?.({ phase, listed, total, done: counts.processed });

  const onResult = (r: JobResult) => {
    rt.metrics.observe(r);
    lastProgressAt = Date.now();
    const o = r.outcome;
    if (o.kind === "done") {
      const out = o.outcome;
      if (out.kind === "forward" || (out.kind === "done" && out.followUp)) total++;
      if (out.kind === "done") {
        counts.processed++;
        if (out.reports.some((x) => /created from|shared with partner center/i.test(x.message))) counts.created++;
        else if (out.wrote.dataverse + out.wrote.partnerCenter > 0) counts.updated++;
        else if (out.reports.some((x) => x.outcome === "skipped")) counts.skipped++;
        else counts.unchanged++;
        if (out.reports.some((x) => x.outcome === "error")) counts.errors++;
      } else counts.processed++;
    } else if (o.kind === "dead-letter") {
      counts.processed++;
      counts.dead++;
    } else if (o.kind === "retry") {
      counts.retries++;
      if (o.dead) {
        counts.processed++;
        counts.dead++;
      }
    }
    report("syncing", total);
  };

  const worker = new Worker({
    store: rt.store,
    engine: rt.engine,
    log: rt.log,
    concurrency: options.concurrency ?? Math.max(rt.config.workerConcurrency, rt.config.dataverse.maxConcurrency),
    instanceId: `${rt.config.instanceId}-backfill`,
    pollMs: 100,
    backoff: rt.config.backoff,
    onResult,
  });
  let listed = 0;
  worker.start();
  try {
    const summary = await rt.reconciler.sweep({
      fromBeginning: options.fromBeginning ?? true,
      onReferrals: (referrals) => rt.partnerCenter.prime(referrals),
      onProgress: (p) => {
        listed = p.seen;
        total = Math.max(total, p.enqueued);
        report("listing", listed);
      },
    });
    total = Math.max(total, summary.keys.length);
    worker.notify();
    // Done when nothing is left to run: queued (due or waiting out a Retry-After) and running.
    for (;;) {
      const s = await rt.store.queueStats();
      if (s.queued === 0 && s.running === 0) break;
      if (Date.now() - lastProgressAt > (options.stallTimeoutMs ?? 10 * 60_000)) {
        rt.log.warn({ queued: s.queued, running: s.running }, "backfill stopped waiting: no job finished for too long");
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    report("done", listed);
    return {
      referralsListed: summary.partnerCenter.seen,
      recordsListed: summary.dataverse.seen,
      jobsEnqueued: summary.keys.length,
      jobsProcessed: counts.processed,
      created: counts.created,
      updated: counts.updated,
      unchanged: counts.unchanged,
      skipped: counts.skipped,
      errors: counts.errors,
      deadLetters: counts.dead,
      retries: counts.retries,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await worker.stop();
    rt.partnerCenter.clearPrimed();
  }
}
