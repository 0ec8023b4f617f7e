/**
 * `npm run sandbox`: the three emulators on their usual ports (Entra ID 7073, Partner Center 7071,
 * Dataverse 7072; ENTRA_PORT, PARTNER_CENTER_PORT, DATAVERSE_PORT override), the managed solution
 * imported when it has been built (else the data contract provisioned), and the environment a bridge needs written to .sandbox-data/bridge.env. No bridge:
 * run one yourself (`npx cosell-bridge serve` with that environment), or use `npm start`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_PORTS, startSandbox } from "./compose";

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`npm run sandbox: ${name} must be a port number, got '${raw}'\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  // The managed solution when it has been built (as `npm start` does), else the contract's columns
  // provisioned directly: `npm run sandbox` should not need a build to start.
  const zip = path.resolve(__dirname, "..", "..", "dist", "PartnerCenterCoSell_managed.zip");
  const schema = fs.existsSync(zip) ? "solution" : "contract";
  const sandbox = await startSandbox({
    schema,
    ports: {
      identity: port("ENTRA_PORT", DEFAULT_PORTS.identity),
      partnerCenter: port("PARTNER_CENTER_PORT", DEFAULT_PORTS.partnerCenter),
      dataverse: port("DATAVERSE_PORT", DEFAULT_PORTS.dataverse),
    },
  });
  const dir = path.resolve(__dirname, "..", "..", ".sandbox-data");
  fs.mkdirSync(dir, { recursive: true });
  const envFile = path.join(dir, "bridge.env");
  const env = sandbox.bridgeEnvironment({ port: port("BRIDGE_PORT", DEFAULT_PORTS.bridge), sqlitePath: path.join(dir, "cosell-bridge.sqlite") });
  fs.writeFileSync(envFile, `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n")}\n`, { mode: 0o600 });
  process.stdout.write(
    [
      "Sandbox emulators are running:",
      schema === "solution"
        ? "  Dataverse schema  the managed solution from dist/, imported through ImportSolution"
        : "  Dataverse schema  the data contract provisioned directly (run npm run build to import the real solution instead)",
      `  Entra ID          ${sandbox.urls.identity}`,
      `  Partner Center    ${sandbox.urls.partnerCenter}   (control: /_emulator)`,
      `  Dataverse         ${sandbox.urls.dataverse}/api/data/v9.2/   (control: /_emulator)`,
      `Bridge environment: ${path.relative(process.cwd(), envFile)}`,
      `  set -a; . ${path.relative(process.cwd(), envFile)}; set +a; npx cosell-bridge serve`,
      "Ctrl-C stops them.",
      "",
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await sandbox.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`npm run sandbox failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
