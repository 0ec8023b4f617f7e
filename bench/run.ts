/**
 * `npm run bench` — issue 6's figures, measured on this machine against the sandbox emulators
 * started in this run. Prints progress, a table, and ONE JSON object as the last line (also
 * written to bench/results.json).
 *
 *   npm run bench                       the full run (3 runs of each figure; 34 min on the shared 2-core machine)
 *   npm run bench -- --quick            fewer runs and smaller counts, to try it (~3 min)
 *   npm run bench -- --only=intake,form figures to run: propagation, backfill (with memory), intake, form, retention
 *   npm run bench -- --stores=sqlite    stores to run figures 1–3 on (default sqlite,postgres)
 *   npm run bench -- --profile          the bridge processes run under node --cpu-prof (into a printed /tmp folder)
 *   npm run bench -- --referrals=3000   another backfill size (experiments; the figure's target is for 10,000)
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { z } from "zod";
import { backfillFigures } from "./backfill";
import { formFigures } from "./form";
import { intakeFigures } from "./intake";
import { table, targetsMet, unmeasured, type Figure } from "./lib/figures";
import type { StoreKind } from "./lib/stores";
import type { RunContext } from "./lib/world";
import { propagation } from "./propagation";
import { retentionFigures } from "./retention";
import { plan, type Plan } from "./plan";

const FIGURES = ["propagation", "backfill", "intake", "form", "retention"] as const;
type FigureGroup = (typeof FIGURES)[number];

const Args = z.object({
  quick: z.boolean(),
  only: z.array(z.enum(FIGURES)),
  stores: z.array(z.enum(["sqlite", "postgres"])),
  profile: z.boolean(),
  referrals: z.number().int().positive().optional(),
});

function parseArgs(argv: readonly string[]): z.infer<typeof Args> {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const list = (name: string, all: readonly string[]) => (value(name)?.split(",").map((s) => s.trim()).filter(Boolean) ?? [...all]);
  const known = new Set(["--quick", "--profile"]);
  for (const a of argv) if (!known.has(a) && !/^--(only|stores|referrals)=/.test(a)) throw new Error(`unknown argument ${a} (see bench/run.ts)`);
  const referrals = value("referrals");
  return Args.parse({
    quick: argv.includes("--quick"),
    only: list("only", FIGURES),
    stores: list("stores", ["sqlite", "postgres"]),
    profile: argv.includes("--profile"),
    ...(referrals ? { referrals: Number(referrals) } : {}),
  });
}

/** The commit measured, and the parts of the tree that differed from it (others' work in progress). */
function revision(): { commit: string; modified: string[] } {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: path.join(__dirname, ".."), encoding: "utf8" }).trim();
    const status = execFileSync("git", ["status", "--porcelain", "--", "plugins-bridge/src", "sandbox/src", "contract/src", "pcf", "webresources/src"], {
      cwd: path.join(__dirname, ".."),
      encoding: "utf8",
    });
    return { commit, modified: status.split("\n").filter(Boolean).map((l) => l.slice(3)) };
  } catch {
    return { commit: "unknown", modified: [] };
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const base: Plan = plan(args.quick);
  const p: Plan = args.referrals ? { ...base, backfill: { ...base.backfill, referrals: args.referrals } } : base;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-bench-"));
  // Outside the repository (profiles are tens of MB): printed at the start and the end.
  const profileDir = args.profile ? fs.mkdtempSync(path.join(os.tmpdir(), "cosell-bench-profiles-")) : undefined;
  const ctx: RunContext = { workDir, log: (line) => process.stdout.write(`${line}\n`), ...(profileDir ? { profileDir } : {}) };
  const startedAt = new Date();
  const info = machine();
  const rev = revision();
  ctx.log(`cosell bench (${args.quick ? "quick" : "full"}) on ${info.cpus} × ${info.cpuModel}, load ${info.loadAverageAtStart.join(" ")}; work dir ${workDir}`);
  if (profileDir) ctx.log(`CPU profiles of the bridge processes: ${profileDir} (npx tsx bench/profile.ts <file>)`);

  const figures: Figure[] = [];
  const loads: number[][] = [info.loadAverageAtStart];
  const sampler = setInterval(() => loads.push(os.loadavg()), 30_000);
  sampler.unref();
  const want = (g: FigureGroup) => args.only.includes(g);
  const guard = async (what: string, names: readonly string[], run: () => Promise<Figure[]>) => {
    const t = performance.now();
    try {
      figures.push(...(await run()));
    } catch (err) {
      ctx.log(`${what} failed: ${(err as Error).stack ?? String(err)}`);
      for (const n of names) figures.push(unmeasured(n, "", null, `${what} failed: ${(err as Error).message.split("\n")[0]}`, []));
    }
    ctx.log(`  (${what}: ${((performance.now() - t) / 1000).toFixed(0)} s)`);
  };

  for (const store of args.stores as StoreKind[]) {
    if (want("propagation")) await guard(`propagation on ${store}`, [`propagation.${store}`], () => propagation(ctx, store, p.propagation));
    if (want("backfill")) await guard(`backfill on ${store}`, [`backfill.${store}`], () => backfillFigures(ctx, store, p.backfill));
    if (want("intake")) await guard(`intake on ${store}`, [`intake.${store}`], () => intakeFigures(ctx, store, p.intake));
    if (want("retention")) await guard(`retention on ${store}`, [`retention.${store}`], () => retentionFigures(ctx, store, p.retention));
  }
  if (want("form")) await guard("form", ["form"], () => formFigures(ctx, p.form));
  clearInterval(sampler);
  loads.push(os.loadavg());

  const finishedAt = new Date();
  const result = {
    benchmark: "cosell bench (issue 6)",
    mode: args.quick ? "quick" : "full",
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
    revision: { atStart: rev, atEnd: revision() },
    machine: { ...info, loadAverage1mDuringRun: { min: Math.min(...loads.map((l) => l[0] ?? 0)), max: Math.max(...loads.map((l) => l[0] ?? 0)) } },
    plan: p,
    stores: args.stores,
    // Only targets are counted ("targets met X of Y"); a figure without one is reported.
    targets: targetsMet(figures),
    figures,
  };
  ctx.log("");
  ctx.log(table(figures));
  if (profileDir) ctx.log(`\nCPU profiles: ${profileDir}`);
  ctx.log("");
  fs.writeFileSync(path.join(__dirname, "results.json"), `${JSON.stringify(result, null, 2)}\n`);
  // BENCH_KEEP_WORKDIR=1 keeps the bridge logs (progress lines, warnings) for a look afterwards.
  if (!process.env.BENCH_KEEP_WORKDIR) fs.rmSync(workDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
