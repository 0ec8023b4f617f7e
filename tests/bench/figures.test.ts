/**
 * The bench reports only what it measured (issue 14): a figure without a target is not counted as
 * passed, units are the issue's, a run with no value fails its figure, timed-out changes stay in
 * the propagation percentiles, and every figure names what was switched off for it.
 */
import { figure, KB, MB, table, targetsMet, toKB, toMB, unmeasured, type Figure } from "../../bench/lib/figures";
import { percentile, spread } from "../../bench/lib/stats";
import { CHANGE_TIMEOUT_MS, landedSamples, timedOut } from "../../bench/propagation";

describe("bench figures", () => {
  it("does not count a figure without a target as passed", () => {
    const figures: Figure[] = [
      figure("a.met", "ms", spread([10, 12]), { op: "<=", value: 50 }, "met", ["reconcile timer"]),
      figure("a.missed", "ms", spread([80, 90]), { op: "<=", value: 50 }, "missed", ["reconcile timer"]),
      figure("a.reported", "×", spread([1.5, 1.6]), null, "a ratio", ["reconcile timer"]),
    ];
    expect(figures[2]?.pass).toBeNull();
    expect(targetsMet(figures)).toEqual({ met: 1, set: 2, missed: ["a.missed"] });
    expect(table(figures)).toMatch(/targets met 1 of 2$/);
  });

  it("counts a group that failed outright as a target missed", () => {
    const figures = [unmeasured("intake.sqlite", "", null, "intake failed: boom", [])];
    expect(targetsMet(figures)).toEqual({ met: 0, set: 1, missed: ["intake.sqlite"] });
  });

  it("measures in the issue's units: KB = 1,000 bytes, MB = 1,000,000 bytes", () => {
    expect(KB).toBe(1_000);
    expect(MB).toBe(1_000_000);
    // The control's 50,097 bytes are over "≤ 50 KB" (they were 48.9 KiB, a pass, before).
    const control = figure("form.pcfBundle.size", "KB", toKB(50_097), { op: "<=", value: 50 }, "bundle", ["none"]);
    expect(control.value).toBeCloseTo(50.1, 5);
    expect(control.pass).toBe(false);
    // 149 MiB of RSS is about 156 MB, over "≤ 150 MB".
    const rss = figure("memory.sqlite.steadyStateRss", "MB", toMB(149 * 2 ** 20), { op: "<=", value: 150 }, "rss", ["reconcile timer"]);
    expect(rss.value).toBe(156);
    expect(rss.pass).toBe(false);
  });

  it("counts a run that produced no value as a failed run, not a dropped one", () => {
    const s = spread([10, Number.NaN, 12]);
    expect(s.failedRuns).toBe(1);
    expect(s.runs).toHaveLength(3);
    const f = figure("x.p99", "ms", s, { op: "<=", value: 50 }, "latency", ["reconcile timer"]);
    expect(f.pass).toBe(false);
    expect(f.spread?.failedRuns).toBe(1);
    expect(f.note).toContain("1 of 3 run(s) produced no value");
  });

  it("keeps changes that timed out in the propagation percentiles", () => {
    const landed = [...Array.from({ length: 98 }, () => 20), undefined, undefined];
    expect(timedOut(landed)).toBe(2);
    const samples = landedSamples(landed);
    expect(samples).toHaveLength(100);
    expect(percentile(samples, 99)).toBe(CHANGE_TIMEOUT_MS);
    expect(percentile(samples, 50)).toBe(20);
  });

  it("names in every figure's note what was switched off for it", () => {
    expect(figure("p", "ms", 1, null, "latency", ["reconcile timer"]).note).toMatch(/switched off: reconcile timer$/);
    expect(figure("i", "events/s", 1, null, "intake", ["worker", "reconcile timer"]).note).toMatch(/switched off: worker, reconcile timer$/);
    expect(figure("f", "KB", 1, null, "bundle", ["none"]).note).toMatch(/nothing switched off$/);
    expect(unmeasured("g", "", null, "failed", ["worker"]).note).toMatch(/switched off: worker$/);
  });
});
