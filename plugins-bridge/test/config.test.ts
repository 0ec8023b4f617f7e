import { parseTokenKey, tokenKeyForms } from "../src/auth/token-vault";
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

  it("keeps history, webhooks and finished create intents 30 days, pruned every hour, unless told otherwise", () => {
    expect(loadConfig(valid).retention).toEqual({ days: 30, intervalMs: 3_600_000 });
    const c = loadConfig({ ...valid, COSELL_RETENTION_DAYS: "7", COSELL_RETENTION_INTERVAL_MINUTES: "15" });
    expect(c.retention).toEqual({ days: 7, intervalMs: 900_000 });
    expect(describeConfig(c)["retention"]).toEqual({ days: 7, intervalMs: 900_000 });
  });

  it.each([
    ["COSELL_RETENTION_DAYS", "0", "1 and 3650"],
    ["COSELL_RETENTION_DAYS", "3651", "1 and 3650"],
    ["COSELL_RETENTION_DAYS", "7d", "1 and 3650"],
    ["COSELL_RETENTION_DAYS", "2.5", "1 and 3650"],
    ["COSELL_RETENTION_INTERVAL_MINUTES", "0", "1 and 10080"],
    ["COSELL_RETENTION_INTERVAL_MINUTES", "10081", "1 and 10080"],
    ["COSELL_RETENTION_INTERVAL_MINUTES", "-1", "1 and 10080"],
  ])("refuses %s=%p, naming the variable", (name, value, range) => {
    expect(problems({ ...valid, [name]: value })).toEqual([`${name} must be a whole number between ${range}, got '${value}'`]);
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
    [{ PC_WEBHOOK_CERT_ORIGINS: "http://evil.example.com" }, /^PC_WEBHOOK_CERT_ORIGINS must use https \(got http:\/\/evil\.example\.com\); plain http is allowed only for a loopback host$/],
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

  describe("COSELL_TOKEN_KEY (the key of the refresh token at rest)", () => {
    const previous = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    it("reads the key and the optional previous key, as key ids only when printed", () => {
      const c = loadConfig({ ...valid, COSELL_TOKEN_KEY_PREVIOUS: previous });
      expect(c.tokenKeys.current.id).toBe(parseTokenKey(valid.COSELL_TOKEN_KEY!).id);
      expect(c.tokenKeys.previous?.id).toBe(parseTokenKey(previous).id);
      expect(describeConfig(c)["tokenKeys"]).toEqual({ current: `[set] key ${c.tokenKeys.current.id}`, previous: `[set] key ${c.tokenKeys.previous!.id}` });
      expect(loadConfig(valid).tokenKeys.previous).toBeUndefined();
    });

    it("is required, and the message says how to generate one", () => {
      const found = problems({ ...valid, COSELL_TOKEN_KEY: undefined });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^COSELL_TOKEN_KEY is required/);
      expect(found[0]).toContain("openssl rand -base64 32");
    });

    it.each([
      ["COSELL_TOKEN_KEY", "a-passphrase-is-not-a-key"],
      ["COSELL_TOKEN_KEY", "c2hvcnQ="],
      ["COSELL_TOKEN_KEY_PREVIOUS", "abcdef"],
    ])("refuses a %s that is not 32 bytes of base64 or hex, without echoing it", (name, value) => {
      const found = problems({ ...valid, [name]: value });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(new RegExp(`^${name} must be 32 random bytes`));
      expect(found[0]).toContain("openssl rand -base64 32");
      expect(found[0]).not.toContain(value);
    });

    it("refuses the same key as current and previous", () => {
      const found = problems({ ...valid, COSELL_TOKEN_KEY_PREVIOUS: parseTokenKey(valid.COSELL_TOKEN_KEY!).material.toString("hex") });
      expect(found).toEqual([expect.stringMatching(/^COSELL_TOKEN_KEY_PREVIOUS is the same key as COSELL_TOKEN_KEY/)]);
    });
  });

  it("needs no PARTNER_CENTER_REFRESH_TOKEN: cosell-bridge login stores one", () => {
    expect(problems({ ...valid, PARTNER_CENTER_REFRESH_TOKEN: undefined })).toEqual([]);
    expect(loadConfig({ ...valid, PARTNER_CENTER_REFRESH_TOKEN: "" }).partnerCenter.refreshToken).toBeUndefined();
  });

  it("allows plain http only for loopback sandbox origins", () => {
    const c = loadConfig({ ...valid, PC_WEBHOOK_CERT_ORIGINS: "http://127.0.0.1:7071", BRIDGE_PUBLIC_URL: "http://127.0.0.1:7070" });
    expect(c.partnerCenter.certificateOrigins).toEqual(["http://127.0.0.1:7071"]);
  });

  // Each of these is sent a client secret, a refresh token or a bearer token.
  const SECRET_BEARING_URLS = ["DATAVERSE_URL", "PARTNER_CENTER_API_URL", "PARTNER_CENTER_WEBHOOKS_URL", "ENTRA_LOGIN_URL"] as const;

  it.each(SECRET_BEARING_URLS)("refuses plain http for %s on a host that is not loopback, naming it", (name) => {
    const found = problems({ ...valid, [name]: "http://contoso.crm.dynamics.com/" });
    expect(found).toEqual([`${name} must use https (got http://contoso.crm.dynamics.com); plain http is allowed only for a loopback host`]);
  });

  it("names only the origin of a refused URL, never its credentials or path", () => {
    const found = problems({ ...valid, DATAVERSE_URL: "http://user:hunter2-secret@contoso.crm.dynamics.com/api?key=k3y" });
    expect(found).toEqual(["DATAVERSE_URL must use https (got http://contoso.crm.dynamics.com); plain http is allowed only for a loopback host"]);
  });

  it.each(["http://localhost:7072", "http://127.0.0.1:7072", "http://127.8.9.10:7072", "http://[::1]:7072", "http://LOCALHOST"])(
    "accepts plain http for every URL the bridge calls or is called on, on the loopback host %s",
    (u) => {
      const c = loadConfig({ ...valid, ...Object.fromEntries(SECRET_BEARING_URLS.map((n) => [n, u])), BRIDGE_PUBLIC_URL: u, PC_WEBHOOK_CERT_ORIGINS: u });
      expect([c.dataverse.url, c.partnerCenter.apiUrl, c.partnerCenter.webhooksUrl, c.loginUrl, c.http.publicUrl]).toEqual(Array(5).fill(u));
      expect(c.partnerCenter.certificateOrigins).toEqual([new URL(u).origin]);
    },
  );

  it.each(["http://127.0.0.1.nip.io", "http://localhost.example.com", "http://128.0.0.1", "http://[::2]", "http://10.0.0.1"])(
    "does not take %s for loopback",
    (u) => {
      expect(problems({ ...valid, DATAVERSE_URL: u })).toEqual([
        `DATAVERSE_URL must use https (got ${new URL(u).origin}); plain http is allowed only for a loopback host`,
      ]);
    },
  );

  it("reads the outbound proxy, refuses a bad one naming the variable, and never prints its password", () => {
    const c = loadConfig({ ...valid, HTTPS_PROXY: "http://svc:proxy-pass-123@proxy.contoso.com:3128", NO_PROXY: ".contoso.com" });
    expect(c.outboundProxy).toEqual({ httpsProxy: "http://svc:proxy-pass-123@proxy.contoso.com:3128", noProxy: ".contoso.com" });
    expect(describeConfig(c)["outboundProxy"]).toEqual({
      httpsProxy: "http://svc:***@proxy.contoso.com:3128",
      noProxy: ".contoso.com",
      routes: {
        dataverse: "via http://svc:***@proxy.contoso.com:3128",
        partnerCenterApi: "via http://svc:***@proxy.contoso.com:3128",
        partnerCenterWebhooks: "via http://svc:***@proxy.contoso.com:3128",
        login: "via http://svc:***@proxy.contoso.com:3128",
        certificateOrigin1: "via http://svc:***@proxy.contoso.com:3128",
      },
    });
    const direct = loadConfig({ ...valid, HTTPS_PROXY: "http://proxy:3128", NO_PROXY: "dynamics.com,login.microsoftonline.com:443" });
    expect(describeConfig(direct)["outboundProxy"]).toMatchObject({ routes: { dataverse: "direct", login: "direct", partnerCenterApi: "via http://proxy:3128" } });
    expect(JSON.stringify(describeConfig(c))).not.toContain("proxy-pass-123");
    expect(configSecrets(c)).toContain("proxy-pass-123");
    expect(loadConfig(valid).outboundProxy).toBeUndefined();
    expect(describeConfig(loadConfig(valid))["outboundProxy"]).toBe("none");
    expect(problems({ ...valid, https_proxy: "proxy.contoso.com:3128" })).toEqual([
      "https_proxy must be a proxy URL like http://proxy.contoso.com:3128 (got proxy.contoso.com:3128)",
    ]);
  });

  it("lists its secrets for the logger and hides them when printed", () => {
    const c = loadConfig(valid);
    expect(configSecrets(c).sort()).toEqual(
      [
        valid.BRIDGE_ADMIN_TOKEN,
        valid.DATAVERSE_CLIENT_SECRET,
        valid.DATAVERSE_WEBHOOK_KEY,
        valid.PARTNER_CENTER_CLIENT_SECRET,
        valid.PARTNER_CENTER_REFRESH_TOKEN,
        ...tokenKeyForms(c.tokenKeys.current),
      ].sort(),
    );
    expect(configSecrets(c)).toContain(valid.COSELL_TOKEN_KEY);
    const printed = JSON.stringify(describeConfig(c));
    for (const s of configSecrets(c)) expect(printed).not.toContain(s);
  });

  it("redacts passwords and secret-looking query parameters from URLs", () => {
    expect(redactUrl("postgres://u:pw@h/db?sslpassword=x&application_name=a")).toBe("postgres://u:***@h/db?sslpassword=***&application_name=a");
  });
});
