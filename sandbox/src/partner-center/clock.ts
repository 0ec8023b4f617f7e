/**
 * Server time as .NET writes it. Instants are whole epoch milliseconds plus a fraction of a
 * millisecond (a double cannot hold 100 ns at today's epoch), strictly increasing across calls so
 * that `updatedDateTime` orders every change, and formatted with up to 7 fractional digits.
 */
import { performance } from "node:perf_hooks";
import { compareInstants, parseInstantParts, type InstantParts } from "../odata";

export type Instant = InstantParts;

const TICKS_PER_MS = 10_000;

/**
 * Strictly increasing instants on the wall clock (Date.now(), which clients compare with), with a
 * sub-millisecond fraction from performance.now(). timeOrigin + performance.now() drifts from the
 * wall clock in a long-lived process, so a test comparing our times with Date.now() would flake.
 */
export class Clock {
  private lastTicks = -1;
  private lastMs = -1;

  now(): Instant {
    const precise = Date.now() + (performance.now() % 1);
    let ms = Math.floor(precise);
    let ticks = Math.min(TICKS_PER_MS - 1, Math.floor((precise - ms) * TICKS_PER_MS));
    if (ms < this.lastMs || (ms === this.lastMs && ticks <= this.lastTicks)) {
      ms = this.lastMs;
      ticks = this.lastTicks + 1;
      if (ticks >= TICKS_PER_MS) {
        ms += 1;
        ticks = 0;
      }
    }
    this.lastMs = ms;
    this.lastTicks = ticks;
    return { ms, sub: ticks / TICKS_PER_MS };
  }

  /** Epoch milliseconds with the sub-millisecond fraction (for event timestamps and benchmarks). */
  nowMs(): number {
    const i = this.now();
    return i.ms + i.sub;
  }
}

function fraction(i: Instant): string {
  const ticks = Math.min(TICKS_PER_MS - 1, Math.round(i.sub * TICKS_PER_MS));
  const digits = `${String(i.ms % 1000).padStart(3, "0")}${String(ticks).padStart(4, "0")}`.replace(/0+$/, "");
  return digits === "" ? "" : `.${digits}`;
}

/** `2026-01-01T10:00:00.1234567Z` (trailing zeros trimmed, as .NET's round-trip format with F digits). */
export function formatInstant(i: Instant): string {
  return `${new Date(i.ms).toISOString().slice(0, 19)}${fraction(i)}Z`;
}

/** `2018-02-17T00:05:39.5485487+00:00`, the webhook payload's ResourceChangeUtcDate shape (7 digits). */
export function formatWebhookInstant(i: Instant): string {
  const ticks = Math.min(TICKS_PER_MS - 1, Math.round(i.sub * TICKS_PER_MS));
  return `${new Date(i.ms).toISOString().slice(0, 19)}.${String(i.ms % 1000).padStart(3, "0")}${String(ticks).padStart(4, "0")}+00:00`;
}

export function parseServerInstant(text: string): Instant | undefined {
  return parseInstantParts(text);
}

export function addDays(i: Instant, days: number): Instant {
  return { ms: i.ms + days * 86_400_000, sub: i.sub };
}

export { compareInstants };
