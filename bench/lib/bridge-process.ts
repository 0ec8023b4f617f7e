/**
 * Starts bench/child/bridge.ts in a process of its own and talks to it over IPC. Its stderr (the
 * bridge's log at warn level) goes to a file under the run's work directory, shown when it fails.
 * With `profileDir` the child runs under `node --cpu-prof` and leaves a .cpuprofile there.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import type { StartMessage } from "../child/bridge";

const CHILD = path.join(__dirname, "..", "child", "bridge.ts");

// The launcher's rule for V8's old space (plugins-bridge/bin/heap.js, plain CommonJS).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { heapCapFlag: launcherHeapCapFlag } = require("../../plugins-bridge/bin/heap.js") as {
  heapCapFlag: (nodeOptions: string | undefined, execArgv: readonly string[]) => string | undefined;
};

const Memory = z.object({ rss: z.number(), heapUsed: z.number(), maxRss: z.number(), cpuMs: z.number() });
const Ready = Memory.extend({ type: z.literal("ready"), url: z.string().optional(), bareUrl: z.string().optional() });
const Reply = z.object({ type: z.literal("reply"), id: z.number(), value: z.unknown().optional(), error: z.string().optional() });
const Failed = z.object({ type: z.literal("error"), error: z.string() });
const BackfillDone = Memory.extend({
  type: z.literal("backfill"),
  summary: z.record(z.string(), z.number()),
  links: z.number(),
  peak: z.object({ heapUsed: z.number(), external: z.number(), arrayBuffers: z.number() }),
});
const Message = z.discriminatedUnion("type", [Ready, Reply, Failed, BackfillDone]);

export const Stats = Memory.extend({
  queue: z.object({ queued: z.number(), running: z.number(), dead: z.number() }).loose(),
  busy: z.number(),
  /** Event-loop delay since the previous stats (ms). */
  loopDelay: z.object({ p99: z.number(), max: z.number() }),
});
export type Stats = z.infer<typeof Stats>;
export type BackfillResult = z.infer<typeof BackfillDone>;

export interface BridgeProcessOptions {
  readonly logFile: string;
  readonly profileDir?: string;
}

export class BridgeProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly waiters: Array<{ type: string; resolve: (m: unknown) => void; reject: (e: Error) => void }> = [];
  private exited: Error | undefined;
  ready: z.infer<typeof Ready> | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    child.on("message", (raw: unknown) => this.onMessage(raw));
    child.on("exit", (code, signal) => {
      this.exited = new Error(`the bridge process ended (code ${code}, signal ${signal}); its log: ${logFile}\n${tail(logFile)}`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
      for (const w of this.waiters.splice(0)) w.reject(this.exited);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(start: StartMessage, options: BridgeProcessOptions): Promise<BridgeProcess> {
    const log = fs.openSync(options.logFile, "a");
    const execArgv = ["--require", require.resolve("tsx/cjs")];
    if (options.profileDir) execArgv.push("--cpu-prof", `--cpu-prof-dir=${options.profileDir}`);
    // Experiments with V8's settings, e.g. BENCH_BRIDGE_NODE_OPTIONS="--max-old-space-size=128".
    for (const flag of (process.env.BENCH_BRIDGE_NODE_OPTIONS ?? "").split(/\s+/).filter(Boolean)) execArgv.push(flag);
    // As bin/cosell-bridge.js runs the bridge: V8's old space capped unless a flag above set it.
    const heapCap = launcherHeapCapFlag(undefined, execArgv);
    if (heapCap) execArgv.push(heapCap);
    if (process.env.BENCH_SQL_TRACE) execArgv.push("--require", path.join(__dirname, "..", "child", "sqltrace.ts"));
    if (process.env.BENCH_PG_TRACE) execArgv.push("--require", path.join(__dirname, "..", "child", "pgtrace.ts"));
    // Diagnostics: BENCH_HEAP_SNAPSHOT_AFTER_MS=n writes a heap snapshot to /tmp n ms after the start.
    const snapshotAfter = Number(process.env.BENCH_HEAP_SNAPSHOT_AFTER_MS ?? 0);
    if (snapshotAfter > 0) execArgv.push("--heapsnapshot-signal=SIGUSR2", "--diagnostic-dir=/tmp");
    const child = fork(CHILD, [], { execArgv, stdio: ["ignore", log, log, "ipc"], env: { PATH: process.env.PATH ?? "", NODE_ENV: "production" } });
    fs.closeSync(log);
    if (snapshotAfter > 0) setTimeout(() => child.kill("SIGUSR2"), snapshotAfter).unref();
    const bp = new BridgeProcess(child, options.logFile);
    const ready = bp.waitFor("ready", 120_000);
    child.send(start);
    bp.ready = Ready.parse(await ready);
    return bp;
  }

  private onMessage(raw: unknown): void {
    const parsed = Message.safeParse(raw);
    if (!parsed.success) return;
    const m = parsed.data;
    if (m.type === "reply") {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`bridge process: ${m.error}`));
      else p.resolve(m.value);
      return;
    }
    if (m.type === "error") {
      const err = new Error(`bridge process failed: ${m.error}`);
      for (const w of this.waiters.splice(0)) w.reject(err);
      return;
    }
    const i = this.waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(m);
  }

  /** The next message of this type (ready, backfill). */
  waitFor(type: string, timeoutMs: number): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${type}' from the bridge process within ${timeoutMs} ms; its log: ${this.logFile}\n${tail(this.logFile)}`)), timeoutMs);
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  private command(cmd: "stats" | "sweep" | "stop", timeoutMs = 300_000): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`bridge process: no answer to '${cmd}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ cmd, id });
    });
  }

  async stats(): Promise<Stats> {
    return Stats.parse(await this.command("stats"));
  }

  async sweep(): Promise<{ enqueued: number }> {
    return z.object({ enqueued: z.number() }).parse(await this.command("sweep"));
  }

  async backfillResult(timeoutMs: number): Promise<BackfillResult> {
    return BackfillDone.parse(await this.waitFor("backfill", timeoutMs));
  }

  /** Peak resident set of the process so far (kernel's VmHWM), in bytes; undefined once it ended. */
  peakRss(): number | undefined {
    return procStatus(this.pid, "VmHWM");
  }

  currentRss(): number | undefined {
    return procStatus(this.pid, "VmRSS");
  }

  /** Asks the process to stop (it closes the bridge and exits), then makes sure it has. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const ended = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      await this.command("stop", 30_000);
    } catch {
      // already gone, or stuck: signalled below
    }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await ended;
    clearTimeout(timer);
  }

  /** For the backfill child, which exits by itself. */
  async exit(timeoutMs = 60_000): Promise<void> {
    if (this.exited) return;
    const ended = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await ended;
    clearTimeout(timer);
  }
}

function procStatus(pid: number, field: string): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
