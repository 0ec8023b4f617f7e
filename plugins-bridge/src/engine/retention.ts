/**
 * Retention: what the store keeps only for a while is deleted once it is older than the configured
 * days (COSELL_RETENTION_DAYS), at start and then on a timer (COSELL_RETENTION_INTERVAL_MINUTES).
 * Sync history and stored webhooks go by age; a create intent goes by age once its referral is
 * linked. Jobs (queued, running, dead letters), links and the other cursors are never touched.
 * Several instances on one PostgreSQL store each prune: the deletes are idempotent.
 */
import type { BridgeLogger } from "../observability/logger";
import type { PruneResult, Store } from "../store";

export const DAY_MS = 86_400_000;

export interface RetentionPolicy {
  /** Rows older than this many days are deleted. */
  readonly days: number;
  /** Time between two runs after the first (at start). */
  readonly intervalMs: number;
}

export interface RetentionOptions {
  readonly store: Pick<Store, "prune">;
  readonly log: Pick<BridgeLogger, "info" | "error">;
  readonly policy: RetentionPolicy;
  /** The clock (epoch ms); tests simulate days with their own. */
  readonly now?: () => number;
}

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PruneResult | undefined> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: RetentionOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Deletes what is older than the policy's days, once, and logs what it deleted. */
  async runOnce(): Promise<PruneResult> {
    const before = new Date(this.now() - this.options.policy.days * DAY_MS);
    const result = await this.options.store.prune({ syncsBefore: before, eventsBefore: before, createIntentsBefore: before });
    this.options.log.info({ retentionDays: this.options.policy.days, before: before.toISOString(), pruned: result }, "retention: pruned old rows");
    return result;
  }

  /** Runs now, then every `intervalMs`; the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.options.policy.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress (the store may be closed after this). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One run unless one is still in progress; a failure is logged, and the next run tries again. */
  private tick(): void {
    if (this.running) return;
    this.running = this.runOnce()
      .catch((err: unknown) => {
        this.options.log.error({ err }, "retention: pruning failed");
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
      });
  }
}
