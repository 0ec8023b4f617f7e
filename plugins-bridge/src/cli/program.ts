/**
 * `cosell-bridge`, the command line (commander 14). Every command reads the same environment
 * variables as the service (README.md lists them). A configuration or mapping mistake prints the
 * list of problems and exits 2, never a stack trace.
 *
 *   serve                              the service: webhooks, worker, reconcile timer, status page
 *   login [--auth-code]                sign the Partner Center service account in (MFA) and store its refresh token
 *   connect [--overwrite] [--dry-run]  register this bridge's URL with Partner Center and Dataverse
 *   backfill [--concurrency n]         sync every existing referral and record, with a progress bar
 *   reconcile                          one sweep for what webhooks missed, worked off at once
 *   status [--json]                    queue, sign-in, dead letters, recent failures
 *   dead-letters [list | retry <id>]   what was given up, and sending it round again
 *   mapping test <id>                  what a sync of that opportunity / lead / referral would write
 *   sandbox                            the local sandbox with a bridge (= npm start)
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import cliProgress from "cli-progress";
import { PRODUCT_VERSION } from "@cosell/contract";
import { ConfigError, DATAVERSE_WEBHOOK_HEADER, loadConfig, type BridgeConfig } from "../config";
import { StoredRefreshTokens } from "../auth/stored-refresh-token";
import { SealedSecretError, TokenVault } from "../auth/token-vault";
import { connect, formatPlan } from "../connect";
import { explain, formatExplanation } from "../engine/explain";
import { LoginError, signInToPartnerCenter } from "../auth/partner-center-login";
import { checkSignIn, createRuntime, type BridgeRuntime } from "../engine/runtime";
import { startBridge } from "../index";
import { MappingError } from "../mapping";
import { createLogger } from "../observability/logger";
import { configSecrets, describeConfig } from "../config";
import { backfill, type BackfillProgress } from "../reconcile/backfill";
import { JobNotFoundError, JobStateError, openStore, StoreOpenError, type Store } from "../store";

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  /** `serve` runs until this resolves (default: SIGINT or SIGTERM). */
  readonly untilStopped?: () => Promise<string>;
  readonly isTTY?: boolean;
}

/** Thrown inside a command to end it with an exit code and a message (no stack trace). */
class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function configOrExit(env: NodeJS.ProcessEnv): BridgeConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new Exit(2, `cosell-bridge: the configuration is not valid:\n${err.problems.map((p) => `  - ${p}`).join("\n")}\nSee plugins-bridge/README.md for every variable.`);
    throw err;
  }
}


async function withRuntime<T>(io: CliIo, fn: (rt: BridgeRuntime) => Promise<T>, options: { logLevel?: string; workerConcurrency?: number } = {}): Promise<T> {
  const config = configOrExit(io.env);
  // Commands other than serve log only warnings by default: their output is for the person at the terminal.
  const log = createLogger({ level: options.logLevel ?? (io.env.LOG_LEVEL ? config.logLevel : "warn"), secrets: configSecrets(config), destination: process.stderr });
  let rt: BridgeRuntime;
  try {
    rt = await createRuntime(config, { log, store: config.store, leaseMs: config.jobLeaseMs, ...(options.workerConcurrency ? { workerConcurrency: options.workerConcurrency } : {}) });
  } catch (err) {
    throw startupError(err);
  }
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

function startupError(err: unknown): unknown {
  if (err instanceof MappingError) return new Exit(2, `cosell-bridge: ${err.message}`);
  if (err instanceof SealedSecretError) return new Exit(2, `cosell-bridge: ${err.message}`);
  if (err instanceof StoreOpenError) return new Exit(2, `cosell-bridge: ${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ""}`);
  return err;
}

/** `login` keeps the refresh token where the runtime keeps a rotated one, sealed the same way. */
async function storeSignedInRefreshToken(store: Store, config: BridgeConfig, refreshToken: string): Promise<void> {
  await new StoredRefreshTokens(store, new TokenVault(config.tokenKeys), config.partnerCenter.refreshToken).save(refreshToken);
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const done = (signal: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(signal);
    };
    const onInt = () => done("SIGINT");
    const onTerm = () => done("SIGTERM");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
  });
}

function repoRoot(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, "scripts", "start.ts")) && fs.existsSync(path.join(dir, "plugins-bridge"))) return dir;
    dir = path.dirname(dir);
  }
  return undefined;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command("cosell-bridge")
    .description("Partner Center co-sell referrals ⇄ Dynamics 365, both ways.")
    .version(PRODUCT_VERSION, "-v, --version")
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride()
    .showHelpAfterError();

  program
    .command("serve")
    .description("run the service: webhooks, worker, reconcile timer, status page, admin API")
    .action(async () => {
      const config = configOrExit(io.env);
      const log = createLogger({ level: config.logLevel, secrets: configSecrets(config) });
      if (config.outboundProxy) log.info({ outboundProxy: describeConfig(config)["outboundProxy"] }, "outbound calls go through the proxy unless NO_PROXY covers the host");
      let bridge;
      try {
        bridge = await startBridge(config, { log, store: config.store, leaseMs: config.jobLeaseMs });
      } catch (err) {
        throw startupError(err);
      }
      io.out(`cosell-bridge listening on ${bridge.url} (store: ${bridge.runtime.store.kind})\n`);
      const signal = await (io.untilStopped ?? waitForSignal)();
      log.info({ signal }, "stopping");
      await bridge.close();
      log.flush();
    });

  program
    .command("login")
    .description("sign the Partner Center service account in (with MFA) and store its refresh token for the bridge")
    .option("--auth-code", "authorization code with a localhost redirect (prints the URL to open) instead of a device code")
    .action(async (opts: { authCode?: boolean }) => {
      const config = configOrExit(io.env);
      let store: Store;
      try {
        store = await openStore(config.store, { maxAttempts: config.maxAttempts });
      } catch (err) {
        throw startupError(err);
      }
      try {
        const signedIn = await signInToPartnerCenter({
          loginUrl: config.loginUrl,
          tenantId: config.partnerCenter.tenantId,
          clientId: config.partnerCenter.clientId,
          flow: opts.authCode ? "auth-code" : "device-code",
          prompt: (text) => io.out(`${text}\n`),
        });
        await storeSignedInRefreshToken(store, config, signedIn.refreshToken);
        io.out(
          [
            `Signed in to Partner Center as ${signedIn.account} (tenant ${signedIn.tenantId}), with MFA.`,
            `The refresh token is stored in the bridge's ${store.kind} store; the bridge uses it from its next start (restart a running serve).`,
            ...(config.partnerCenter.refreshToken ? ["PARTNER_CENTER_REFRESH_TOKEN is set: remove it, or the bridge goes back to it once it is changed."] : []),
            "",
          ].join("\n"),
        );
      } catch (err) {
        if (err instanceof LoginError) throw new Exit(1, `cosell-bridge: ${err.message}`);
        throw err;
      } finally {
        await store.close();
      }
    });

  program
    .command("connect")
    .description("register this bridge with Partner Center (webhook) and Dataverse (service endpoint and steps)")
    .option("--overwrite", "replace a Partner Center registration that points at another URL")
    .option("--dry-run", "print what would change and change nothing")
    .option("--public-url <url>", "the URL both services call (default BRIDGE_PUBLIC_URL)")
    .option("--only <service>", "partner-center or dataverse")
    .action(async (opts: { overwrite?: boolean; dryRun?: boolean; publicUrl?: string; only?: string }) => {
      if (opts.only !== undefined && opts.only !== "partner-center" && opts.only !== "dataverse") throw new Exit(2, "cosell-bridge: --only takes partner-center or dataverse");
      await withRuntime(io, async (rt) => {
        const publicUrl = opts.publicUrl ?? rt.config.http.publicUrl;
        if (!publicUrl) throw new Exit(2, "cosell-bridge: the configuration is not valid:\n  - BRIDGE_PUBLIC_URL is required for connect (the https URL Partner Center and Dataverse call)");
        const plan = await connect({
          publicUrl,
          partnerCenter: rt.partnerCenterClient,
          dataverse: rt.dataverseClient,
          mapping: () => rt.settings.mapping(),
          webhookHeader: DATAVERSE_WEBHOOK_HEADER,
          webhookKey: rt.config.dataverse.webhookKey,
          overwrite: opts.overwrite ?? false,
          dryRun: opts.dryRun ?? false,
          ...(opts.only ? { only: opts.only as "partner-center" | "dataverse" } : {}),
        });
        io.out(`${formatPlan(plan)}\n`);
        if (!plan.ok) throw new Exit(1, "cosell-bridge: connect refused a change (see above)");
      });
    });

  const sweepCommand = (fromBeginning: boolean) => async (opts: { concurrency?: string }) => {
    const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)) throw new Exit(2, "cosell-bridge: --concurrency takes a whole number from 1 to 256");
    await withRuntime(io, async (rt) => {
      const bar = new cliProgress.SingleBar(
        {
          format: `${fromBeginning ? "backfill" : "reconcile"} [{bar}] {value}/{total} syncs | {phase} | listed {listed}`,
          noTTYOutput: true,
          notTTYSchedule: 2_000,
          stream: process.stderr,
          hideCursor: io.isTTY ?? false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(0, 0, { phase: "listing", listed: 0 });
      const summary = await backfill(rt, {
        fromBeginning,
        ...(concurrency ? { concurrency } : {}),
        onProgress: (p: BackfillProgress) => {
          bar.setTotal(Math.max(p.total, p.done));
          bar.update(p.done, { phase: p.phase, listed: p.listed });
        },
      });
      bar.stop();
      io.out(
        [
          `${fromBeginning ? "Backfill" : "Reconcile"} done in ${(summary.durationMs / 1000).toFixed(1)} s:`,
          `  referrals listed   ${summary.referralsListed}`,
          `  records listed     ${summary.recordsListed}`,
          `  syncs              ${summary.jobsProcessed}`,
          `  created            ${summary.created}`,
          `  updated            ${summary.updated}`,
          `  unchanged          ${summary.unchanged}`,
          `  skipped            ${summary.skipped}`,
          `  errors             ${summary.errors}`,
          `  retries            ${summary.retries}`,
          `  dead letters       ${summary.deadLetters}`,
          "",
        ].join("\n"),
      );
    });
  };
  program.command("backfill").description("sync every existing referral and opportunity/lead once").option("--concurrency <n>", "syncs at a time").action(sweepCommand(true));
  program.command("reconcile").description("one sweep for changes no webhook announced, synced at once").option("--concurrency <n>", "syncs at a time").action(sweepCommand(false));

  program
    .command("status")
    .description("queue, sign-in, dead letters and recent failures")
    .option("--json", "machine-readable")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(io, async (rt) => {
        const [queue, signIn, dead, failures] = await Promise.all([rt.store.queueStats(), checkSignIn(rt), rt.store.listDeadLetters(20), rt.store.recentFailures(10)]);
        const renewedAt = await rt.refreshTokens.storedAt();
        if (opts.json) {
          const token = renewedAt ? { partnerCenterRefreshTokenStoredAt: renewedAt.toISOString() } : {};
          io.out(`${JSON.stringify({ store: rt.store.kind, queue, signIn, ...token, deadLetters: dead, recentFailures: failures }, null, 2)}\n`);
        } else {
          const sign = (name: string, s: { ok: boolean; error?: string }) => `  ${name.padEnd(15)} ${s.ok ? "signed in" : `CANNOT SIGN IN: ${s.error ?? ""}`}`;
          io.out(
            [
              `store            ${rt.store.kind}`,
              `queue            ${queue.queued} queued (${queue.ready} ready), ${queue.running} running, ${queue.dead} dead letters, lag ${(queue.lagMs / 1000).toFixed(1)} s`,
              "sign-in",
              sign("Partner Center", signIn.partnerCenter),
              ...(renewedAt ? [`  ${"".padEnd(15)} refresh token renewed ${renewedAt.toISOString()} (Entra ID ends it after 90 days without use)`] : []),
              sign("Dynamics 365", signIn.dataverse),
              ...(failures.length ? ["recent failures", ...failures.map((f) => `  ${f.at.toISOString()} ${f.linkKey} ${f.message}`)] : []),
              "",
            ].join("\n"),
          );
        }
        if (!signIn.partnerCenter.ok || !signIn.dataverse.ok) throw new Exit(1, "cosell-bridge: a service cannot be signed in to (see above)");
      });
    });

  const dead = program.command("dead-letters").description("jobs given up on, with their reasons");
  dead
    .command("list", { isDefault: true })
    .description("list dead letters")
    .option("--json", "machine-readable")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(io, async (rt) => {
        const jobs = await rt.store.listDeadLetters(1000);
        if (opts.json) io.out(`${JSON.stringify(jobs, null, 2)}\n`);
        else if (jobs.length === 0) io.out("No dead letters.\n");
        else io.out(`${jobs.map((j) => `${String(j.id).padStart(6)}  ${j.linkKey}  ${j.updatedAt.toISOString()}  ${j.lastError ?? ""}`).join("\n")}\n`);
      });
    });
  dead
    .command("retry <id>")
    .description("queue a dead letter again (a running serve picks it up)")
    .action(async (id: string) => {
      const jobId = Number(id);
      if (!Number.isInteger(jobId) || jobId <= 0) throw new Exit(2, "cosell-bridge: dead-letters retry takes a job id (see dead-letters list)");
      await withRuntime(io, async (rt) => {
        try {
          await rt.store.retryDeadLetter(jobId);
        } catch (err) {
          if (err instanceof JobNotFoundError || err instanceof JobStateError) throw new Exit(1, `cosell-bridge: ${err.message}`);
          throw err;
        }
        io.out(`Job ${jobId} is queued again.\n`);
      });
    });

  program
    .command("mapping")
    .description("the field mapping")
    .command("test <id>")
    .description("what a sync of this opportunity, lead or referral would write on each side (writes nothing)")
    .action(async (id: string) => {
      await withRuntime(io, async (rt) => {
        const x = await explain(rt, id);
        io.out(`${formatExplanation(x)}\n`);
        if (x.kind === "not-found") throw new Exit(1, "");
      });
    });

  program
    .command("sandbox")
    .description("run the local sandbox (emulators + bridge), as npm start does")
    .action(async () => {
      const root = repoRoot();
      if (!root) throw new Exit(2, "cosell-bridge: the sandbox runs from a checkout of the repository (scripts/start.ts not found)");
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [require.resolve("tsx/cli"), path.join(root, "scripts", "start.ts")], { cwd: root, stdio: "inherit", env: io.env });
        child.on("exit", (c) => resolve(c ?? 1));
      });
      if (code !== 0) throw new Exit(code, "");
    });

  return program;
}

/** Runs the command line; resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof Exit) {
      if (err.message) io.err(`${err.message}\n`);
      return err.code;
    }
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const e = err as Error;
    io.err(`cosell-bridge: ${e.message ?? String(err)}\n`);
    return 1;
  }
}
