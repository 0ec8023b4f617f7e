/**
 * The deployment flow end to end over HTTP: MSAL against the sandbox's Entra emulator, the Web API
 * calls against two Dataverse instances (staging, production), the ledger and the production gate.
 */
import { ENVIRONMENT_VARIABLES, EnvironmentVariable, solutionVersion } from "@cosell/contract";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startIdentityEmulator, type IdentityEmulator } from "@cosell/sandbox/src/identity";
import { DataverseClient } from "../src/deploy/dataverse";
import { deploy, DeployRefusedError, SmokeCheckError } from "../src/deploy/deploy";
import { readLedger } from "../src/deploy/ledger";
import { parseDeploySettings, SettingsError, type DeploySettings } from "../src/deploy/settings";
import { clientCredentialsTokenSource } from "../src/deploy/token";
import { startFakeDataverse, type FakeDataverse } from "./fake-dataverse";
import { buildFixture, type BuiltFixture } from "./helpers";

const TENANT = "00000000-0000-0000-0000-0000000000aa";
const CLIENT = { clientId: "11111111-2222-3333-4444-555555555555", clientSecret: "s3cret-never-logged" };

let identity: IdentityEmulator;
let staging: FakeDataverse;
let production: FakeDataverse;
let fx: BuiltFixture;
let work: string;
let managed: Uint8Array;
let unmanaged: Uint8Array;

beforeAll(async () => {
  identity = await startIdentityEmulator();
  identity.tokens.registerClient({ ...CLIENT, tenantId: TENANT });
  staging = await startFakeDataverse(identity.tokens);
  production = await startFakeDataverse(identity.tokens);
  fx = buildFixture();
  managed = fx.built.find((b) => b.kind === "managed")!.bytes;
  unmanaged = fx.built.find((b) => b.kind === "unmanaged")!.bytes;
});
afterAll(async () => {
  await Promise.all([identity?.close(), staging?.close(), production?.close()]);
  fx?.cleanup();
});
beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "cosell-deploy-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function settingsFor(env: "staging" | "production", dv: FakeDataverse, values: Record<string, string> = {}): DeploySettings {
  return parseDeploySettings(
    {
      environment: env,
      dataverseUrl: dv.url,
      tenantId: TENANT,
      clientId: CLIENT.clientId,
      clientSecretEnv: "COSELL_DEPLOY_CLIENT_SECRET",
      loginUrl: identity.url,
      environmentVariables: { [EnvironmentVariable.bridgeUrl]: `https://bridge-${env}.example.com`, ...values },
      pollIntervalSeconds: 0.01,
    },
    `${env}.json`,
  );
}

function clientFor(s: DeploySettings, sleep?: (ms: number) => Promise<void>): DataverseClient {
  return new DataverseClient({
    url: s.dataverseUrl,
    token: clientCredentialsTokenSource({ loginUrl: s.loginUrl, tenantId: s.tenantId, clientId: s.clientId, clientSecret: CLIENT.clientSecret, resource: s.dataverseUrl }),
    ...(sleep ? { sleep } : {}),
  });
}

async function run(env: "staging" | "production", dv: FakeDataverse, zip = managed, values: Record<string, string> = {}) {
  const settings = settingsFor(env, dv, values);
  const log: string[] = [];
  const entry = await deploy({ settings, packageBytes: zip, ledgerFile: path.join(work, "deployments.json"), client: clientFor(settings), log: (l) => log.push(l) });
  return { entry, log };
}

test("staging, then production: both pass, values are set, the ledger records both", async () => {
  const s = await run("staging", staging, managed, { [EnvironmentVariable.checkmark]: "no" });
  expect(s.entry).toMatchObject({ environment: "staging", outcome: "passed", version: solutionVersion() });
  expect(staging.installedVersion()).toBe(solutionVersion());
  expect(staging.values.get(EnvironmentVariable.bridgeUrl)).toBe("https://bridge-staging.example.com");
  expect(staging.values.get(EnvironmentVariable.checkmark)).toBe("no");
  expect(s.log.some((l) => /import \d+%/.test(l))).toBe(true);
  expect(staging.requests.filter((r) => r.startsWith("GET asyncoperations(")).length).toBeGreaterThanOrEqual(2); // polled until done

  const p = await run("production", production);
  expect(p.entry).toMatchObject({ environment: "production", outcome: "passed" });
  expect(production.values.get(EnvironmentVariable.bridgeUrl)).toBe("https://bridge-production.example.com");
  const ledger = readLedger(path.join(work, "deployments.json"));
  expect(ledger.map((e) => [e.environment, e.outcome])).toEqual([
    ["staging", "passed"],
    ["production", "passed"],
  ]);
  expect(ledger[0]!.packageSha256).toBe(ledger[1]!.packageSha256);
  // the secret never reaches the log or the ledger
  expect(JSON.stringify([s.log, p.log, readFileSync(path.join(work, "deployments.json"), "utf8")])).not.toContain(CLIENT.clientSecret);
});

test("production is refused when the package has not passed staging, before any call", async () => {
  const before = production.requests.length;
  await expect(run("production", production)).rejects.toThrow(DeployRefusedError);
  await expect(run("production", production)).rejects.toThrow(/has not passed staging/);
  expect(production.requests.length).toBe(before);
});

test("a staging pass of other bytes with the same version does not open production", async () => {
  await run("staging", staging);
  // Same files, other bytes: a one-byte zip comment (the last two bytes of the end record are the
  // comment length) changes the sha256 and nothing else.
  const other = Buffer.from(managed);
  other[other.length - 2] = 1;
  const patched = Buffer.concat([other, Buffer.from("x")]);
  await expect(run("production", production, patched)).rejects.toThrow(/has not passed staging/);
});

test("the unmanaged package is refused for staging and production", async () => {
  await expect(run("staging", staging, unmanaged)).rejects.toThrow(/managed package/);
});

test("a failed smoke check is recorded and keeps production closed", async () => {
  const fresh = await startFakeDataverse(identity.tokens);
  fresh.dropControl = true;
  try {
    await expect(run("staging", fresh)).rejects.toThrow(SmokeCheckError);
    await expect(run("staging", fresh)).rejects.toThrow(/control cosell_CoSell\.PartnerCenterSection is not registered/);
    const ledger = readLedger(path.join(work, "deployments.json"));
    expect(ledger.every((e) => e.outcome === "failed")).toBe(true);
    expect(ledger[0]!.failure).toMatch(/not registered/);
    await expect(run("production", production)).rejects.toThrow(DeployRefusedError);
  } finally {
    await fresh.close();
  }
});

test("without ImportSolutionAsync the synchronous ImportSolution is used; values the import ignored are set afterwards", async () => {
  const dv = await startFakeDataverse(identity.tokens);
  dv.asyncImportMissing = true;
  dv.ignoreComponentParameters = true;
  try {
    const { entry, log } = await run("staging", dv);
    expect(entry.outcome).toBe("passed");
    expect(dv.requests).toContain("POST ImportSolution");
    expect(log).toContain(`set ${EnvironmentVariable.bridgeUrl}`);
    expect(dv.values.get(EnvironmentVariable.bridgeUrl)).toBe("https://bridge-staging.example.com");
    // variables the settings leave out keep their defaults, which the smoke check accepts
    expect(dv.values.has(EnvironmentVariable.dealValueField)).toBe(false);
  } finally {
    await dv.close();
  }
});

test.each([
  ["-5", [2000, 4000]], // garbage: back-off, not "now"
  ["", [2000, 4000]],
  ["Wed, 25 Nov 2099 10:00:30 GMT", [300_000, 300_000]], // an HTTP-date, capped at 5 minutes
])("service protection: a 429 with Retry-After %p waits %p ms", async (header, expected) => {
  const dv = await startFakeDataverse(identity.tokens);
  const waits: number[] = [];
  try {
    const settings = settingsFor("staging", dv);
    dv.throttleNext = 2;
    dv.throttleRetryAfter = header;
    await clientFor(settings, async (ms) => void waits.push(ms)).get<{ UserId: string }>("WhoAmI");
    expect(waits).toEqual(expected);
  } finally {
    await dv.close();
  }
});

test("service protection: a 429 is retried after Retry-After", async () => {
  const dv = await startFakeDataverse(identity.tokens);
  const waits: number[] = [];
  try {
    const settings = settingsFor("staging", dv);
    dv.throttleNext = 2;
    const me = await clientFor(settings, async (ms) => void waits.push(ms)).get<{ UserId: string }>("WhoAmI");
    expect(me.UserId).toBeTruthy();
    expect(waits).toEqual([1000, 1000]);
  } finally {
    await dv.close();
  }
});

describe("settings", () => {
  const base = { environment: "staging", dataverseUrl: "https://org.crm.dynamics.com", tenantId: "t", clientId: "c", clientSecretEnv: "COSELL_SECRET" };
  test("a Yes/No variable takes yes or no", () => {
    expect(() => parseDeploySettings({ ...base, environmentVariables: { [EnvironmentVariable.checkmark]: "true" } }, "s.json")).toThrow(
      /environmentVariables\.cosell_Checkmark: a Yes\/No variable takes "yes" or "no"/,
    );
  });
  test("only the solution's variables may be set", () => {
    expect(() => parseDeploySettings({ ...base, environmentVariables: { cosell_Nope: "x" } }, "s.json")).toThrow(SettingsError);
  });
  test("no secret in the file, and plain http only for a local sandbox", () => {
    expect(() => parseDeploySettings({ ...base, clientSecret: "x" }, "s.json")).toThrow(/clientSecret/);
    expect(() => parseDeploySettings({ ...base, dataverseUrl: "http://org.crm.dynamics.com" }, "s.json")).toThrow(/https/);
    expect(parseDeploySettings({ ...base, dataverseUrl: "http://127.0.0.1:7072" }, "s.json").dataverseUrl).toBe("http://127.0.0.1:7072");
  });
  test("every variable of the contract can be given", () => {
    const all = Object.fromEntries(ENVIRONMENT_VARIABLES.map((v) => [v.schemaName, v.type === 100000002 ? "yes" : "x"]));
    expect(Object.keys(parseDeploySettings({ ...base, environmentVariables: all }, "s.json").environmentVariables)).toHaveLength(ENVIRONMENT_VARIABLES.length);
  });
});
