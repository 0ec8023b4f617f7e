/**
 * What the benchmark reports: named figures, each with its target and whether it met it. A figure
 * without a target in issue 6 (a ratio, a time to first render) is reported with `target: null`
 * and `pass: null`: it is never counted as passed. A target is never loosened here: a figure that
 * misses it, or one of whose runs produced no value, says `pass: false`.
 *
 * Units are issue 6's: KB = 1,000 bytes, MB = 1,000,000 bytes.
 */
import { round, type Spread } from "./stats";

export type Comparison = "<=" | ">=" | "==";

export interface Target {
  readonly op: Comparison;
  readonly value: number;
}

/** Bytes in issue 6's units. */
export const KB = 1_000;
export const MB = 1_000_000;
export const toKB = (bytes: number): number => bytes / KB;
export const toMB = (bytes: number): number => bytes / MB;

/** What the bench switches off in the bridge for a figure; `none` where nothing is. */
export type Switch = "reconcile timer" | "worker" | "webhooks" | "none";

export interface Figure {
  /** Stable dotted name, e.g. `propagation.sqlite.latency0.pcToCrm.p99`. */
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly spread?: { readonly min: number; readonly max: number; readonly runs: readonly number[]; readonly failedRuns: number };
  readonly target: Target | null;
  /** Whether the target was met; null for a figure without a target (reported, not counted). */
  readonly pass: boolean | null;
  readonly switchedOff: readonly Switch[];
  /** What the figure is, what was switched off for it, and any run that failed. */
  readonly note: string;
}

export function meets(value: number, target: Target): boolean {
  if (!Number.isFinite(value)) return false;
  switch (target.op) {
    case "<=":
      return value <= target.value;
    case ">=":
      return value >= target.value;
    case "==":
      return value === target.value;
  }
}

/** One way to say "nothing": `["none"]` (an empty list means the same). */
const switched = (off: readonly Switch[]): readonly Switch[] => (off.length === 0 || off.includes("none") ? ["none"] : [...off]);
const offNote = (off: readonly Switch[]): string => (off[0] === "none" ? "nothing switched off" : `switched off: ${off.join(", ")}`);

export function figure(name: string, unit: string, s: Spread | number, target: Target | null, note: string, switches: readonly Switch[]): Figure {
  const off = switched(switches);
  const value = typeof s === "number" ? s : s.median;
  const failedRuns = typeof s === "number" ? (Number.isFinite(s) ? 0 : 1) : s.failedRuns;
  const failed = failedRuns > 0 ? `; ${failedRuns} of ${typeof s === "number" ? 1 : s.runs.length} run(s) produced no value` : "";
  return {
    name,
    unit,
    value: round(value),
    ...(typeof s === "number" ? {} : { spread: { min: round(s.min), max: round(s.max), runs: s.runs.map(round), failedRuns } }),
    target,
    pass: target ? failedRuns === 0 && meets(value, target) : null,
    switchedOff: off,
    note: `${note}; ${offNote(off)}${failed}`,
  };
}

/**
 * A figure that could not be measured in this run: failing, with the reason. Without a target it is
 * a whole group that failed (bench/run.ts), and counts as one target missed.
 */
export function unmeasured(name: string, unit: string, target: Target | null, reason: string, switches: readonly Switch[]): Figure {
  const off = switched(switches);
  return { name, unit, value: Number.NaN, target, pass: false, switchedOff: off, note: `not measured: ${reason}; ${offNote(off)}` };
}

/** Targets met out of targets set: the only count the summary gives. A group that failed counts as missed. */
export function targetsMet(figures: readonly Figure[]): { met: number; set: number; missed: string[] } {
  const withTarget = figures.filter((f) => f.target !== null || f.pass === false);
  return { met: withTarget.filter((f) => f.pass === true).length, set: withTarget.length, missed: withTarget.filter((f) => f.pass !== true).map((f) => f.name) };
}

const fmt = (n: number): string => (Number.isFinite(n) ? String(round(n)) : "—");

/** The table printed before the JSON line, then "targets met X of Y". */
export function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.spread ? `${fmt(f.spread.min)}–${fmt(f.spread.max)}` : "",
    f.target ? `${f.target.op} ${f.target.value} ${f.unit}` : "(reported)",
    f.pass === null ? "" : f.pass ? "pass" : "FAIL",
    f.note,
  ]);
  const head = ["figure", "median", "spread (min–max)", "target", "", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  const t = targetsMet(figures);
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line), "", `targets met ${t.met} of ${t.set}`].join("\n");
}
