/**
 * A mistake in the configuration or the mapping file is refused at start, with the reason, before
 * anything listens or is written: `cosell-bridge serve` run as a child process, exit code and
 * message checked. No stack trace, no secret value in the output. A control run with the same
 * environment and a correct mapping starts, so each refusal is down to the one mistake made.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BridgeProcess, runCli, type CliResult } from "./support/bridge-process";
import { findSecrets, SECRET_VARIABLES } from "./support/secrets";

let dir: string;
let base: Record<string, string>;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-startup-"));
  base = {
    BRIDGE_PORT: "0",
    BRIDGE_HOST: "127.0.0.1",
    BRIDGE_INSTANCE_ID: "startup-validation",
    BRIDGE_ADMIN_TOKEN: "admin-token-startup-0123456789abcdef",
    BRIDGE_SQLITE_PATH: path.join(dir, "bridge.sqlite"),
    // Nothing listens there: nothing in these tests may get as far as calling a service.
    DATAVERSE_URL: "http://127.0.0.1:9",
    DATAVERSE_TENANT_ID: "00000000-0000-4000-8000-000000000001",
    DATAVERSE_CLIENT_ID: "00000000-0000-4000-8000-000000000002",
    DATAVERSE_CLIENT_SECRET: "dataverse-client-secret-startup-0123456789",
    DATAVERSE_WEBHOOK_KEY: "dataverse-webhook-key-startup-0123456789",
    PARTNER_CENTER_TENANT_ID: "00000000-0000-4000-8000-000000000003",
    PARTNER_CENTER_CLIENT_ID: "00000000-0000-4000-8000-000000000004",
    PARTNER_CENTER_CLIENT_SECRET: "partner-center-client-secret-startup-0123",
    PARTNER_CENTER_REFRESH_TOKEN: "partner-center-refresh-token-startup-0123456789",
    // Test-only key (32 bytes, hex).
    COSELL_TOKEN_KEY: "5374617274757056616c69646174696f6e2d746573742d6f6e6c792d6b657921",
    ENTRA_LOGIN_URL: "http://127.0.0.1:9",
    RECONCILE_INTERVAL_SECONDS: "0",
    LOG_LEVEL: "warn",
  };
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function mappingFile(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

interface Case {
  readonly what: string;
  readonly env: () => Record<string, string | undefined>;
  readonly reasons: readonly RegExp[];
  /** Values that must not be echoed. */
  readonly hidden?: readonly string[];
}

const CASES: readonly Case[] = [
  { what: "a mapping file that is not JSON", env: () => ({ MAPPING_FILE: mappingFile("broken.json", '{ "opportunity": { "fields": ') }), reasons: [/mapping file .*broken\.json/, /is not valid JSON/] },
  { what: "a mapping file that is a JSON list", env: () => ({ MAPPING_FILE: mappingFile("list.json", "[]") }), reasons: [/list\.json/, /must be a JSON object/] },
  { what: "a mapping file that does not exist", env: () => ({ MAPPING_FILE: path.join(dir, "missing.json") }), reasons: [/missing\.json/, /cannot be read/] },
  {
    what: "a mapping with an unknown direction and an unknown transform",
    env: () => ({ MAPPING_FILE: mappingFile("wrong.json", JSON.stringify({ opportunity: { fields: { dealValue: { direction: "sideways" }, notes: { transform: { type: "uppercase" } } } } })) }),
    reasons: [/2 problems/, /dealValue\.direction/, /"both"\|"pc-to-crm"\|"crm-to-pc"/, /notes\.transform\.type/],
  },
  {
    what: "a mapping where two fields write one column",
    env: () => ({ MAPPING_FILE: mappingFile("twice.json", JSON.stringify({ opportunity: { fields: { notes: { dataverse: "name" } } } })) }),
    reasons: [/1 problem/, /opportunity\.fields\.notes\.dataverse: column name is also written by opportunity\.name/],
  },
  {
    what: "eight mistakes in the environment at once (one line each)",
    env: () => ({
      DATAVERSE_URL: undefined,
      BRIDGE_ADMIN_TOKEN: "tooShortAdmin17c",
      DATAVERSE_WEBHOOK_KEY: "shortWebhookKey9",
      PC_WEBHOOK_CERT_ORIGINS: "https://certificates.example.com/path/cert.cer",
      DATABASE_URL: "mysql://bridge:dbPassw0rdHidden@db.example.com/cosell",
      RECONCILE_INTERVAL_SECONDS: "soon",
      LOG_LEVEL: "loud",
      PARTNER_CENTER_REFERRAL_LINK: "https://partner.example.com/referrals",
    }),
    reasons: [
      /DATAVERSE_URL is required/,
      /BRIDGE_ADMIN_TOKEN must be at least 24 characters/,
      /DATAVERSE_WEBHOOK_KEY must be at least 24 characters/,
      /PC_WEBHOOK_CERT_ORIGINS .*is not an origin/,
      /DATABASE_URL must be a postgres:\/\/ connection string/,
      /RECONCILE_INTERVAL_SECONDS must be a whole number between 0 and 86400/,
      /LOG_LEVEL/,
      /PARTNER_CENTER_REFERRAL_LINK must contain \{id\}/,
    ],
    hidden: ["tooShortAdmin17c", "shortWebhookKey9", "dbPassw0rdHidden"],
  },
  {
    what: "plain http where the services need https (public URL, certificate origin, Dataverse, Entra ID)",
    env: () => ({
      BRIDGE_PUBLIC_URL: "http://bridge.example.com",
      PC_WEBHOOK_CERT_ORIGINS: "http://certificates.example.com",
      DATAVERSE_URL: "http://contoso.crm.dynamics.com",
      ENTRA_LOGIN_URL: "http://login.example.com",
    }),
    reasons: [
      /BRIDGE_PUBLIC_URL must use https/,
      /PC_WEBHOOK_CERT_ORIGINS must use https \(got http:\/\/certificates\.example\.com\)/,
      /DATAVERSE_URL must use https \(got http:\/\/contoso\.crm\.dynamics\.com\); plain http is allowed only for a loopback host/,
      /ENTRA_LOGIN_URL must use https \(got http:\/\/login\.example\.com\)/,
    ],
  },
  {
    what: "no COSELL_TOKEN_KEY (the refresh token is kept encrypted)",
    env: () => ({ COSELL_TOKEN_KEY: undefined }),
    reasons: [/COSELL_TOKEN_KEY is required/, /openssl rand -base64 32/],
  },
  {
    what: "a COSELL_TOKEN_KEY that is a passphrase, not 32 bytes",
    env: () => ({ COSELL_TOKEN_KEY: "myPassphraseHidden2026" }),
    reasons: [/COSELL_TOKEN_KEY must be 32 random bytes/, /openssl rand -base64 32/],
    hidden: ["myPassphraseHidden2026"],
  },
  { what: "a job lease too short", env: () => ({ BRIDGE_JOB_LEASE_SECONDS: "1" }), reasons: [/BRIDGE_JOB_LEASE_SECONDS must be a whole number between 2 and 3600/] },
];

describe("cosell-bridge serve refuses to start on", () => {
  let results: Map<string, CliResult>;

  beforeAll(async () => {
    // All at once: each is a short-lived process that must stop by itself.
    const runs = await Promise.all(
      CASES.map(async (c) => {
        const env: Record<string, string> = { ...base };
        for (const [k, v] of Object.entries(c.env())) {
          if (v === undefined) delete env[k];
          else env[k] = v;
        }
        return [c.what, await runCli(["serve"], env, { timeoutMs: 90_000 })] as const;
      }),
    );
    results = new Map(runs);
  }, 120_000);

  it.each(CASES.map((c) => [c.what, c] as const))("%s: exit code 2 and the reason, nothing started", (_what, c) => {
    const r = results.get(c.what) as CliResult;
    const output = `${r.stdout}\n${r.stderr}`;
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
    for (const reason of c.reasons) expect(output).toMatch(reason);
    expect(output).not.toMatch(/listening on/);
    expect(output).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack trace
    const secrets = [...SECRET_VARIABLES.map((name) => ({ name, value: base[name] as string })), ...(c.hidden ?? []).map((v) => ({ name: "the wrong value itself", value: v }))];
    expect(findSecrets(output, secrets)).toEqual([]);
  });

  it("the same environment with a correct mapping file starts (the control)", async () => {
    const bridge = new BridgeProcess({
      name: "control",
      env: { ...base, MAPPING_FILE: mappingFile("fine.json", JSON.stringify({ opportunity: { fields: { notes: { conflict: { policy: "pc-wins" } } } } })) },
      logFile: path.join(dir, "control.log"),
    });
    try {
      const url = await bridge.start();
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await bridge.stop();
    }
  }, 90_000);

  it("other commands refuse a bad configuration the same way", async () => {
    const env: Record<string, string> = { ...base };
    delete env.DATAVERSE_URL;
    const r = await runCli(["status"], env, { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DATAVERSE_URL is required/);
  }, 90_000);
});
