import { ConfigError, configSecrets, describeConfig, loadConfig, redactUrl } from "../src/config";
import { VALID_ENV } from "./config-fixtures";

const valid: Record<string, string> = { ...VALID_ENV };

const problems = (env: Record<string, string | undefined>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
};

describe("bridge configuration", () => {
  it("reads a valid environment with its defaults", () => {
    const c = loadConfig(valid);
    expect(c.dataverse.url).toBe("https://contoso.crm.dynamics.com");
    expect(c.http.port).toBe(7070);
    expect(c.store).toEqual({ kind: "sqlite", path: "./data/cosell-bridge.sqlite" });
    expect(c.partnerCenter.certificateOrigins).toEqual(["https://3psostorageacct.blob.core.windows.net"]);
    expect(c.jobLeaseMs).toBe(60_000);
    expect(c.backoff).toEqual({ baseMs: 1_000, maxMs: 900_000 });
  });

  it.each([
    ["900", { baseMs: 1_000, maxMs: 900_000 }],
    ["3", { baseMs: 1_000, maxMs: 3_000 }],
    ["1", { baseMs: 1_000, maxMs: 1_000 }],
    ["86400", { baseMs: 1_000, maxMs: 86_400_000 }],
    [" 60 ", { baseMs: 1_000, maxMs: 60_000 }],
    ["", { baseMs: 1_000, maxMs: 900_000 }],
  ])("reads SYNC_BACKOFF_MAX_SECONDS=%p as the retry backoff's ceiling", (value, backoff) => {
    const c = loadConfig({ ...valid, SYNC_BACKOFF_MAX_SECONDS: value });
    expect(c.backoff).toEqual(backoff);
    expect(describeConfig(c)["backoff"]).toEqual(backoff);
  });

  it.each(["0", "-5", "1.5", "86401", "15m", "abc"])("refuses SYNC_BACKOFF_MAX_SECONDS=%p, naming the variable", (value) => {
    const found = problems({ ...valid, SYNC_BACKOFF_MAX_SECONDS: value });
    expect(found).toEqual([`SYNC_BACKOFF_MAX_SECONDS must be a whole number between 1 and 86400, got '${value}'`]);
  });

  it("uses PostgreSQL when DATABASE_URL is set, with its schema", () => {
    const c = loadConfig({ ...valid, DATABASE_URL: "postgres://u:pw@db/cosell", DATABASE_SCHEMA: "bridge_a" });
    expect(c.store).toEqual({ kind: "postgres", connectionString: "postgres://u:pw@db/cosell", schema: "bridge_a" });
    expect(JSON.stringify(describeConfig(c))).not.toContain(":pw@");
  });

  it.each([
    [{ DATAVERSE_URL: undefined }, /^DATAVERSE_URL is required$/],
    [{ DATAVERSE_URL: "contoso" }, /^DATAVERSE_URL must be an absolute http\(s\) URL/],
    [{ BRIDGE_ADMIN_TOKEN: "short" }, /^BRIDGE_ADMIN_TOKEN must be at least 24 characters/],
    [{ BRIDGE_PORT: "70000" }, /^BRIDGE_PORT must be a whole number between 0 and 65535, got '70000'$/],
    [{ BRIDGE_JOB_LEASE_SECONDS: "1" }, /^BRIDGE_JOB_LEASE_SECONDS must be a whole number between 2 and 3600/],
    [{ DATABASE_URL: "mysql://x" }, /^DATABASE_URL must be a postgres:\/\/ connection string$/],
    [{ DATABASE_SCHEMA: "Drop Table" }, /^DATABASE_SCHEMA must be a lower-case PostgreSQL schema name/],
    [{ PC_WEBHOOK_CERT_ORIGINS: "https://host/path" }, /is not an origin/],
    [{ PC_WEBHOOK_CERT_ORIGINS: "http://evil.example.com" }, /must use https \(only loopback sandbox origins may use http\)/],
    [{ BRIDGE_PUBLIC_URL: "http://bridge.example.com" }, /^BRIDGE_PUBLIC_URL must use https/],
    [{ LOG_LEVEL: "verbose" }, /^LOG_LEVEL /],
    [{ PARTNER_CENTER_REFERRAL_LINK: "https://x/referrals" }, /must contain \{id\}/],
  ])("refuses %p with a message naming the variable", (change, message) => {
    const found = problems({ ...valid, ...change });
    expect(found.some((p) => message.test(p))).toBe(true);
  });

  it("reports every mistake at once and never echoes a secret", () => {
    const found = problems({ ...valid, DATAVERSE_CLIENT_SECRET: "", PARTNER_CENTER_CLIENT_SECRET: "", BRIDGE_ADMIN_TOKEN: "tiny-secret" });
    expect(found).toHaveLength(3);
    expect(found.join("\n")).not.toContain("tiny-secret");
  });

  it("needs no PARTNER_CENTER_REFRESH_TOKEN: cosell-bridge login stores one", () => {
    expect(problems({ ...valid, PARTNER_CENTER_REFRESH_TOKEN: undefined })).toEqual([]);
    expect(loadConfig({ ...valid, PARTNER_CENTER_REFRESH_TOKEN: "" }).partnerCenter.refreshToken).toBeUndefined();
  });

  it("allows plain http only for loopback sandbox origins", () => {
    const c = loadConfig({ ...valid, PC_WEBHOOK_CERT_ORIGINS: "http://127.0.0.1:7071", BRIDGE_PUBLIC_URL: "http://127.0.0.1:7070" });
    expect(c.partnerCenter.certificateOrigins).toEqual(["http://127.0.0.1:7071"]);
  });

  it("lists its secrets for the logger and hides them when printed", () => {
    const c = loadConfig(valid);
    expect(configSecrets(c).sort()).toEqual(
      [valid.BRIDGE_ADMIN_TOKEN, valid.DATAVERSE_CLIENT_SECRET, valid.DATAVERSE_WEBHOOK_KEY, valid.PARTNER_CENTER_CLIENT_SECRET, valid.PARTNER_CENTER_REFRESH_TOKEN].sort(),
    );
    const printed = JSON.stringify(describeConfig(c));
    for (const s of configSecrets(c)) expect(printed).not.toContain(s);
  });

  it("redacts passwords and secret-looking query parameters from URLs", () => {
    expect(redactUrl("postgres://u:pw@h/db?sslpassword=x&application_name=a")).toBe("postgres://u:***@h/db?sslpassword=***&application_name=a");
  });
});
