/**
 * A flame summary of a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --profile`, which prints where they are):
 * self time by function and by file, and inclusive (self + callees) time by function.
 *
 *   npx tsx bench/profile.ts /tmp/cosell-bench-profiles-…/CPU.….cpuprofile [top=25]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";

const CallFrame = z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() });
const ProfileNode = z.object({ id: z.number(), callFrame: CallFrame, children: z.array(z.number()).optional() });
const Profile = z.object({
  nodes: z.array(ProfileNode),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});
type ProfileNode = z.infer<typeof ProfileNode>;

export interface Row {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface Summary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly selfByFunction: Row[];
  readonly selfByFile: Row[];
  readonly inclusiveByFunction: Row[];
}

const ROOT = path.resolve(__dirname, "..");

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const file = url.replace(/^file:\/\//, "");
  const nm = file.lastIndexOf("node_modules/");
  if (nm >= 0) return file.slice(nm + "node_modules/".length);
  return path.relative(ROOT, file) || file;
}

const label = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

export function summarize(raw: unknown, top = 25): Summary {
  const p = Profile.parse(raw);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfMs = new Map<number, number>();
  p.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const totalMs = (p.endTime - p.startTime) / 1000;

  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const selfFn = new Map<string, number>();
  const selfFile = new Map<string, number>();
  const incl = new Map<string, number>();
  let idleMs = 0;
  for (const [id, ms] of selfMs) {
    const n = byId.get(id);
    if (!n) continue;
    const name = n.callFrame.functionName;
    if (name === "(idle)") {
      idleMs += ms;
      continue;
    }
    add(selfFn, label(n), ms);
    add(selfFile, name.startsWith("(") ? name : shortUrl(n.callFrame.url), ms);
    // Inclusive: each function on the stack once, however often it recurses.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node || node.callFrame.functionName === "(root)") break;
      const l = label(node);
      if (seen.has(l)) continue;
      seen.add(l);
      add(incl, l, ms);
    }
  }
  const busy = totalMs - idleMs;
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: busy > 0 ? ms / busy : 0 }));
  return { totalMs, idleMs, selfByFunction: rows(selfFn), selfByFile: rows(selfFile), inclusiveByFunction: rows(incl) };
}

export function render(s: Summary): string {
  const block = (title: string, rows: readonly Row[]) =>
    [title, ...rows.map((r) => `  ${String(r.ms).padStart(7)} ms  ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.name}`)].join("\n");
  return [
    `profile: ${Math.round(s.totalMs)} ms, idle ${Math.round(s.idleMs)} ms, busy ${Math.round(s.totalMs - s.idleMs)} ms (shares below are of busy time)`,
    block("self time by file:", s.selfByFile),
    block("self time by function:", s.selfByFunction),
    block("inclusive time by function:", s.inclusiveByFunction),
  ].join("\n\n");
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: npx tsx bench/profile.ts <file.cpuprofile> [top]");
    process.exit(2);
  }
  console.log(render(summarize(JSON.parse(fs.readFileSync(file, "utf8")), Number(process.argv[3] ?? 25))));
}
