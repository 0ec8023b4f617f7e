/**
 * Deployment against the sandbox: two Dataverse emulator instances (staging, production) and the
 * Entra emulator. The managed zip is imported with ImportSolutionAsync, the values are set, the
 * smoke check reads the imported schema back, and production opens only after staging passed.
 */
import { EnvironmentVariable, OPPORTUNITY_COLUMNS, SOLUTION, solutionVersion } from "@cosell/contract";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox/src/dataverse";
import { startIdentityEmulator, type IdentityEmulator } from "@cosell/sandbox/src/identity";
import { DataverseClient } from "../src/deploy/dataverse";
import { deploy, DeployRefusedError } from "../src/deploy/deploy";
import { readLedger } from "../src/deploy/ledger";
import { parseDeploySettings } from "../src/deploy/settings";
import { clientCredentialsTokenSource } from "../src/deploy/token";
import { buildFixture, type BuiltFixture } from "./helpers";

const TENANT = "00000000-0000-0000-0000-0000000000aa";
const APP = { clientId: "22222222-3333-4444-5555-666666666666", clientSecret: "deploy-secret-never-logged" };

let identity: IdentityEmulator;
let staging: DataverseEmulator;
let production: DataverseEmulator;
let fx: BuiltFixture;
let work: string;

beforeAll(async () => {
  identity = await startIdentityEmulator();
  identity.tokens.registerClient({ ...APP, tenantId: TENANT, displayName: "cosell-deploy" });
  staging = await startDataverseEmulator({ tokens: identity.tokens, organizationName: "staging" });
  production = await startDataverseEmulator({ tokens: identity.tokens, organizationName: "production" });
  for (const dv of [staging, production]) dv.registerApplicationUser({ applicationId: APP.clientId, fullName: "# cosell-deploy", roles: ["System Administrator"] });
  fx = buildFixture();
  work = mkdtempSync(path.join(os.tmpdir(), "cosell-deploy-emu-"));
});
afterAll(async () => {
  await Promise.all([staging?.close(), production?.close(), identity?.close()]);
  fx?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

function clientFor(dv: DataverseEmulator): DataverseClient {
  return new DataverseClient({
    url: dv.url,
    token: clientCredentialsTokenSource({ loginUrl: identity.url, tenantId: TENANT, clientId: APP.clientId, clientSecret: APP.clientSecret, resource: dv.url }),
  });
}

async function run(env: "staging" | "production", dv: DataverseEmulator) {
  const settings = parseDeploySettings(
    {
      environment: env,
      dataverseUrl: dv.url,
      tenantId: TENANT,
      clientId: APP.clientId,
      clientSecretEnv: "COSELL_DEPLOY_CLIENT_SECRET",
      loginUrl: identity.url,
      environmentVariables: { [EnvironmentVariable.bridgeUrl]: `https://bridge-${env}.example.com`, [EnvironmentVariable.syncCoSellOnly]: "yes" },
      pollIntervalSeconds: 0.05,
    },
    `${env}.json`,
  );
  const client = clientFor(dv);
  const log: string[] = [];
  const entry = await deploy({
    settings,
    packageBytes: fx.built.find((b) => b.kind === "managed")!.bytes,
    ledgerFile: path.join(work, "deployments.json"),
    client,
    log: (l) => log.push(l),
  });
  return { entry, log };
}

test("production is refused before staging has passed", async () => {
  await expect(run("production", production)).rejects.toThrow(DeployRefusedError);
});

test("staging then production, through ImportSolutionAsync, with the smoke check", async () => {
  const s = await run("staging", staging);
  expect(s.entry.outcome).toBe("passed");
  expect(s.entry.version).toBe(solutionVersion());
  expect(s.log.join("\n")).toMatch(/import started/);
  expect(s.log).toContain("import completed");

  const p = await run("production", production);
  expect(p.entry.outcome).toBe("passed");
  expect(readLedger(path.join(work, "deployments.json")).map((e) => `${e.environment}:${e.outcome}`)).toEqual(["staging:passed", "production:passed"]);

  // read back independently of the deploy code: the production org holds the production values
  const client = clientFor(production);
  for (const [schema, want] of [
    [EnvironmentVariable.bridgeUrl, "https://bridge-production.example.com"],
    [EnvironmentVariable.syncCoSellOnly, "yes"],
  ] as const) {
    const r = await client.get<{ value: Array<{ environmentvariabledefinition_environmentvariablevalue: Array<{ value: string }> }> }>(
      `environmentvariabledefinitions?$filter=schemaname eq '${schema}'&$select=schemaname&$expand=environmentvariabledefinition_environmentvariablevalue($select=value)`,
    );
    expect(r.value[0]?.environmentvariabledefinition_environmentvariablevalue[0]?.value).toBe(want);
  }
  const attrs = await client.get<{ value: Array<{ LogicalName: string }> }>("EntityDefinitions(LogicalName='opportunity')/Attributes?$select=LogicalName");
  const names = new Set(attrs.value.map((a) => a.LogicalName));
  for (const c of OPPORTUNITY_COLUMNS) expect(names.has(c.logicalName)).toBe(true);
});

test.each(["unmanaged", "managed"] as const)("the %s zip imports into a fresh sandbox with ImportSolution", async (kind) => {
  const dv = await startDataverseEmulator({ tokens: identity.tokens, organizationName: `import-${kind}` });
  try {
    dv.registerApplicationUser({ applicationId: APP.clientId, fullName: "# cosell-deploy", roles: ["System Administrator"] });
    const client = clientFor(dv);
    const zip = fx.built.find((b) => b.kind === kind)!.bytes;
    await client.post("ImportSolution", {
      CustomizationFile: Buffer.from(zip).toString("base64"),
      OverwriteUnmanagedCustomizations: false,
      PublishWorkflows: true,
      ImportJobId: "5d3c4e2a-1b0f-4a9e-8c7d-6e5f4a3b2c1d",
    });
    const solutions = await client.get<{ value: Array<{ version: string; ismanaged: boolean }> }>(
      `solutions?$filter=uniquename eq '${SOLUTION.uniqueName}'&$select=version,ismanaged`,
    );
    expect(solutions.value).toEqual([expect.objectContaining({ version: solutionVersion(), ismanaged: kind === "managed" })]);
    const attrs = await client.get<{ value: Array<{ LogicalName: string }> }>("EntityDefinitions(LogicalName='opportunity')/Attributes?$select=LogicalName");
    const names = new Set(attrs.value.map((a) => a.LogicalName));
    expect(OPPORTUNITY_COLUMNS.filter((c) => !names.has(c.logicalName))).toEqual([]);
  } finally {
    await dv.close();
  }
});
