/**
 * How every part reads a `Retry-After` header (RFC 9110 §10.2.3): the bridge's transport, its
 * Partner Center sign-in, the Dataverse `$batch` parts and the solution deploy tool all call this
 * one function, so a service's throttling answer means the same thing everywhere.
 *
 * - `delay-seconds` is one or more digits: that many seconds.
 * - An HTTP-date (IMF-fixdate and the two obsolete forms, all starting with a day name): the time
 *   until then, 0 if it has passed.
 * - Anything else (`-5`, `1.5`, `soon`, empty, a bare year such as `2026` read as a date) is
 *   unreadable: `undefined`, which callers turn into their own back-off. It never means "retry now".
 *
 * The result is capped (`capMs`, 10 minutes by default) so that one odd header cannot park a job
 * for a day.
 */
export const RETRY_AFTER_CAP_MS = 10 * 60_000;

export function parseRetryAfter(
  header: string | readonly string[] | null | undefined,
  now: Date | number = Date.now(),
  capMs: number = RETRY_AFTER_CAP_MS,
): number | undefined {
  const raw = typeof header === "string" ? header : header?.[0];
  if (raw === undefined || raw === null) return undefined;
  const value = raw.trim();
  if (value === "") return undefined;
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, capMs);
  // An HTTP-date starts with the day's name; Date.parse alone would also take "-5" or "2026".
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i.test(value)) return undefined;
  // HTTP-dates are always GMT; the asctime form carries no zone, which Date.parse would read as local time.
  const at = Date.parse(/\b(GMT|UTC)\b/i.test(value) ? value : `${value} GMT`);
  if (Number.isNaN(at)) return undefined;
  const nowMs = typeof now === "number" ? now : now.getTime();
  return Math.min(Math.max(0, at - nowMs), capMs);
}
