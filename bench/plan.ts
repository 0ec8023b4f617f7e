/** How much each figure measures: the full run (issue 6's counts) and `--quick` (to try it). */
import type { PropagationOptions } from "./propagation";
import type { BackfillOptions } from "./backfill";
import type { IntakeOptions } from "./intake";
import type { FormOptions } from "./form";
import type { RetentionOptions } from "./retention";

export interface Plan {
  readonly propagation: PropagationOptions;
  readonly backfill: BackfillOptions;
  readonly intake: IntakeOptions;
  readonly form: FormOptions;
  readonly retention: RetentionOptions;
}

export function plan(quick: boolean): Plan {
  return quick
    ? {
        propagation: { changes: 100, links: 10, ratePerSecond: 20, runs: 1, latencies: [0, 20] },
        backfill: { referrals: 1_000, latencyMs: 20, runs: 1, window: { requestsPerWindow: 6_000, windowSeconds: 5 }, memory: { rounds: 1, edits: 50, samples: 6 } },
        intake: { events: 10_000, connections: 32, runs: 1 },
        form: { runs: 3 },
        retention: { days: 60, perDay: 10, retentionDays: 30 },
      }
    : {
        propagation: { changes: 500, links: 20, ratePerSecond: 20, runs: 3, latencies: [0, 20] },
        backfill: { referrals: 10_000, latencyMs: 20, runs: 3, window: { requestsPerWindow: 6_000, windowSeconds: 5 }, memory: { rounds: 3, edits: 200, samples: 10 } },
        intake: { events: 10_000, connections: 32, runs: 3 },
        form: { runs: 7 },
        retention: { days: 60, perDay: 50, retentionDays: 30 },
      };
}
