/**
 * Diagnostics for the bridge process (BENCH_SQL_TRACE=1 npm run bench …): times every better-sqlite3
 * statement by its SQL and, when the process exits, appends the 15 costliest to
 * /tmp/sqltrace-<pid>.txt. Loaded with `--require` before the bridge; nothing else changes.
 */
import * as fs from "node:fs";
import Database from "better-sqlite3";

const stats = new Map<string, { n: number; ms: number }>();
const proto = Object.getPrototypeOf(new Database(":memory:").prepare("select 1")) as Record<string, (...a: unknown[]) => unknown>;
for (const method of ["run", "all", "get"]) {
  const original = proto[method] as (...a: unknown[]) => unknown;
  proto[method] = function (this: { source: string }, ...args: unknown[]) {
    const t = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      const s = stats.get(this.source) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += performance.now() - t;
      stats.set(this.source, s);
    }
  };
}

process.on("exit", () => {
  const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
  const lines = rows.map(([sql, s]) => `SQLTRACE ${s.ms.toFixed(0)} ms ${s.n} × ${(s.ms / s.n).toFixed(3)} ms: ${sql.replace(/\s+/g, " ").slice(0, 300)}\n`);
  fs.appendFileSync(`/tmp/sqltrace-${process.pid}.txt`, lines.join(""));
});
