import { startIdentityEmulator, type IdentityEmulator } from "../src/identity";

const form = (o: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(o).toString(),
});

describe("Entra ID emulator", () => {
  let idp: IdentityEmulator;
  beforeAll(async () => {
    idp = await startIdentityEmulator();
    idp.tokens.registerClient({ clientId: "bridge-app", clientSecret: "s3cret", tenantId: "t1", objectId: "oid-app" });
  });
  afterAll(() => idp.close());

  it("issues an app token by client credentials (v2) that the resource verifies", async () => {
    const res = await fetch(
      `${idp.url}/t1/oauth2/v2.0/token`,
      form({ grant_type: "client_credentials", client_id: "bridge-app", client_secret: "s3cret", scope: "https://org.crm.dynamics.com/.default" }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    const v = idp.tokens.verify(`Bearer ${body.access_token}`, "https://org.crm.dynamics.com");
    expect(v).toMatchObject({ ok: true, claims: { appid: "bridge-app", oid: "oid-app", idtyp: "app" } });
    expect(idp.tokens.verify(`Bearer ${body.access_token}`, "https://api.partner.microsoft.com")).toMatchObject({ ok: false });
  });

  it("refuses a wrong secret with invalid_client", async () => {
    const res = await fetch(
      `${idp.url}/t1/oauth2/v2.0/token`,
      form({ grant_type: "client_credentials", client_id: "bridge-app", client_secret: "nope", scope: "https://x/.default" }),
    );
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "invalid_client", error_codes: [7000215] });
  });

  it("rotates refresh tokens (v1 resource) and fails loudly once revoked", async () => {
    const rt = idp.tokens.issueRefreshToken("bridge-app", {
      objectId: "oid-user",
      userPrincipalName: "referrals@contoso.example",
      displayName: "Referrals Admin",
      tenantId: "t1",
    });
    const res = await fetch(
      `${idp.url}/t1/oauth2/token`,
      form({ grant_type: "refresh_token", client_id: "bridge-app", client_secret: "s3cret", refresh_token: rt, resource: "https://api.partner.microsoft.com" }),
    );
    const body = (await res.json()) as { access_token: string; refresh_token: string };
    expect(body.refresh_token).not.toBe(rt);
    expect(idp.tokens.verify(`Bearer ${body.access_token}`, "https://api.partner.microsoft.com")).toMatchObject({
      ok: true,
      claims: { upn: "referrals@contoso.example", idtyp: "user" },
    });
    idp.tokens.revokeUser("referrals@contoso.example");
    const again = await fetch(
      `${idp.url}/t1/oauth2/token`,
      form({ grant_type: "refresh_token", client_id: "bridge-app", client_secret: "s3cret", refresh_token: body.refresh_token, resource: "https://api.partner.microsoft.com" }),
    );
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: "invalid_grant", error_codes: [50173] });
  });

  describe("amr: how the user signed in", () => {
    const user = { objectId: "oid-amr", userPrincipalName: "amr.user@contoso.example", displayName: "Amr User", tenantId: "t1" };
    const claimsOf = (accessToken: string) => {
      const v = idp.tokens.verify(`Bearer ${accessToken}`, "https://api.partner.microsoft.com");
      if (!v.ok) throw new Error(v.reason);
      return v.claims;
    };
    const redeem = async (refreshToken: string) => {
      const res = await fetch(
        `${idp.url}/t1/oauth2/token`,
        form({ grant_type: "refresh_token", client_id: "bridge-app", client_secret: "s3cret", refresh_token: refreshToken, resource: "https://api.partner.microsoft.com" }),
      );
      expect(res.status).toBe(200);
      return (await res.json()) as { access_token: string; refresh_token: string };
    };

    it("a refresh token from an MFA sign-in yields tokens with mfa in amr, through every rotation", async () => {
      const first = await redeem(idp.tokens.issueRefreshToken("bridge-app", user));
      expect(claimsOf(first.access_token).amr).toEqual(["pwd", "mfa"]);
      const second = await redeem(first.refresh_token);
      expect(claimsOf(second.access_token).amr).toEqual(["pwd", "mfa"]);
    });

    it("the password grant yields ['pwd'], and so does its refresh token", async () => {
      idp.tokens.registerUser(user, "correct horse");
      const res = await fetch(
        `${idp.url}/t1/oauth2/v2.0/token`,
        form({ grant_type: "password", client_id: "bridge-app", client_secret: "s3cret", username: user.userPrincipalName, password: "correct horse", scope: "https://api.partner.microsoft.com/user_impersonation offline_access" }),
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string; refresh_token: string };
      expect(claimsOf(body.access_token)).toMatchObject({ amr: ["pwd"], upn: user.userPrincipalName, idtyp: "user" });
      expect(claimsOf((await redeem(body.refresh_token)).access_token).amr).toEqual(["pwd"]);
    });

    it("refuses a wrong password with invalid_grant (AADSTS50126)", async () => {
      idp.tokens.registerUser(user, "correct horse");
      const res = await fetch(
        `${idp.url}/t1/oauth2/token`,
        form({ grant_type: "password", client_id: "bridge-app", client_secret: "s3cret", username: user.userPrincipalName, password: "wrong", resource: "https://api.partner.microsoft.com" }),
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_grant", error_codes: [50126] });
    });

    it("a refresh token minted without MFA stays without it", async () => {
      const t = await redeem(idp.tokens.issueRefreshToken("bridge-app", user, { mfa: false }));
      expect(claimsOf(t.access_token).amr).toEqual(["pwd"]);
    });
  });

  it("rejects tampered and expired tokens", () => {
    const t = idp.tokens.clientCredentials({ clientId: "bridge-app", clientSecret: "s3cret", resource: "https://r" });
    const [h, p, s] = t.accessToken.split(".");
    const forged = Buffer.from(JSON.stringify({ ...t.claims, oid: "someone-else" })).toString("base64url");
    expect(idp.tokens.verify(`Bearer ${h}.${forged}.${s}`, "https://r")).toEqual({ ok: false, reason: "invalid signature" });
    expect(idp.tokens.verify(undefined, "https://r")).toMatchObject({ ok: false });
    idp.tokens.setAccessTokenLifetime(-10);
    const expired = idp.tokens.clientCredentials({ clientId: "bridge-app", clientSecret: "s3cret", resource: "https://r" });
    expect(idp.tokens.verify(`Bearer ${expired.accessToken}`, "https://r")).toEqual({ ok: false, reason: "token expired" });
    idp.tokens.setAccessTokenLifetime(3600);
    expect(p).toBeDefined();
  });
});
