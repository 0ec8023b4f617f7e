/**
 * What the benchmark reports: named figures, each with its target and whether it met it. A figure
 * without a target in issue 6 (a ratio, a time to first render) is reported with `target: null`;
 * its `pass` then only says the figure could be measured. A target is never loosened here: a figure
 * that misses it says `pass: false`.
 */
import { round, type Spread } from "./stats";

export type Comparison = "<=" | ">=" | "==";

export interface Target {
  readonly op: Comparison;
  readonly value: number;
}

export interface Figure {
  /** Stable dotted name, e.g. `propagation.sqlite.latency0.pcToCrm.p99`. */
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly spread?: { readonly min: number; readonly max: number; readonly runs: readonly number[] };
  readonly target: Target | null;
  readonly pass: boolean;
  readonly note?: string;
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

export function figure(name: string, unit: string, s: Spread | number, target: Target | null, note?: string): Figure {
  const value = typeof s === "number" ? s : s.median;
  return {
    name,
    unit,
    value: round(value),
    ...(typeof s === "number" ? {} : { spread: { min: round(s.min), max: round(s.max), runs: s.runs.map(round) } }),
    target,
    pass: target ? meets(value, target) : Number.isFinite(value),
    ...(note ? { note } : {}),
  };
}

/** A figure that could not be measured in this run: reported as failing, with the reason. */
export function unmeasured(name: string, unit: string, target: Target | null, reason: string): Figure {
  return { name, unit, value: Number.NaN, target, pass: false, note: `not measured: ${reason}` };
}

const fmt = (n: number): string => (Number.isFinite(n) ? String(round(n)) : "—");

/** The table printed before the JSON line. */
export function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.spread ? `${fmt(f.spread.min)}–${fmt(f.spread.max)}` : "",
    f.target ? `${f.target.op} ${f.target.value} ${f.unit}` : "(reported)",
    f.pass ? "pass" : "FAIL",
    f.note ?? "",
  ]);
  const head = ["figure", "median", "spread (min–max)", "target", "", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
