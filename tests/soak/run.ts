/**
 * The long chaos run (`npm run soak`): the CI suite's chaos (tests/reliability/chaos.test.ts) with
 * more operations and more SIGKILLs, on SQLite and PostgreSQL, one run after another. Prints each
 * report and appends it as a JSON line to --out (default: $TMPDIR/cosell-soak.jsonl); exits 1 when
 * a run found a problem.
 *
 *   npm run soak -- [--operations 10000] [--kills 10] [--actors 8] [--stores sqlite,postgres]
 *                   [--seed n] [--rounds 1] [--out file]
 */
import * as os from "node:os";
import * as path from "node:path";
import { appendReport, formatChaosReport, runChaos } from "../reliability/support/chaos";
import { chooseSeed } from "../reliability/support/prng";
import type { StoreKind } from "../reliability/support/world";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v ?? fallback;
}

function whole(name: string, fallback: number, min: number): number {
  const raw = option(name, String(fallback));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number ≥ ${min}, got '${raw}'`);
  return n;
}

async function main(): Promise<number> {
  const operations = whole("operations", 10_000, 1);
  const kills = whole("kills", 10, 0);
  const actors = whole("actors", 8, 1);
  const rounds = whole("rounds", 1, 1);
  const stores = option("stores", "sqlite,postgres").split(",").map((s) => s.trim()) as StoreKind[];
  for (const s of stores) if (s !== "sqlite" && s !== "postgres") throw new Error(`--stores takes sqlite and/or postgres, got '${s}'`);
  const out = option("out", path.join(os.tmpdir(), "cosell-soak.jsonl"));
  const firstSeed = process.argv.includes("--seed") ? whole("seed", 0, 0) : chooseSeed();
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [i, store] of stores.entries()) {
      const seed = firstSeed + round * stores.length + i;
      console.log(`\n=== soak round ${round + 1}/${rounds} on ${store}: ${operations} operations, ${kills} SIGKILLs, seed ${seed}`);
      const report = await runChaos({ store, seed, operations, kills, actors, settleTimeoutMs: 15 * 60_000, log: (l) => console.log(l) });
      console.log(formatChaosReport(report));
      appendReport(out, report);
      if (Object.values(report.problems).some((p) => p.length > 0) || report.integrity !== "ok") failed++;
    }
  }
  console.log(`\n${failed === 0 ? "All soak runs converged." : `${failed} soak run(s) found problems.`} Reports: ${out}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
