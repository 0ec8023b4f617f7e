/**
 * Service protection limits (spec §4.7), per caller: concurrent requests (52, immediate 429 with
 * 0x80072326) and requests per sliding window (6,000 per 300 s, 429 with 0x80072322 and a
 * `Retry-After` until the oldest counted request leaves the window). Rejected requests do not count.
 * The execution-time limit (0x80072321) is not emulated: the emulator's own time is not the org's.
 */
import { Errors, type DataverseError } from "./errors";

export interface ProtectionLimits {
  readonly maxConcurrentPerUser: number;
  readonly requestsPerWindow: number;
  readonly windowSeconds: number;
}

export const DEFAULT_LIMITS: ProtectionLimits = { maxConcurrentPerUser: 52, requestsPerWindow: 6000, windowSeconds: 300 };

class CallerState {
  inFlight = 0;
  /** Request times (ms) in the window, oldest first; `head` skips the expired ones. */
  times: number[] = [];
  head = 0;

  purge(now: number, windowMs: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= now - windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  get count(): number {
    return this.times.length - this.head;
  }
}

export type Admission = { ok: true; release: () => void; remaining: number } | { ok: false; error: DataverseError };

export class ServiceProtection {
  private readonly callers = new Map<string, CallerState>();

  constructor(
    private readonly limits: ProtectionLimits,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Counts `weight` requests (a `$batch` counts its inner requests) for `callerId`, or refuses. */
  admit(callerId: string, weight = 1): Admission {
    let s = this.callers.get(callerId);
    if (!s) this.callers.set(callerId, (s = new CallerState()));
    const now = this.now();
    const windowMs = this.limits.windowSeconds * 1000;
    if (s.inFlight >= this.limits.maxConcurrentPerUser) return { ok: false, error: Errors.concurrencyLimit(this.limits.maxConcurrentPerUser, 1) };
    s.purge(now, windowMs);
    if (s.count + weight > this.limits.requestsPerWindow) {
      const oldest = s.times[s.head] ?? now;
      const retryAfter = Math.max(1, Math.ceil((oldest + windowMs - now) / 1000));
      return { ok: false, error: Errors.rateLimit(this.limits.requestsPerWindow, this.limits.windowSeconds, retryAfter) };
    }
    for (let i = 0; i < weight; i++) s.times.push(now);
    s.inFlight++;
    let released = false;
    const state = s;
    return {
      ok: true,
      remaining: this.limits.requestsPerWindow - s.count,
      release: () => {
        if (released) return;
        released = true;
        state.inFlight--;
      },
    };
  }

  reset(): void {
    this.callers.clear();
  }
}
