/**
 * The figures of a results file as a Markdown table (what docs/PERFORMANCE.md shows).
 *
 *   npx tsx bench/report.ts [bench/results.json]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";

const Results = z.object({
  mode: z.string(),
  startedAt: z.string(),
  durationSeconds: z.number(),
  machine: z.object({ loadAverage1mDuringRun: z.object({ min: z.number(), max: z.number() }) }).loose(),
  figures: z.array(
    z.object({
      name: z.string(),
      unit: z.string(),
      value: z.number().nullable(),
      spread: z.object({ min: z.number().nullable(), max: z.number().nullable() }).optional(),
      target: z.object({ op: z.string(), value: z.number() }).nullable(),
      pass: z.boolean().nullable(),
      note: z.string().optional(),
    }),
  ),
});

const fmt = (n: number | null | undefined) => (n === null || n === undefined ? "—" : String(n));

const file = process.argv[2] ?? path.join(__dirname, "results.json");
const r = Results.parse(JSON.parse(fs.readFileSync(file, "utf8")));
const op = (o: string) => (o === "<=" ? "≤" : o === ">=" ? "≥" : "=");
console.log(`${r.mode} run of ${r.startedAt}, ${Math.round(r.durationSeconds / 60)} min, 1-min load average ${r.machine.loadAverage1mDuringRun.min}–${r.machine.loadAverage1mDuringRun.max}\n`);
const counted = r.figures.filter((f) => f.target !== null || f.pass === false);
// Runs before issue 14 measured KiB, and MiB labelled "MB": their figures are printed as recorded.
const legacy = r.figures.some((f) => f.unit === "KiB");
const units = legacy ? "as recorded: KiB, and MiB labelled MB" : "KB = 1,000 bytes, MB = 1,000,000 bytes";
console.log(`targets met ${counted.filter((f) => f.pass === true).length} of ${counted.length} (${units})\n`);
console.log("| figure | median | spread (min–max) | target | |");
console.log("| --- | --- | --- | --- | --- |");
for (const f of r.figures) {
  const spread = f.spread ? `${fmt(f.spread.min)}–${fmt(f.spread.max)}` : "";
  const target = f.target ? `${op(f.target.op)} ${f.target.value} ${f.unit}` : "—";
  console.log(`| \`${f.name}\` | ${fmt(f.value)} ${f.unit} | ${spread} | ${target} | ${f.pass === null ? "" : f.pass ? "pass" : "**FAIL**"} |`);
}
