/**
 * `npm run deploy -w solution -- --env staging|production`: imports dist/PartnerCenterCoSell_managed.zip
 * with the settings of solution/settings/<env>.json, smoke-checks it and records it in the ledger.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describeProxy, describeRoutes, proxySettingsFromEnv } from "@cosell/bridge/src/http/proxy";
import { Command, Option } from "commander";
import { REPO_ROOT } from "../inputs";
import { PACKAGE_FILE_NAMES } from "../package";
import { DataverseClient } from "../deploy/dataverse";
import { deploy } from "../deploy/deploy";
import { DEPLOY_ENVIRONMENTS, readDeploySettings, type DeployEnvironment } from "../deploy/settings";
import { clientCredentialsTokenSource } from "../deploy/token";

const program = new Command()
  .name("deploy")
  .addOption(new Option("--env <environment>", "where to deploy").choices(DEPLOY_ENVIRONMENTS).makeOptionMandatory())
  .option("--settings <file>", "settings file (default solution/settings/<env>.json)")
  .option("--package <zip>", "managed package", path.join(REPO_ROOT, "dist", PACKAGE_FILE_NAMES.managed))
  .option("--ledger <file>", "deployment ledger", path.join(REPO_ROOT, "solution", "deployments.json"))
  .parse();

const opts = program.opts<{ env: DeployEnvironment; settings?: string; package: string; ledger: string }>();

async function main(): Promise<void> {
  const settingsFile = opts.settings ?? path.join(REPO_ROOT, "solution", "settings", `${opts.env}.json`);
  const settings = readDeploySettings(settingsFile, opts.env);
  const secret = process.env[settings.clientSecretEnv];
  if (!secret) throw new Error(`the client secret is not set: export ${settings.clientSecretEnv} (named by clientSecretEnv in ${path.relative(process.cwd(), settingsFile)})`);
  let packageBytes: Uint8Array;
  try {
    packageBytes = readFileSync(opts.package);
  } catch (err) {
    throw new Error(`${opts.package} not found: run \`npm run pack\` first`, { cause: err });
  }
  // A malformed HTTPS_PROXY / HTTP_PROXY stops here, naming the variable, before anything is sent.
  const proxy = proxySettingsFromEnv();
  if (proxy)
    console.log(
      `outbound proxy: ${JSON.stringify({ ...describeProxy(proxy), routes: describeRoutes({ login: settings.loginUrl, dataverse: settings.dataverseUrl }, proxy) })}`,
    );
  const client = new DataverseClient({
    url: settings.dataverseUrl,
    token: clientCredentialsTokenSource({
      loginUrl: settings.loginUrl,
      tenantId: settings.tenantId,
      clientId: settings.clientId,
      clientSecret: secret,
      resource: settings.dataverseUrl,
    }),
  });
  const stamp = () => new Date().toISOString().slice(11, 19);
  await deploy({
    settings,
    packageBytes,
    ledgerFile: opts.ledger,
    client,
    log: (line) => console.log(`${stamp()} ${line}`),
  });
}

main().catch((err: unknown) => {
  console.error(`deploy failed: ${(err as Error).message}`);
  process.exit(1);
});
