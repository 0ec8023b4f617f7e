/**
 * The Partner Center refresh token at rest (issue 14), on both engines: what the store's row holds
 * (read raw, around the Store interface), the migration from plain text, a key rotation, and the
 * starts that must be refused without touching the store. PostgreSQL at 127.0.0.1:5432, database
 * `test`, one schema for this file, dropped afterwards; unreachable is a failure, not a skip.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import { Client } from "pg";
import { startIdentityEmulator, type IdentityEmulator } from "@cosell/sandbox/src/identity";
import { REFRESH_TOKEN_CURSOR, REFRESH_TOKEN_PURPOSE, StoredRefreshTokens } from "../src/auth/stored-refresh-token";
import { parseTokenKey, SealedSecretError, tokenKeyForms, TokenVault } from "../src/auth/token-vault";
import { runCli } from "../src/cli/program";
import { loadConfig, type BridgeConfig } from "../src/config";
import { createRuntime } from "../src/engine/runtime";
import { createLogger } from "../src/observability/logger";
import { openStore } from "../src/store";
import { VALID_ENV } from "./config-fixtures";

const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const REFERRALS = "https://api.partner.microsoft.com";
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const KEY_A = randomBytes(32).toString("base64");
const KEY_B = randomBytes(32).toString("hex");
const vaultA = new TokenVault({ current: parseTokenKey(KEY_A) });
const vaultB = new TokenVault({ current: parseTokenKey(KEY_B) });

interface Engine {
  readonly name: "sqlite" | "postgres";
  /** The environment of a fresh, empty store. */
  fresh(): Promise<Record<string, string>>;
  /** The cursor row's value exactly as the database holds it. */
  raw(): Promise<string | undefined>;
  teardown(): Promise<void>;
}

function sqliteEngine(): Engine {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-token-"));
  let file = "";
  let n = 0;
  return {
    name: "sqlite",
    fresh: async () => {
      file = path.join(dir, `bridge-${++n}.sqlite`);
      return { BRIDGE_SQLITE_PATH: file };
    },
    raw: async () => {
      const db = new Database(file, { readonly: true });
      try {
        const row = db.prepare("SELECT value FROM cursors WHERE name = ?").get(REFRESH_TOKEN_CURSOR) as { value: string } | undefined;
        return row?.value;
      } finally {
        db.close();
      }
    },
    teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresEngine(): Engine {
  const schema = `cosell_token_${Math.random().toString(36).slice(2, 10)}`;
  let client: Client | undefined;
  const connected = async () => {
    if (!client) {
      client = new Client({ connectionString: PG_URL });
      await client.connect();
    }
    return client;
  };
  return {
    name: "postgres",
    fresh: async () => {
      const c = await connected();
      const exists = await c.query("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'cursors'", [schema]);
      if (exists.rowCount) await c.query(`DELETE FROM "${schema}".cursors`);
      return { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema };
    },
    raw: async () => {
      const r = await (await connected()).query<{ value: string }>(`SELECT value FROM "${schema}".cursors WHERE name = $1`, [REFRESH_TOKEN_CURSOR]);
      return r.rows[0]?.value;
    },
    teardown: async () => {
      if (client) {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
    },
  };
}

describe.each([["sqlite", sqliteEngine], ["postgres", postgresEngine]] as const)("the refresh token at rest on %s", (_name, make) => {
  let engine: Engine;
  let idp: IdentityEmulator;
  let env: Record<string, string>;
  const lines: string[] = [];
  const log = () => createLogger({ level: "info", destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString("utf8")), done()) }) });

  beforeAll(async () => {
    engine = make();
    idp = await startIdentityEmulator();
    idp.tokens.registerClient({ clientId: "bridge", clientSecret: "bridge-secret", tenantId: "t1", objectId: "sp-1" });
  });
  afterAll(async () => {
    await engine?.teardown();
    await idp?.close();
  });
  beforeEach(async () => {
    lines.length = 0;
    const refreshToken = idp.tokens.issueRefreshToken("bridge", { objectId: "u1", userPrincipalName: "referrals@partner.example", displayName: "Referrals", tenantId: "t1" });
    env = {
      ...VALID_ENV,
      ENTRA_LOGIN_URL: idp.url,
      PARTNER_CENTER_TENANT_ID: "t1",
      PARTNER_CENTER_CLIENT_ID: "bridge",
      PARTNER_CENTER_CLIENT_SECRET: "bridge-secret",
      PARTNER_CENTER_REFRESH_TOKEN: refreshToken,
      COSELL_TOKEN_KEY: KEY_A,
      ...(await engine.fresh()),
    };
  });

  const config = (change: Record<string, string | undefined> = {}): BridgeConfig => loadConfig({ ...env, ...change });
  /** Writes a value into the store as an older bridge (or another key) left it. */
  const seed = async (value: string) => {
    const store = await openStore(config().store);
    try {
      await store.setCursor(REFRESH_TOKEN_CURSOR, value);
    } finally {
      await store.close();
    }
  };
  const start = (change: Record<string, string | undefined> = {}) => createRuntime(config(change), { log: log() });
  const record = (sealed: string, vault = vaultA) => JSON.parse(vault.open(sealed, REFRESH_TOKEN_PURPOSE, "test").plaintext) as { configured: string; token: string };

  it("keeps a rotated token encrypted with COSELL_TOKEN_KEY: the row holds neither the token nor the configured one", async () => {
    const rt = await start();
    try {
      await rt.partnerCenterTokens.getToken(REFERRALS);
    } finally {
      await rt.close();
    }
    const raw = await engine.raw();
    expect(raw).toBeDefined();
    expect(JSON.parse(raw!)).toMatchObject({ v: 1, alg: "A256GCM", kid: parseTokenKey(KEY_A).id });
    const stored = record(raw!);
    expect(stored.token).toMatch(/^0\.sandbox\./);
    expect(stored.token).not.toBe(env.PARTNER_CENTER_REFRESH_TOKEN);
    expect(stored.configured).toBe(sha256(env.PARTNER_CENTER_REFRESH_TOKEN!));
    for (const secret of [stored.token, env.PARTNER_CENTER_REFRESH_TOKEN!, stored.configured]) {
      expect(raw).not.toContain(secret);
      expect(raw).not.toContain(Buffer.from(secret).toString("base64"));
    }
    // The next start signs in with the stored, rotated token.
    idp.tokens.revokeRefreshToken(env.PARTNER_CENTER_REFRESH_TOKEN!);
    const again = await start();
    try {
      await expect(again.partnerCenterTokens.getToken(REFERRALS)).resolves.toEqual(expect.any(String));
    } finally {
      await again.close();
    }
  });

  it("encrypts a plain-text token an older bridge stored, on start, and signs in with it", async () => {
    const legacy = { configured: sha256(env.PARTNER_CENTER_REFRESH_TOKEN!), token: `legacy-rotated-${randomBytes(16).toString("hex")}` };
    await seed(JSON.stringify(legacy));
    const rt = await start();
    await rt.close();
    const raw = await engine.raw();
    expect(raw).not.toContain(legacy.token);
    expect(JSON.parse(raw!)).toMatchObject({ v: 1, kid: parseTokenKey(KEY_A).id });
    expect(record(raw!)).toEqual(legacy);
    const info = lines.join("");
    expect(info).toMatch(/was in plain text: now encrypted with COSELL_TOKEN_KEY/);
    for (const s of [legacy.token, ...tokenKeyForms(parseTokenKey(KEY_A))]) expect(info).not.toContain(s);
    // What the start reads from it: the stored token (the configured one has not changed).
    const store = await openStore(config().store);
    try {
      await expect(new StoredRefreshTokens(store, vaultA, env.PARTNER_CENTER_REFRESH_TOKEN!).load()).resolves.toMatchObject({ refreshToken: legacy.token });
    } finally {
      await store.close();
    }
  });

  it("prefers a newly configured token over the stored one, still encrypted", async () => {
    const store = await openStore(config().store);
    try {
      await new StoredRefreshTokens(store, vaultA, "an-old-configured-token").save("rotated-from-the-old-one");
      await expect(new StoredRefreshTokens(store, vaultA, env.PARTNER_CENTER_REFRESH_TOKEN!).load()).resolves.toMatchObject({ refreshToken: env.PARTNER_CENTER_REFRESH_TOKEN });
    } finally {
      await store.close();
    }
  });

  it("re-encrypts a token sealed with COSELL_TOKEN_KEY_PREVIOUS with the current key, on start", async () => {
    const stored = { configured: sha256(env.PARTNER_CENTER_REFRESH_TOKEN!), token: `rotated-${randomBytes(16).toString("hex")}` };
    await seed(vaultB.seal(JSON.stringify(stored), REFRESH_TOKEN_PURPOSE));
    await (await start({ COSELL_TOKEN_KEY: KEY_A, COSELL_TOKEN_KEY_PREVIOUS: KEY_B })).close();
    const raw = await engine.raw();
    expect(JSON.parse(raw!)).toMatchObject({ kid: parseTokenKey(KEY_A).id });
    expect(record(raw!)).toEqual(stored);
    expect(lines.join("")).toMatch(/encrypted with COSELL_TOKEN_KEY_PREVIOUS: now with COSELL_TOKEN_KEY/);
    // The old key can go now.
    await (await start({ COSELL_TOKEN_KEY: KEY_A })).close();
  });

  it("refuses to start with another key, naming COSELL_TOKEN_KEY, and changes nothing", async () => {
    const sealed = vaultB.seal(JSON.stringify({ configured: sha256(env.PARTNER_CENTER_REFRESH_TOKEN!), token: "t-0123456789" }), REFRESH_TOKEN_PURPOSE);
    await seed(sealed);
    const refused = start({ COSELL_TOKEN_KEY: KEY_A });
    await expect(refused).rejects.toThrow(SealedSecretError);
    await expect(refused).rejects.toThrow(/encrypted with key [0-9a-f]{8}, but COSELL_TOKEN_KEY is key/);
    await expect(refused).rejects.not.toThrow(/bad decrypt/i);
    expect(await engine.raw()).toBe(sealed);
  });

  it("refuses to start on a tampered value and changes nothing", async () => {
    const e = JSON.parse(vaultA.seal(JSON.stringify({ configured: "x", token: "t-0123456789" }), REFRESH_TOKEN_PURPOSE)) as Record<string, string>;
    const ct = Buffer.from(e["ct"]!, "base64url");
    ct[3] = (ct[3] ?? 0) ^ 0x20;
    const tampered = JSON.stringify({ ...e, ct: ct.toString("base64url") });
    await seed(tampered);
    await expect(start()).rejects.toThrow(/cannot be decrypted: it does not authenticate under key .* \(COSELL_TOKEN_KEY\)/);
    expect(await engine.raw()).toBe(tampered);
  });

  it("cosell-bridge exits 2 with a clear message when the token is encrypted and no key or a wrong key is set, and changes nothing", async () => {
    const sealed = vaultA.seal(JSON.stringify({ configured: sha256(env.PARTNER_CENTER_REFRESH_TOKEN!), token: "t-0123456789" }), REFRESH_TOKEN_PURPOSE);
    await seed(sealed);
    const run = async (e: Record<string, string>) => {
      let err = "";
      const code = await runCli(["status"], { env: e, out: () => undefined, err: (s) => void (err += s) });
      return { code, err };
    };
    const { COSELL_TOKEN_KEY: _key, ...withoutKey } = env;
    const none = await run(withoutKey);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/COSELL_TOKEN_KEY is required/);
    expect(none.err).toContain("openssl rand -base64 32");
    const wrong = await run({ ...env, COSELL_TOKEN_KEY: KEY_B });
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/COSELL_TOKEN_KEY is key/);
    expect(wrong.err).not.toMatch(/\n\s+at |bad decrypt/i);
    expect(wrong.err).not.toContain(KEY_B);
    expect(await engine.raw()).toBe(sealed);
  });
});
