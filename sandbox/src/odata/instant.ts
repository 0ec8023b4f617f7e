/**
 * ISO 8601 instants with more than millisecond precision. .NET services (Partner Center among
 * them) write 7 fractional digits (`2026-01-01T10:00:00.1234567Z`); `Date.parse` drops everything
 * past the millisecond, which would make two changes inside one millisecond compare equal, and a
 * double holding epoch milliseconds cannot resolve 100 ns either. So an instant is kept as whole
 * milliseconds plus the fraction of a millisecond.
 */
const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

export interface InstantParts {
  /** Whole milliseconds since the epoch. */
  readonly ms: number;
  /** Fraction of a millisecond, 0 ≤ sub < 1. */
  readonly sub: number;
}

export function parseInstantParts(text: string): InstantParts | undefined {
  const m = ISO_INSTANT.exec(text);
  if (!m) return undefined;
  const [, date, hm = "00:00", s = "00", fraction = "", zone = "Z"] = m;
  const whole = Date.parse(`${date}T${hm}:${s}${zone}`);
  if (Number.isNaN(whole)) return undefined;
  const millis = Number(fraction.slice(0, 3).padEnd(3, "0"));
  const sub = fraction.length > 3 ? Number(`0.${fraction.slice(3)}`) : 0;
  return { ms: whole + millis, sub };
}

/** Whole milliseconds since the epoch (like Date.parse, for the ISO forms only); undefined otherwise. */
export function parseInstant(text: string): number | undefined {
  return parseInstantParts(text)?.ms;
}

export function compareInstants(a: InstantParts, b: InstantParts): number {
  return a.ms !== b.ms ? Math.sign(a.ms - b.ms) : Math.sign(a.sub - b.sub);
}
