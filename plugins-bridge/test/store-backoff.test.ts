import { DEFAULT_BACKOFF, nextRunAt, retryDelayMs } from "../src/store";

const policy = { baseMs: 1_000, maxMs: 60_000 };

describe("retry backoff", () => {
  it.each([
    // attempts, random, retryAfterMs, expected delay
    [1, 0, undefined, 500], // half the first step, no jitter drawn
    [1, 1, undefined, 1_000],
    [2, 0.5, undefined, 1_500],
    [3, 0, undefined, 2_000],
    [7, 1, undefined, 60_000], // 64 s capped to the 60 s ceiling
    [50, 0, undefined, 30_000], // huge attempt counts stay capped, never Infinity
    [1, 0, 5_000, 5_000], // Retry-After beyond the backoff wins
    [7, 1, 5_000, 60_000], // backoff beyond Retry-After wins
    [1, 0.5, -3, 750], // a negative Retry-After is ignored
  ])("after %i attempt(s), random %p, Retry-After %p ms → %i ms", (attempts, random, retryAfterMs, expected) => {
    expect(retryDelayMs(attempts, { policy, random: () => random, retryAfterMs })).toBe(expected);
  });

  it("spreads instances that failed together", () => {
    const delays = new Set(Array.from({ length: 20 }, () => retryDelayMs(4)));
    expect(delays.size).toBeGreaterThan(1);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(4_000);
      expect(d).toBeLessThanOrEqual(8_000);
    }
  });

  it("turns the delay into the job's run_at", () => {
    const now = new Date("2026-11-25T10:00:00Z");
    expect(nextRunAt(now, 1, { random: () => 1, retryAfterMs: 120_000 }).toISOString()).toBe("2026-11-25T10:02:00.000Z");
    expect(DEFAULT_BACKOFF.maxMs).toBeGreaterThan(DEFAULT_BACKOFF.baseMs);
  });
});
