// The old-space cap the bridge runs with. Node sizes V8's old space from the machine's memory (~4 GB
// on a 24 GB machine), so with 52 syncs in flight V8 grows the heap instead of collecting: a backfill
// peaked at 355 MB of RSS while holding ~50 MB of live objects. Capped at 192 MB the same backfill
// peaks near 200 MB and is no slower (docs/PERFORMANCE.md). An admin's own
// --max-old-space-size (in NODE_OPTIONS or on node's command line) always wins.
"use strict";

const HEAP_CAP_MB = 192;
const FLAG = /(^|\s)--max[-_]old[-_]space[-_]size(=|\s|$)/;

/** The flag to add, or undefined when NODE_OPTIONS or node's own arguments already set one. */
function heapCapFlag(nodeOptions, execArgv) {
  if (FLAG.test(nodeOptions || "")) return undefined;
  if ((execArgv || []).some((a) => FLAG.test(a))) return undefined;
  return `--max-old-space-size=${HEAP_CAP_MB}`;
}

module.exports = { HEAP_CAP_MB, heapCapFlag };
