/**
 * Diagnostics for the bridge process (BENCH_PG_TRACE=1 npm run bench …): times every pg query by
 * its SQL (from send to result) and, when the process exits, appends the 30 costliest to
 * /tmp/pgtrace-<pid>.txt. Loaded with `--require` before the bridge; nothing else changes.
 */
import * as fs from "node:fs";
import { Client } from "pg";

const stats = new Map<string, { n: number; ms: number }>();
const proto = Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
const original = proto.query;
proto.query = function (this: unknown, ...args: unknown[]) {
  const q = args[0];
  const text = typeof q === "string" ? q : ((q as { text?: string } | null)?.text ?? "?");
  const t = performance.now();
  const done = () => {
    const s = stats.get(text) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += performance.now() - t;
    stats.set(text, s);
  };
  // Pool#query hands the client a callback (and gets no promise back): time that one too.
  const last = args[args.length - 1];
  if (typeof last === "function") {
    args[args.length - 1] = function (this: unknown, ...cbArgs: unknown[]) {
      done();
      return (last as (...a: unknown[]) => unknown).apply(this, cbArgs);
    };
  }
  const result = original.apply(this, args);
  if (typeof last !== "function" && result && typeof (result as Promise<unknown>).then === "function") (result as Promise<unknown>).then(done, done);
  return result;
};

process.on("exit", () => {
  const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30);
  const lines = rows.map(([sql, s]) => `PGTRACE ${s.ms.toFixed(0)} ms ${s.n} × ${(s.ms / s.n).toFixed(3)} ms: ${sql.replace(/\s+/g, " ").slice(0, 300)}\n`);
  fs.appendFileSync(`/tmp/pgtrace-${process.pid}.txt`, lines.join(""));
});
