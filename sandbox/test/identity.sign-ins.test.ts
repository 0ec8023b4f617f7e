import { createHash, randomBytes } from "node:crypto";
import { DEVICE_CODE_GRANT, startIdentityEmulator, type IdentityEmulator, type SandboxUser } from "../src/identity";

const TENANT = "5a1dbb0c-0000-4000-8000-00000000aaaa";
const CLIENT = "bridge-app";
const SCOPE = "https://api.partner.microsoft.com/user_impersonation offline_access openid profile";
const ADMIN: SandboxUser = { objectId: "oid-admin", userPrincipalName: "referrals.admin@contoso.example", displayName: "Referrals Admin", tenantId: TENANT };

const form = (o: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(o).toString(),
});

interface DeviceCode {
  user_code: string;
  device_code: string;
  verification_uri: string;
  interval: number;
  expires_in: number;
  message: string;
}
interface Tokens {
  access_token: string;
  refresh_token: string;
  id_token: string;
  client_info: string;
  scope: string;
}

const payload = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString("utf8")) as Record<string, unknown>;

describe("Entra ID emulator: interactive sign-ins", () => {
  let idp: IdentityEmulator;
  beforeAll(async () => {
    idp = await startIdentityEmulator({ signIns: { defaultUser: ADMIN, deviceCodeIntervalSeconds: 1 } });
    idp.tokens.registerClient({ clientId: CLIENT, clientSecret: "s3cret", tenantId: TENANT, displayName: "cosell-bridge" });
    idp.tokens.registerUser(ADMIN);
  });
  afterAll(() => idp.close());

  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${idp.url}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const startDeviceCode = async (): Promise<DeviceCode> => {
    const res = await fetch(`${idp.url}/organizations/oauth2/v2.0/devicecode`, form({ client_id: CLIENT, scope: SCOPE }));
    expect(res.status).toBe(200);
    return (await res.json()) as DeviceCode;
  };
  const poll = (deviceCode: string) => fetch(`${idp.url}/organizations/oauth2/v2.0/token`, form({ grant_type: DEVICE_CODE_GRANT, client_id: CLIENT, device_code: deviceCode }));

  describe("device code", () => {
    it("answers what a client needs to show the user and to poll", async () => {
      const dc = await startDeviceCode();
      expect(dc).toEqual({
        user_code: expect.stringMatching(/^[A-Z2-9]{9}$/),
        device_code: expect.any(String),
        verification_uri: `${idp.url}/devicelogin`,
        interval: 1,
        expires_in: 900,
        message: expect.stringContaining(dc.user_code),
      });
    });

    it("is authorization_pending until approved, then yields MFA tokens once", async () => {
      const dc = await startDeviceCode();
      const pending = await poll(dc.device_code);
      expect(pending.status).toBe(400);
      expect(await pending.json()).toMatchObject({ error: "authorization_pending", error_codes: [70016] });

      const approved = await control("POST", `/sign-ins/${dc.user_code}/approve`, {});
      expect(approved).toMatchObject({ status: 200, body: { signIn: { kind: "device_code", state: "approved" } } });

      const res = await poll(dc.device_code);
      expect(res.status).toBe(200);
      const t = (await res.json()) as Tokens;
      expect(payload(t.access_token)).toMatchObject({ amr: ["pwd", "mfa"], tid: TENANT, upn: ADMIN.userPrincipalName, aud: "https://api.partner.microsoft.com", idtyp: "user" });
      expect(payload(t.id_token)).toMatchObject({ aud: CLIENT, tid: TENANT, preferred_username: ADMIN.userPrincipalName, oid: ADMIN.objectId });
      expect(JSON.parse(Buffer.from(t.client_info, "base64url").toString("utf8"))).toEqual({ uid: ADMIN.objectId, utid: TENANT });
      expect(t.scope).toContain("https://api.partner.microsoft.com/user_impersonation");

      // The refresh token remembers the MFA sign-in.
      const refreshed = await fetch(
        `${idp.url}/${TENANT}/oauth2/token`,
        form({ grant_type: "refresh_token", client_id: CLIENT, client_secret: "s3cret", refresh_token: t.refresh_token, resource: "https://api.partner.microsoft.com" }),
      );
      expect(payload(((await refreshed.json()) as Tokens).access_token).amr).toEqual(["pwd", "mfa"]);

      const again = await poll(dc.device_code);
      expect(await again.json()).toMatchObject({ error: "bad_verification_code" });
    });

    it("approved without MFA: amr ['pwd'], and so from its refresh token", async () => {
      const dc = await startDeviceCode();
      await control("POST", `/sign-ins/${dc.user_code}/approve`, { mfa: false });
      const t = (await (await poll(dc.device_code)).json()) as Tokens;
      expect(payload(t.access_token).amr).toEqual(["pwd"]);
      const refreshed = await fetch(
        `${idp.url}/${TENANT}/oauth2/token`,
        form({ grant_type: "refresh_token", client_id: CLIENT, client_secret: "s3cret", refresh_token: t.refresh_token, resource: "https://api.partner.microsoft.com" }),
      );
      expect(payload(((await refreshed.json()) as Tokens).access_token).amr).toEqual(["pwd"]);
    });

    it("signs in a chosen user of a chosen tenant", async () => {
      const dc = await startDeviceCode();
      await control("POST", `/sign-ins/${dc.user_code}/approve`, { userPrincipalName: "someone@fabrikam.example", tenantId: "fabrikam-tenant" });
      const t = (await (await poll(dc.device_code)).json()) as Tokens;
      expect(payload(t.access_token)).toMatchObject({ tid: "fabrikam-tenant", upn: "someone@fabrikam.example", amr: ["pwd", "mfa"] });
    });

    it("declined: authorization_declined", async () => {
      const dc = await startDeviceCode();
      expect((await control("POST", `/sign-ins/${dc.user_code}/decline`)).status).toBe(200);
      const res = await poll(dc.device_code);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "authorization_declined" });
    });

    it("expired: expired_token (AADSTS70019), and the control can no longer approve it", async () => {
      const dc = await startDeviceCode();
      await control("POST", `/sign-ins/${dc.user_code}/expire`);
      expect(await (await poll(dc.device_code)).json()).toMatchObject({ error: "expired_token", error_codes: [70019] });
      expect((await control("POST", `/sign-ins/${dc.user_code}/approve`, {})).status).toBe(409);
    });

    it("without admin consent: invalid_grant, suberror consent_required (AADSTS65001)", async () => {
      expect((await control("PUT", `/clients/${CLIENT}/consent`, { granted: false })).status).toBe(200);
      try {
        const dc = await startDeviceCode();
        await control("POST", `/sign-ins/${dc.user_code}/approve`, {});
        const res = await poll(dc.device_code);
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: "invalid_grant", suberror: "consent_required", error_codes: [65001] });
      } finally {
        await control("PUT", `/clients/${CLIENT}/consent`, { granted: true });
      }
    });

    it("refuses an unknown client and a request without scope", async () => {
      const unknown = await fetch(`${idp.url}/organizations/oauth2/v2.0/devicecode`, form({ client_id: "nobody", scope: SCOPE }));
      expect(await unknown.json()).toMatchObject({ error: "unauthorized_client", error_codes: [700016] });
      const noScope = await fetch(`${idp.url}/organizations/oauth2/v2.0/devicecode`, form({ client_id: CLIENT }));
      expect(await noScope.json()).toMatchObject({ error: "invalid_request", error_codes: [90014] });
    });
  });

  describe("authorization code with PKCE", () => {
    const redirectUri = "http://localhost:53682/callback";
    const begin = async (extra: Record<string, string> = {}) => {
      const verifier = randomBytes(32).toString("base64url");
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      const q = new URLSearchParams({ client_id: CLIENT, response_type: "code", redirect_uri: redirectUri, scope: SCOPE, state: "st-42", code_challenge: challenge, code_challenge_method: "S256", ...extra });
      const res = await fetch(`${idp.url}/organizations/oauth2/v2.0/authorize?${q}`);
      return { res, verifier, id: res.headers.get("x-emulator-sign-in") ?? "" };
    };
    const redeem = (code: string, verifier: string) =>
      fetch(`${idp.url}/organizations/oauth2/v2.0/token`, form({ grant_type: "authorization_code", client_id: CLIENT, code, redirect_uri: redirectUri, code_verifier: verifier, scope: SCOPE }));

    it("approved: redirects to the loopback URI with code and state; the code redeems once with its verifier", async () => {
      const { res, verifier, id } = await begin();
      expect(res.status).toBe(200);
      expect(id).not.toBe("");
      const approved = await control("POST", `/sign-ins/${id}/approve`, { mfa: true });
      const redirect = new URL(String(approved.body.redirect));
      expect(`${redirect.origin}${redirect.pathname}`).toBe(redirectUri);
      expect(redirect.searchParams.get("state")).toBe("st-42");
      const code = redirect.searchParams.get("code") ?? "";

      const wrong = await redeem(code, "not-the-verifier");
      expect(await wrong.json()).toMatchObject({ error: "invalid_grant", error_codes: [501481] });

      const ok = await redeem(code, verifier);
      expect(ok.status).toBe(200);
      expect(payload(((await ok.json()) as Tokens).access_token)).toMatchObject({ amr: ["pwd", "mfa"], tid: TENANT });

      const reused = await redeem(code, verifier);
      expect(await reused.json()).toMatchObject({ error: "invalid_grant", error_codes: [54005] });
    });

    it("response_mode=form_post: the approval answers the form the browser POSTs to the redirect URI", async () => {
      const { verifier, id } = await begin({ response_mode: "form_post" });
      const approved = (await control("POST", `/sign-ins/${id}/approve`, {})).body as { formPost: { action: string; fields: Record<string, string> }; redirect?: string };
      expect(approved.redirect).toBeUndefined();
      expect(approved.formPost).toEqual({ action: redirectUri, fields: { code: expect.any(String), state: "st-42" } });
      expect((await redeem(approved.formPost.fields.code as string, verifier)).status).toBe(200);
    });

    it("declined: redirects with error=access_denied and the state", async () => {
      const { id } = await begin();
      const declined = await control("POST", `/sign-ins/${id}/decline`);
      const redirect = new URL(String(declined.body.redirect));
      expect(redirect.searchParams.get("error")).toBe("access_denied");
      expect(redirect.searchParams.get("state")).toBe("st-42");
      expect(redirect.searchParams.get("code")).toBeNull();
    });

    it("refuses a redirect URI that is not loopback (AADSTS50011)", async () => {
      const { res } = await begin({ redirect_uri: "https://evil.example/callback" });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_request", error_codes: [50011] });
    });
  });

  describe("the control", () => {
    it("lists sign-ins and refuses what it cannot do, changing nothing", async () => {
      const dc = await startDeviceCode();
      const list = await control("GET", "/sign-ins");
      expect(list.body.value).toEqual(expect.arrayContaining([expect.objectContaining({ userCode: dc.user_code, state: "pending", kind: "device_code" })]));
      expect((await control("POST", "/sign-ins/NOSUCHCOD/approve", {})).status).toBe(404);
      expect((await control("POST", `/sign-ins/${dc.user_code}/approve`, { mfa: "yes" })).status).toBe(400);
      expect((await control("POST", `/sign-ins/${dc.user_code}/approve`, { extra: 1 })).status).toBe(400);
      expect((await control("GET", `/sign-ins/${dc.user_code}`)).body).toMatchObject({ state: "pending" });
      expect((await control("POST", `/sign-ins/${dc.user_code}/approve`, {})).status).toBe(200);
      expect((await control("POST", `/sign-ins/${dc.user_code}/decline`)).status).toBe(409);
      expect((await control("PUT", "/clients/nobody/consent", { granted: false })).status).toBe(404);
    });
  });
});
