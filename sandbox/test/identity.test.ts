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
