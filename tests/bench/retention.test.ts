/**
 * The bench's retention figures (bench/retention.ts, issue 13) on a small plan: the pruned tables
 * level off at the retention's worth of rows, on both stores (PostgreSQL at 127.0.0.1:5432, database
 * `test`, a schema of its own, dropped afterwards; unreachable is a failure).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { retentionFigures, simulateRetention } from "../../bench/retention";
import type { RunContext } from "../../bench/lib/world";

let ctx: RunContext;
beforeAll(() => {
  ctx = { workDir: fs.mkdtempSync(path.join(os.tmpdir(), "cosell-bench-retention-")), log: () => undefined };
});
afterAll(() => fs.rmSync(ctx.workDir, { recursive: true, force: true }));

describe.each(["sqlite", "postgres"] as const)("retention figures on %s", (kind) => {
  test("rows grow for the retention's days, then stay flat; both figures pass", async () => {
    const o = { days: 12, perDay: 3, retentionDays: 5 };
    const rows = await simulateRetention(ctx, kind, o);
    expect(rows).toHaveLength(12);
    // 4 rows per referral (webhook, two history rows, create intent) for each day kept.
    expect(rows.slice(0, 5)).toEqual([12, 24, 36, 48, 60]);
    expect(new Set(rows.slice(5))).toEqual(new Set([60]));

    const figures = await retentionFigures(ctx, kind, o);
    expect(figures.map((f) => [f.name, f.value, f.target, f.pass])).toEqual([
      [`retention.${kind}.rowsAfter12Days`, 60, { op: "<=", value: 60 }, true],
      [`retention.${kind}.growthSinceRetentionStarted`, 0, { op: "==", value: 0 }, true],
    ]);
  });
});
