/**
 * Chaos, CI-sized: 2,000 random operations by sellers and Microsoft per store, faults on in both
 * emulators, the bridge SIGKILLed three times and restarted; then quiescence, one reconcile, and
 * the verdict (support/chaos.ts says how the end state is judged). The report is printed with the
 * seed: COSELL_CHAOS_SEED=<seed> replays the same decisions. `npm run soak` is the long version.
 */
import { formatChaosReport, runChaos, type ChaosReport } from "./support/chaos";
import { chooseSeed } from "./support/prng";
import type { StoreKind } from "./support/world";

const OPERATIONS = Number(process.env["COSELL_CHAOS_OPERATIONS"] ?? 2_000);
const KILLS = 3;

describe.each<StoreKind>(["sqlite", "postgres"])("chaos on %s", (store) => {
  let report: ChaosReport;

  beforeAll(async () => {
    const seed = chooseSeed() + (store === "postgres" ? 1 : 0);
    console.log(`chaos on ${store}: seed ${seed} (COSELL_CHAOS_SEED=${seed} replays it)`);
    report = await runChaos({ store, seed, operations: OPERATIONS, kills: KILLS, actors: 6 });
    console.log(formatChaosReport(report));
  }, 20 * 60_000);

  it(`ran ${OPERATIONS} operations on both sides with faults on, and SIGKILLed the bridge ${KILLS} times`, () => {
    expect(report.operations.done + report.operations.refused).toBe(OPERATIONS);
    expect(report.operations.done).toBeGreaterThanOrEqual(OPERATIONS * 0.97);
    expect(report.kills).toBeGreaterThanOrEqual(KILLS);
    for (const side of [report.faults.partnerCenter, report.faults.dataverse]) {
      expect(side.errors).toBeGreaterThan(0);
      expect(side.throttles).toBeGreaterThan(0);
      expect(side.timeouts).toBeGreaterThan(0);
      expect(side.dropped).toBeGreaterThan(0);
      expect(side.delayed).toBeGreaterThan(0);
    }
  });

  it("ends with zero duplicate opportunities, referrals, accounts or contacts, and one link per deal", () => {
    expect(report.problems.duplicates).toEqual([]);
    expect(report.problems.missing).toEqual([]);
    expect(report.problems.links).toEqual([]);
  });

  it("converges every link field by field, with the last edit of each field on both sides", () => {
    expect(report.problems.unconverged).toEqual([]);
    expect(report.problems.lostEdits).toEqual([]);
    expect(report.counts.fieldsChecked).toBe(report.counts.deals * 4);
  });

  it("carries every status: seller's accept, decline, win and loss; Microsoft's expiry and answers", () => {
    expect(report.problems.status).toEqual([]);
  });

  it("leaves dead letters only for edits to closed referrals, each with its reason, and an empty queue", () => {
    expect(report.problems.deadLetters).toEqual([]);
    expect(report.deadLetters.expected).toBe(report.deadLetters.total);
    expect(report.problems.queue).toEqual([]);
  });

  it("keeps the store intact and every secret out of the logs", () => {
    expect(report.integrity).toBe("ok");
    expect(report.secrets.scanned).toBeGreaterThanOrEqual(8);
    expect(report.problems.secrets).toEqual([]);
  });
});
