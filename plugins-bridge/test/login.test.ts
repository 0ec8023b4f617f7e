/**
 * `cosell-bridge login` end to end against the sandbox: the command runs in-process, the sign-in is
 * approved (or not) through the Entra emulator's control as the person at the browser would, and
 * the bridge then calls Partner Center with what was stored. Partner Center refuses App+User tokens
 * without MFA, so the refusals here are the ones an admin meets for real.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BRIDGE_CLIENT_ID, REFERRALS_ADMIN, startSandbox, type Sandbox } from "@cosell/sandbox/src/compose";
import { runCli } from "../src/cli/program";
import { loadConfig } from "../src/config";
import { createRuntime } from "../src/engine/runtime";
import { StoredRefreshTokens } from "../src/auth/stored-refresh-token";
import { TokenVault } from "../src/auth/token-vault";
import { createLogger } from "../src/observability/logger";
import { openStore } from "../src/store";

jest.setTimeout(60_000);

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

describe("cosell-bridge login", () => {
  let sandbox: Sandbox;
  let dir: string;
  let referralId: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ ports: { identity: 0, partnerCenter: 0, dataverse: 0 }, signIns: { deviceCodeIntervalSeconds: 1 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-login-"));
    [referralId] = (await sandbox.seedReferrals()) as [string];
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  /** A bridge environment of its own store, without PARTNER_CENTER_REFRESH_TOKEN (a fresh install) unless given. */
  const environment = (extra: Record<string, string> = {}): Record<string, string> => {
    const env = sandbox.bridgeEnvironment({ port: 0, sqlitePath: path.join(dir, `bridge-${++n}.sqlite`), logLevel: "error" });
    delete env.PARTNER_CENTER_REFRESH_TOKEN;
    return { ...env, ...extra };
  };

  const identityControl = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${sandbox.urls.identity}/_emulator${p}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as Record<string, unknown>;
  };

  /** Runs login; `act` gets what it printed so far (polled) and plays the person at the browser. */
  async function login(env: Record<string, string>, args: string[], act: (printed: () => string) => Promise<void>): Promise<Run> {
    let out = "";
    let err = "";
    const running = runCli(["login", ...args], { env, out: (s) => void (out += s), err: (s) => void (err += s) });
    await act(() => out);
    const code = await running;
    return { code, out, err };
  }

  const waitFor = async <T>(f: () => T | undefined, what: string): Promise<T> => {
    for (let i = 0; i < 200; i++) {
      const v = f();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const userCode = (printed: () => string) => waitFor(() => /enter the code ([A-Z0-9]+)/.exec(printed())?.[1], "the device code");

  const deviceLogin = (env: Record<string, string>, approval: Record<string, unknown> | "decline") =>
    login(env, [], async (printed) => {
      const code = await userCode(printed);
      await identityControl("POST", `/sign-ins/${code}/${approval === "decline" ? "decline" : "approve"}`, approval === "decline" ? undefined : approval);
    });

  const storedToken = async (env: Record<string, string>): Promise<string | undefined> => {
    const config = loadConfig(env);
    const store = await openStore(config.store);
    try {
      return (await new StoredRefreshTokens(store, new TokenVault(config.tokenKeys), undefined).load()).refreshToken;
    } finally {
      await store.close();
    }
  };

  const getReferralWith = async (env: Record<string, string>) => {
    const rt = await createRuntime(loadConfig(env), { log: createLogger({ level: "silent" }) });
    try {
      return await rt.partnerCenterClient.getReferral(referralId);
    } finally {
      await rt.close();
    }
  };

  it("device code approved with MFA: stores the refresh token (never printed) and the bridge calls Partner Center with it", async () => {
    const env = environment();
    await expect(getReferralWith(env)).rejects.toThrow(/not signed in: run cosell-bridge login/);

    const r = await deviceLogin(env, { mfa: true });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/To sign in, use a web browser to open the page \S+\/devicelogin and enter the code/);
    expect(r.out).toContain(`Signed in to Partner Center as ${REFERRALS_ADMIN.userPrincipalName} (tenant ${REFERRALS_ADMIN.tenantId})`);
    expect(r.out).toMatch(/refresh token is stored in the bridge's sqlite store/);

    const token = await storedToken(env);
    expect(token).toEqual(expect.any(String));
    const config = loadConfig(env);
    const store = await openStore(config.store);
    try {
      const stored = new StoredRefreshTokens(store, new TokenVault(config.tokenKeys), config.partnerCenter.refreshToken);
      expect((await stored.storedAt())?.getTime()).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await store.close();
    }
    expect(r.out + r.err).not.toContain(token as string);

    await expect(getReferralWith(env)).resolves.toMatchObject({ id: referralId });
  });

  it("the stored token wins over a configured refresh token from a sign-in without MFA, which Partner Center refuses", async () => {
    const env = environment({ PARTNER_CENTER_REFRESH_TOKEN: sandbox.tokens.issueRefreshToken(BRIDGE_CLIENT_ID, REFERRALS_ADMIN, { mfa: false }) });
    await expect(getReferralWith(env)).rejects.toThrow(/requires multi-factor authentication.*900421.*cosell-bridge login/);
    const r = await deviceLogin(env, {});
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/PARTNER_CENTER_REFRESH_TOKEN is set: remove it/);
    await expect(getReferralWith(env)).resolves.toMatchObject({ id: referralId });
  });

  it.each<[string, Record<string, unknown> | "decline", RegExp]>([
    ["approved without MFA", { mfa: false }, /did not pass multi-factor authentication.*Require MFA for this account.*nothing was stored/s],
    ["a user of another tenant", { userPrincipalName: "someone@fabrikam.example", tenantId: "0f0f0f0f-0000-4000-8000-00000000f0f0" }, /Wrong tenant: someone@fabrikam\.example signed in from tenant 0f0f0f0f-0000-4000-8000-00000000f0f0, but PARTNER_CENTER_TENANT_ID is/],
    ["declined", "decline", /declined at the browser; nothing was stored/],
  ])("refuses a sign-in %s: exit 1, what to do, nothing stored", async (_name, approval, message) => {
    const env = environment();
    const r = await deviceLogin(env, approval);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.out).not.toMatch(/Signed in/);
    expect(await storedToken(env)).toBeUndefined();
  });

  it("without admin consent: says an admin must grant consent in Entra ID", async () => {
    const env = environment();
    await identityControl("PUT", `/clients/${BRIDGE_CLIENT_ID}/consent`, { granted: false });
    try {
      const r = await deviceLogin(env, {});
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/Consent is missing \(AADSTS65001\): an admin must grant consent to the app registration .* "Microsoft Partner" \/ user_impersonation in Entra ID/);
      expect(await storedToken(env)).toBeUndefined();
    } finally {
      await identityControl("PUT", `/clients/${BRIDGE_CLIENT_ID}/consent`, { granted: true });
    }
  });

  it("--auth-code: prints the sign-in URL, takes the code on a localhost redirect, stores the token", async () => {
    const env = environment();
    const r = await login(env, ["--auth-code"], async (printed) => {
      const url = await waitFor(() => /^(http\S+\/oauth2\/v2\.0\/authorize\?\S+)$/m.exec(printed())?.[1], "the sign-in URL");
      const page = await fetch(url);
      expect(page.status).toBe(200);
      const params = new URL(url).searchParams;
      expect(params.get("code_challenge_method")).toBe("S256");
      expect(params.get("redirect_uri")).toMatch(/^http:\/\/localhost:\d+/);
      // MSAL asks for response_mode=form_post: the browser POSTs the code to the loopback listener.
      expect(params.get("response_mode")).toBe("form_post");
      const approved = (await identityControl("POST", `/sign-ins/${page.headers.get("x-emulator-sign-in")}/approve`, { mfa: true })) as { formPost: { action: string; fields: Record<string, string> } };
      const back = await fetch(approved.formPost.action, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(approved.formPost.fields).toString() });
      expect(back.status).toBe(200);
    });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Signed in to Partner Center as ${REFERRALS_ADMIN.userPrincipalName}`);
    await expect(getReferralWith(env)).resolves.toMatchObject({ id: referralId });
  });
});
