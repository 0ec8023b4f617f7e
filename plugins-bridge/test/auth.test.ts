import { startIdentityEmulator, type IdentityEmulator } from "@cosell/sandbox/src/identity";
import { ClientCredentialsProvider } from "../src/auth/dataverse-token";
import { RefreshTokenProvider } from "../src/auth/partner-center-token";
import { AuthError } from "../src/http/errors";

describe("bridge sign-in against the Entra ID emulator", () => {
  let idp: IdentityEmulator;
  const user = { objectId: "u1", userPrincipalName: "referrals@partner.example", displayName: "Referrals", tenantId: "t1" };
  beforeAll(async () => {
    idp = await startIdentityEmulator();
    idp.tokens.registerClient({ clientId: "bridge", clientSecret: "bridge-secret", tenantId: "t1", objectId: "sp-1" });
  });
  afterAll(() => idp.close());

  it("gets a Dataverse app token through MSAL with the login host redirected", async () => {
    const p = new ClientCredentialsProvider({
      loginUrl: idp.url,
      tenantId: "t1",
      clientId: "bridge",
      clientSecret: "bridge-secret",
      resource: "https://org.crm.dynamics.com",
    });
    const token = await p.getToken();
    expect(idp.tokens.verify(`Bearer ${token}`, "https://org.crm.dynamics.com")).toMatchObject({ ok: true, claims: { appid: "bridge", oid: "sp-1" } });
    expect(await p.getToken()).toBe(token); // cached by MSAL
  });

  it("says what to check when the client secret is wrong", async () => {
    const p = new ClientCredentialsProvider({ loginUrl: idp.url, tenantId: "t1", clientId: "bridge", clientSecret: "wrong", resource: "https://org.crm.dynamics.com" });
    await expect(p.getToken()).rejects.toThrow(AuthError);
    expect(p.health()).toMatchObject({ ok: false, lastError: expect.stringContaining("DATAVERSE_CLIENT_SECRET") });
  });

  it("redeems and rotates the Partner Center refresh token, one token per resource", async () => {
    const rotated: string[] = [];
    const p = new RefreshTokenProvider({
      loginUrl: idp.url,
      tenantId: "t1",
      clientId: "bridge",
      clientSecret: "bridge-secret",
      refreshToken: idp.tokens.issueRefreshToken("bridge", user),
      onRefreshTokenRotated: (t) => void rotated.push(t),
    });
    const [a, b] = await Promise.all([p.getToken("https://api.partner.microsoft.com"), p.getToken("https://api.partner.microsoft.com")]);
    expect(a).toBe(b); // one refresh shared by concurrent callers
    expect(rotated).toHaveLength(1);
    const w = await p.getToken("https://api.partnercenter.microsoft.com");
    expect(idp.tokens.verify(`Bearer ${w}`, "https://api.partnercenter.microsoft.com")).toMatchObject({ ok: true, claims: { upn: user.userPrincipalName } });
  });

  it("refreshes ahead of expiry and fails loudly once the account's password is reset", async () => {
    let now = Date.now();
    idp.tokens.setAccessTokenLifetime(600);
    const p = new RefreshTokenProvider({
      loginUrl: idp.url,
      tenantId: "t1",
      clientId: "bridge",
      clientSecret: "bridge-secret",
      refreshToken: idp.tokens.issueRefreshToken("bridge", user),
      now: () => now,
    });
    const first = await p.getToken("https://api.partner.microsoft.com");
    now += 4 * 60_000; // inside the token's life, before the refresh point (600 s - 300 s)
    expect(await p.getToken("https://api.partner.microsoft.com")).toBe(first);
    now += 2 * 60_000; // past the refresh point
    idp.tokens.revokeUser(user.userPrincipalName);
    await expect(p.getToken("https://api.partner.microsoft.com")).rejects.toThrow(/refresh token no longer works/);
    expect(p.health().ok).toBe(false);
    idp.tokens.setAccessTokenLifetime(3600);
  });
});
