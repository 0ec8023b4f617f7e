/**
 * The bridge as a child process, the way it runs in production: `cosell-bridge serve` (its
 * sources, src/cli/main.ts, through tsx as bin/cosell-bridge.js runs them) with its configuration
 * in the environment and nothing else: every knob a test turns is one of the bridge's variables.
 * Every line it writes (pino JSON on stdout, anything on stderr) is appended to a log file, which
 * the secret scan reads afterwards.
 * `kill()` sends SIGKILL: no shutdown hook runs, exactly like a crash or an OOM kill.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { waitFor } from "./wait";

const TSX_CJS = require.resolve("tsx/cjs");
export const REPO_ROOT = path.resolve(__dirname, "../../..");
export const BRIDGE_ENTRY = path.join(REPO_ROOT, "plugins-bridge", "src", "cli", "main.ts");

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one `cosell-bridge` command to completion (e.g. connect, reconcile, or serve refusing to start). */
export function runCli(args: readonly string[], env: Record<string, string>, options: { timeoutMs?: number; logFile?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--require", TSX_CJS, BRIDGE_ENTRY, ...args], {
      cwd: REPO_ROOT,
      env: cleanEnvironment(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`cosell-bridge ${args.join(" ")} did not finish in ${options.timeoutMs ?? 60_000} ms; stderr: ${stderr.slice(-2000)}`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (options.logFile) fs.appendFileSync(options.logFile, stdout + stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * The child gets only what we give it (plus PATH/HOME for node itself): no variable of the test
 * runner's environment leaks into the bridge's configuration.
 */
function cleanEnvironment(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "TZ", "NODE_OPTIONS"]) if (process.env[k] !== undefined) base[k] = process.env[k];
  return { ...base, ...env };
}

export interface BridgeProcessOptions {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly logFile: string;
  readonly startTimeoutMs?: number;
}

export class BridgeProcess {
  private child?: ChildProcess;
  private exited?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private tail: string[] = [];
  private currentUrl?: string;
  /** How many times this instance was started and SIGKILLed. */
  starts = 0;
  kills = 0;

  constructor(private readonly options: BridgeProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get url(): string {
    if (!this.currentUrl) throw new Error(`bridge ${this.name} is not running`);
    return this.currentUrl;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get logFile(): string {
    return this.options.logFile;
  }

  /** Starts `cosell-bridge serve`; resolves with its URL once it listens. */
  async start(extraEnv: Record<string, string> = {}): Promise<string> {
    if (this.running) throw new Error(`bridge ${this.name} is already running`);
    this.currentUrl = undefined;
    this.tail = [];
    const log = fs.createWriteStream(this.options.logFile, { flags: "a" });
    const child = spawn(process.execPath, ["--require", TSX_CJS, BRIDGE_ENTRY, "serve"], {
      cwd: REPO_ROOT,
      env: cleanEnvironment({ ...this.options.env, ...extraEnv }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.starts++;
    let pending = "";
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        this.tail.push(line);
        if (this.tail.length > 50) this.tail.shift();
        const m = /^cosell-bridge listening on (\S+)/.exec(line);
        if (m) this.currentUrl = m[1];
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        if (pending) this.tail.push(pending);
        log.end();
        resolve({ code, signal });
      });
    });
    await waitFor(
      () => {
        if (!this.running) throw new Error(`bridge ${this.name} exited while starting:\n${this.tail.join("\n")}`);
        return this.currentUrl;
      },
      `bridge ${this.name} to listen`,
      this.options.startTimeoutMs ?? 120_000,
      50,
    ).catch((err: unknown) => {
      if (this.running) child.kill("SIGKILL");
      throw err;
    });
    return this.url;
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return;
    this.kills++;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM (a graceful stop: the bridge finishes the jobs in hand); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    if (!this.child || !this.running) return undefined;
    const child = this.child;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  /** The last lines the process wrote (for failure messages). */
  lastLines(): string {
    return this.tail.join("\n");
  }

  /** Resident memory of the process right now and at its peak, in bytes (Linux /proc). */
  memory(): { rss: number; peak: number } | undefined {
    if (!this.pid) return undefined;
    try {
      const status = fs.readFileSync(`/proc/${this.pid}/status`, "utf8");
      const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
      return { rss: kb("VmRSS"), peak: kb("VmHWM") };
    } catch {
      return undefined;
    }
  }
}
