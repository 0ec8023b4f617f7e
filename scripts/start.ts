/**
 * `npm start`: the whole product on this machine, from a fresh clone.
 *
 *   Entra ID emulator        :7073   (ENTRA_PORT)
 *   Partner Center emulator  :7071   (PARTNER_CENTER_PORT)
 *   Dataverse emulator       :7072   (DATAVERSE_PORT), the managed solution imported (ImportSolution),
 *                                    and the form page hosting the real PCF control (/form-host/)
 *   cosell-bridge            :7070   (BRIDGE_PORT), SQLite in .sandbox-data/ (SANDBOX_DATA_DIR), both webhooks connected
 *
 * The solution zip and the control's bundle come from `npm run build`; when either is missing (a
 * fresh clone) this runs the build first. A few referrals are seeded (two co-sell opportunities, a
 * marketplace lead); they show up as Dynamics 365 records within seconds. The solution catalogue and
 * a seller's draft opportunity are seeded too, and the form page opens on that opportunity. Ctrl-C
 * stops everything cleanly. The emulators keep their data in memory, so the bridge's store starts
 * empty too (its links would point at nothing).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import { startSandbox, DEFAULT_PORTS, MANAGED_SOLUTION_ZIP, sampleReferrals, type Sandbox } from "../sandbox/src/compose";
import { DEFAULT_CONTROL_DIR, fluentBundle, formHostUrl, mountFormHost } from "../sandbox/src/form-host";
import { loadConfig, ConfigError } from "../plugins-bridge/src/config";
import { startBridge } from "../plugins-bridge/src/index";
import { connect, formatPlan } from "../plugins-bridge/src/connect";
import { createLogger } from "../plugins-bridge/src/observability/logger";
import { configSecrets, DATAVERSE_WEBHOOK_HEADER } from "../plugins-bridge/src/config";

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`npm start: ${name} must be a port number, got '${raw}'\n`);
    process.exit(2);
  }
  return n;
}

/** `npm run build` with the npm that runs this script (npm_execpath), or the one on the PATH. */
function runBuild(root: string): Promise<number | null> {
  const npmCli = process.env.npm_execpath;
  const [command, args] = npmCli?.endsWith(".js") ? [process.execPath, [npmCli, "run", "build"]] : ["npm", ["run", "build"]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], shell: process.platform === "win32" && command === "npm" });
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
}

/** The solution zip and the control's bundle: built when missing, as on a fresh clone. */
async function ensureBuilt(root: string): Promise<void> {
  const outputs = [MANAGED_SOLUTION_ZIP, path.join(DEFAULT_CONTROL_DIR, "bundle.js")];
  const missing = () => outputs.filter((f) => !fs.existsSync(f)).map((f) => path.relative(root, f));
  if (missing().length === 0) return;
  process.stdout.write(`npm start: ${missing().join(" and ")} not built yet; running npm run build first (a few minutes, once)…\n`);
  const code = await runBuild(root);
  const still = missing();
  if (code !== 0 || still.length > 0) {
    process.stderr.write(
      `npm start: npm run build ${code !== 0 ? `failed (exit ${String(code)})` : `did not produce ${still.join(", ")}`}. Fix what it reports above, run npm run build, then npm start again.\n`,
    );
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, "..");
  await ensureBuilt(root);
  const dataDir = path.resolve(process.env.SANDBOX_DATA_DIR ?? path.join(root, ".sandbox-data"));
  fs.mkdirSync(dataDir, { recursive: true });
  const sqlitePath = path.join(dataDir, "cosell-bridge.sqlite");
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(`${sqlitePath}${suffix}`, { force: true });
  const logFile = path.join(dataDir, "bridge.log");

  const live: { sandbox?: Sandbox } = {};
  const sandbox = await startSandbox({
    ports: {
      identity: port("ENTRA_PORT", DEFAULT_PORTS.identity),
      partnerCenter: port("PARTNER_CENTER_PORT", DEFAULT_PORTS.partnerCenter),
      dataverse: port("DATAVERSE_PORT", DEFAULT_PORTS.dataverse),
    },
    schema: "solution",
    // The page asks for the token only once the sandbox is up.
    dataverseRoutes: (app) =>
      mountFormHost(app, {
        accessToken: () => {
          if (!live.sandbox) throw new Error("the sandbox is still starting");
          return live.sandbox.userAccessToken("seller");
        },
      }),
  });
  live.sandbox = sandbox;
  // Fluent UI is bundled on the page's first request; start now so that the first visit is quick.
  fluentBundle().catch(() => undefined);
  const bridgePort = port("BRIDGE_PORT", DEFAULT_PORTS.bridge);
  const adminToken = process.env.BRIDGE_ADMIN_TOKEN ?? "sandbox-admin-token-not-for-production";
  const env = sandbox.bridgeEnvironment({ port: bridgePort, sqlitePath, adminToken, reconcileIntervalSeconds: 60, logLevel: process.env.LOG_LEVEL ?? "info" });

  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      await sandbox.close();
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel, secrets: configSecrets(config), destination: fs.createWriteStream(logFile, { flags: "w" }) });
  const bridge = await startBridge(config, { log });
  // The environment as it runs (a port of 0 became a real one): for `cosell-bridge` commands next to it.
  const running = { ...env, BRIDGE_PORT: new URL(bridge.url).port, BRIDGE_PUBLIC_URL: bridge.url };
  fs.writeFileSync(path.join(dataDir, "bridge.env"), `${Object.entries(running).map(([k, v]) => `${k}=${v}`).join("\n")}\n`, { mode: 0o600 });
  const plan = await connect({
    // Where the bridge really listens (BRIDGE_PORT=0 picks a free port).
    publicUrl: bridge.url,
    partnerCenter: bridge.runtime.partnerCenterClient,
    dataverse: bridge.runtime.dataverseClient,
    mapping: await bridge.runtime.settings.mapping(),
    webhookHeader: DATAVERSE_WEBHOOK_HEADER,
    webhookKey: config.dataverse.webhookKey,
  });
  const seeded = await sandbox.seedReferrals(sampleReferrals());
  const catalogue = await sandbox.seedSolutionCatalogue();
  const draft = await sandbox.seedDraftOpportunity();
  const formPage = formHostUrl(sandbox.urls.dataverse, { entity: "opportunity", id: draft.opportunityId });

  const pc = sandbox.urls.partnerCenter;
  const dv = sandbox.urls.dataverse;
  process.stdout.write(
    [
      "",
      "Partner Center Co-sell sandbox is running.",
      "",
      `  Bridge status page   ${bridge.url}/   (user: anything, password: ${adminToken})`,
      `  Bridge metrics       ${bridge.url}/metrics`,
      `  Partner Center       ${pc}   (control: ${pc}/_emulator)`,
      `  Dataverse Web API    ${dv}/api/data/v9.2/   (control: ${dv}/_emulator)`,
      `  Form page            ${formPage}`,
      `                       (the PCF control on a seller's draft opportunity; every record: ${formHostUrl(dv)})`,
      `  Entra ID             ${sandbox.urls.identity}`,
      `  Bridge log           ${path.relative(process.cwd(), logFile)}`,
      `  Bridge environment   ${path.relative(process.cwd(), path.join(dataDir, "bridge.env"))}`,
      "",
      "Connected:",
      ...formatPlan(plan).split("\n").map((l) => `  ${l}`),
      "",
      `Seeded ${seeded.length} referrals in Partner Center: ${seeded.join(", ")}`,
      `  Their opportunities/leads: ${dv}/api/data/v9.2/${Table.opportunity.entitySetName}?$select=${SystemColumn.opportunity.name},${OpportunityColumn.referralId},${OpportunityColumn.syncState} (needs a token; see docs)`,
      `Seeded ${catalogue.length} solutions in the co-sell catalogue and the draft opportunity ${draft.opportunityId}`,
      "",
      "Try it:",
      `  Open the form page, switch "Sync with Partner Center" on, pick a solution, Save; a few seconds later`,
      `  Refresh shows the referral and ✔ (Partner Center's side: ${pc}/_emulator/changes).`,
      `  curl -s -X POST ${pc}/_emulator/inbound-referrals -H 'content-type: application/json' -d @sandbox/test/fixtures/partner-center/inbound-co-sell.json`,
      `  → an opportunity appears in Dataverse within seconds; the status page lists the sync.`,
      "",
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );

  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  process.stdout.write("\nStopping…\n");
  await bridge.close();
  await sandbox.close();
  log.flush();
  process.exit(0);
}

main().catch((err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "EADDRINUSE") process.stderr.write(`npm start: a port is already in use (${e.message}). Set BRIDGE_PORT, PARTNER_CENTER_PORT, DATAVERSE_PORT or ENTRA_PORT.\n`);
  else process.stderr.write(`npm start failed: ${e.stack ?? String(err)}\n`);
  process.exit(1);
});
