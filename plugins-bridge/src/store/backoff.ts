/**
 * When a failed job runs again: exponential backoff with jitter, never earlier than the server's
 * Retry-After. The result becomes the job's run_at; a worker never sleeps on it.
 */

export interface BackoffPolicy {
  /** Delay before the second attempt, before jitter; default 1 s. */
  readonly baseMs: number;
  /** Ceiling of the exponential part; default 15 min. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1_000, maxMs: 15 * 60_000 });

/**
 * The policy for a ceiling of `maxMs` (SYNC_BACKOFF_MAX_SECONDS): the default base, lowered to the
 * ceiling when the ceiling is below it.
 */
export function backoffPolicy(maxMs: number): BackoffPolicy {
  return { baseMs: Math.min(DEFAULT_BACKOFF.baseMs, maxMs), maxMs };
}

/**
 * Delay after the `attempts`-th failed attempt (1 = the first failure).
 * "Equal jitter": half the exponential step is fixed, half random, so delays still grow while
 * instances that failed together do not retry together.
 */
export function retryDelayMs(
  attempts: number,
  options: { retryAfterMs?: number | null; policy?: BackoffPolicy; random?: () => number } = {},
): number {
  const policy = options.policy ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const exponent = Math.max(0, Math.min(attempts - 1, 30));
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jittered = Math.round(step / 2 + random() * (step / 2));
  const retryAfter = options.retryAfterMs ?? 0;
  return Math.max(jittered, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 0);
}

/** The run_at of the next attempt. */
export function nextRunAt(
  now: Date,
  attempts: number,
  options: { retryAfterMs?: number | null; policy?: BackoffPolicy; random?: () => number } = {},
): Date {
  return new Date(now.getTime() + retryDelayMs(attempts, options));
}
