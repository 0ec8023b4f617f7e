/**
 * The token side of the Entra ID emulator, without HTTP: registered confidential clients, user refresh
 * tokens, and signed access tokens (JWT, RS256) that the Partner Center and Dataverse emulators verify.
 *
 * What real Entra ID does that matters to our clients, and is emulated:
 *  - client credentials (`scope=<resource>/.default`, v2) → app token, `idtyp=app`, `oid` of the
 *    service principal (Dataverse maps it to the application user);
 *  - refresh token grant (v1 `resource=` and v2 `scope=`) → user token + a *rotated* refresh token;
 *    the old refresh token keeps working until revoked, as Entra's do;
 *  - the password grant (ROPC) of a registered user → a token without MFA, as ROPC cannot prompt;
 *  - `amr` on user tokens: `["pwd","mfa"]` after an MFA sign-in, `["pwd"]` after the password grant,
 *    and a refresh token remembers which (tokens redeemed from it carry the same `amr`);
 *  - expiry (`exp`), audience (`aud`) and signature checked by the resource.
 * Not emulated: conditional access, certificate credentials. Interactive sign-ins (device code,
 * authorization code with PKCE) live in sign-ins.ts.
 */
import { createSign, createVerify, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from "node:crypto";

export interface ConfidentialClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tenantId: string;
  readonly displayName: string;
  /** Object id of the service principal: Dataverse's application user carries it. */
  readonly objectId: string;
}

export interface SandboxUser {
  readonly objectId: string;
  readonly userPrincipalName: string;
  readonly displayName: string;
  readonly tenantId: string;
}

export interface TokenClaims {
  readonly aud: string;
  readonly iss: string;
  readonly tid: string;
  readonly appid: string;
  readonly oid: string;
  readonly sub: string;
  readonly idtyp: "app" | "user";
  readonly upn?: string;
  readonly name?: string;
  readonly scp?: string;
  /** Authentication methods of the user's sign-in (`pwd`, `mfa`); user tokens only. */
  readonly amr?: readonly string[];
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly uti: string;
}

export interface IssuedToken {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly expiresOn: number;
  readonly claims: TokenClaims;
}

export type TokenErrorCode =
  | "invalid_client"
  | "invalid_grant"
  | "invalid_request"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unauthorized_client"
  | "invalid_scope"
  // device code flow (RFC 8628 and Entra's own)
  | "authorization_pending"
  | "authorization_declined"
  | "expired_token"
  | "bad_verification_code";

export class TokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
    /** Entra's `suberror`, e.g. `consent_required`. */
    readonly suberror?: string,
  ) {
    super(message);
    this.name = "TokenError";
  }
}

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

/** What a resource (an emulator) needs to check a bearer token. */
export interface TokenVerifier {
  verify(authorization: string | undefined, audience: string | readonly string[]): VerifyResult;
}

interface RefreshGrant {
  readonly clientId: string;
  readonly user: SandboxUser;
  /** How the sign-in that minted the first token of this chain authenticated the user. */
  readonly amr: readonly string[];
  revoked: boolean;
}

/** `amr` of an interactive sign-in that passed MFA, and of one (or a password grant) that did not. */
export const MFA_AMR: readonly string[] = Object.freeze(["pwd", "mfa"]);
export const PASSWORD_AMR: readonly string[] = Object.freeze(["pwd"]);
export const hasMfa = (claims: Pick<TokenClaims, "amr">): boolean => (claims.amr ?? []).includes("mfa");

/** `https://org.crm.dynamics.com/.default` → `https://org.crm.dynamics.com`; space-separated scopes allowed. */
export function resourceFromScope(scope: string | undefined): string | undefined {
  if (!scope) return undefined;
  for (const s of scope.split(/\s+/)) {
    if (!/^https?:\/\//i.test(s)) continue; // openid, offline_access, profile
    const u = new URL(s);
    return `${u.protocol}//${u.host}`;
  }
  return undefined;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

export interface TokenServiceOptions {
  /** Lifetime of access tokens in seconds (Entra: 60–90 minutes). Tests shorten it to exercise refresh. */
  accessTokenLifetimeSeconds?: number;
  /** Issuer base, e.g. the emulator's URL; defaults to the real login host. */
  issuerBase?: string;
  now?: () => number;
}

export class TokenService implements TokenVerifier {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId = randomUUID();
  private readonly clients = new Map<string, ConfidentialClient>();
  private readonly refreshGrants = new Map<string, RefreshGrant>();
  private readonly users = new Map<string, { user: SandboxUser; password?: string }>();
  private accessTokenLifetime: number;
  private readonly issuerBase: string;
  private readonly now: () => number;

  constructor(options: TokenServiceOptions = {}) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    this.accessTokenLifetime = options.accessTokenLifetimeSeconds ?? 3600;
    this.issuerBase = options.issuerBase ?? "https://sts.windows.net";
    this.now = options.now ?? (() => Date.now());
  }

  setAccessTokenLifetime(seconds: number): void {
    this.accessTokenLifetime = seconds;
  }

  registerClient(client: Partial<ConfidentialClient> & { clientId: string; clientSecret: string }): ConfidentialClient {
    const full: ConfidentialClient = {
      tenantId: client.tenantId ?? "00000000-0000-0000-0000-0000000000aa",
      displayName: client.displayName ?? client.clientId,
      objectId: client.objectId ?? randomUUID(),
      ...client,
    };
    this.clients.set(full.clientId, full);
    return full;
  }

  getClient(clientId: string): ConfidentialClient | undefined {
    return this.clients.get(clientId);
  }

  /**
   * What an admin gets once after signing in the service account interactively, without going
   * through a sign-in flow: by default from a sign-in with MFA (the Secure Application Model);
   * `mfa: false` for one that did not pass MFA.
   */
  issueRefreshToken(clientId: string, user: SandboxUser, options: { mfa?: boolean } = {}): string {
    if (!this.clients.has(clientId)) throw new TokenError("invalid_client", `AADSTS700016: Application '${clientId}' not found.`);
    return this.newRefreshToken(clientId, user, options.mfa === false ? PASSWORD_AMR : MFA_AMR);
  }

  private newRefreshToken(clientId: string, user: SandboxUser, amr: readonly string[]): string {
    const token = `0.sandbox.${b64url(randomBytes(48))}`;
    this.refreshGrants.set(token, { clientId, user, amr, revoked: false });
    return token;
  }

  /** A user of the directory; with a password, one who may also use the password grant. */
  registerUser(user: SandboxUser, password?: string): void {
    this.users.set(user.userPrincipalName.toLowerCase(), { user, ...(password !== undefined ? { password } : {}) });
  }

  findUser(userPrincipalName: string): SandboxUser | undefined {
    return this.users.get(userPrincipalName.toLowerCase())?.user;
  }

  revokeRefreshToken(token: string): void {
    const g = this.refreshGrants.get(token);
    if (g) g.revoked = true;
  }

  /** Revokes every refresh token of a user, as a password reset does. */
  revokeUser(userPrincipalName: string): void {
    for (const g of this.refreshGrants.values()) if (g.user.userPrincipalName === userPrincipalName) g.revoked = true;
  }

  private authenticateClient(clientId: string | undefined, clientSecret: string | undefined): ConfidentialClient {
    if (!clientId) throw new TokenError("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.");
    const client = this.clients.get(clientId);
    if (!client) throw new TokenError("invalid_client", `AADSTS700016: Application with identifier '${clientId}' was not found in the directory.`);
    if (!clientSecret || clientSecret !== client.clientSecret)
      throw new TokenError("invalid_client", "AADSTS7000215: Invalid client secret provided.");
    return client;
  }

  /** Throws `invalid_client` unless the secret is the client's. */
  clientCredentialsCheck(clientId: string | undefined, clientSecret: string | undefined): void {
    this.authenticateClient(clientId, clientSecret);
  }

  clientCredentials(params: { clientId?: string; clientSecret?: string; resource: string }): IssuedToken {
    const client = this.authenticateClient(params.clientId, params.clientSecret);
    return this.sign({
      aud: params.resource,
      tid: client.tenantId,
      appid: client.clientId,
      oid: client.objectId,
      sub: client.objectId,
      idtyp: "app",
    });
  }

  refresh(params: {
    clientId?: string;
    clientSecret?: string;
    refreshToken?: string;
    resource: string;
  }): IssuedToken & { refreshToken: string } {
    const client = this.authenticateClient(params.clientId, params.clientSecret);
    const grant = params.refreshToken ? this.refreshGrants.get(params.refreshToken) : undefined;
    if (!grant || grant.clientId !== client.clientId)
      throw new TokenError("invalid_grant", "AADSTS9002313: Invalid request. Request is malformed or invalid.");
    if (grant.revoked)
      throw new TokenError(
        "invalid_grant",
        "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
      );
    return this.userTokens(client.clientId, grant.user, grant.amr, params.resource);
  }

  /**
   * The password grant (ROPC): no MFA prompt is possible, so the token's `amr` is `["pwd"]` (real
   * Entra refuses ROPC outright for a user whom policy requires MFA of; here the resource decides).
   */
  password(params: { clientId?: string; clientSecret?: string; username?: string; password?: string; resource: string }): IssuedToken & { refreshToken: string } {
    const client = this.authenticateClient(params.clientId, params.clientSecret);
    const entry = params.username ? this.users.get(params.username.toLowerCase()) : undefined;
    if (!entry || entry.password === undefined || entry.password !== params.password)
      throw new TokenError("invalid_grant", "AADSTS50126: Error validating credentials due to invalid username or password.");
    return this.userTokens(client.clientId, entry.user, PASSWORD_AMR, params.resource);
  }

  /** An access token and a fresh refresh token (same `amr`) for a user signed in to a client. */
  userTokens(clientId: string, user: SandboxUser, amr: readonly string[], resource: string): IssuedToken & { refreshToken: string } {
    const token = this.sign({
      aud: resource,
      tid: user.tenantId,
      appid: clientId,
      oid: user.objectId,
      sub: user.objectId,
      idtyp: "user",
      upn: user.userPrincipalName,
      name: user.displayName,
      scp: "user_impersonation",
      amr,
    });
    return { ...token, refreshToken: this.newRefreshToken(clientId, user, amr) };
  }

  /**
   * A user's access token for a resource, as if the user had signed in interactively (the sandbox's
   * stand-in for a seller in the browser or a Microsoft seller), with MFA unless `amr` says otherwise.
   * No refresh token.
   */
  issueUserAccessToken(user: SandboxUser, resource: string, clientId = "sandbox-interactive", amr: readonly string[] = MFA_AMR): IssuedToken {
    return this.sign({
      aud: resource,
      tid: user.tenantId,
      appid: clientId,
      oid: user.objectId,
      sub: user.objectId,
      idtyp: "user",
      upn: user.userPrincipalName,
      name: user.displayName,
      scp: "user_impersonation",
      amr,
    });
  }

  /** The OpenID Connect id token of an interactive sign-in (v2.0 shape; MSAL reads it, nobody verifies it). */
  idToken(clientId: string, user: SandboxUser, nonce?: string): string {
    const iat = Math.floor(this.now() / 1000);
    const claims = {
      aud: clientId,
      iss: `${this.issuerBase}/${user.tenantId}/v2.0`,
      iat,
      nbf: iat,
      exp: iat + 3600,
      name: user.displayName,
      oid: user.objectId,
      preferred_username: user.userPrincipalName,
      sub: user.objectId,
      tid: user.tenantId,
      ver: "2.0",
      ...(nonce !== undefined ? { nonce } : {}),
    };
    return this.signJwt(claims);
  }

  private signJwt(claims: object): string {
    const header = { typ: "JWT", alg: "RS256", kid: this.keyId };
    const body = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign("RSA-SHA256").update(body).sign(this.privateKey);
    return `${body}.${b64url(signature)}`;
  }

  private sign(claims: Omit<TokenClaims, "iss" | "iat" | "nbf" | "exp" | "uti">): IssuedToken {
    const iat = Math.floor(this.now() / 1000);
    const full: TokenClaims = {
      ...claims,
      iss: `${this.issuerBase}/${claims.tid}/`,
      iat,
      nbf: iat - 5,
      exp: iat + this.accessTokenLifetime,
      uti: b64url(randomBytes(12)),
    };
    return {
      accessToken: this.signJwt(full),
      expiresIn: this.accessTokenLifetime,
      expiresOn: full.exp,
      claims: full,
    };
  }

  verify(authorization: string | undefined, audience: string | readonly string[]): VerifyResult {
    if (!authorization) return { ok: false, reason: "missing Authorization header" };
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) return { ok: false, reason: "Authorization is not a Bearer token" };
    const parts = (m[1] as string).split(".");
    if (parts.length !== 3) return { ok: false, reason: "malformed token" };
    const [h, p, s] = parts as [string, string, string];
    const valid = createVerify("RSA-SHA256").update(`${h}.${p}`).verify(this.publicKey, Buffer.from(s, "base64url"));
    if (!valid) return { ok: false, reason: "invalid signature" };
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as TokenClaims;
    } catch {
      return { ok: false, reason: "malformed token" };
    }
    const now = Math.floor(this.now() / 1000);
    if (claims.exp <= now) return { ok: false, reason: "token expired" };
    const audiences = typeof audience === "string" ? [audience] : audience;
    const norm = (a: string) => a.replace(/\/+$/, "").toLowerCase();
    if (!audiences.some((a) => norm(a) === norm(claims.aud)))
      return { ok: false, reason: `token audience '${claims.aud}' is not this resource` };
    return { ok: true, claims };
  }

  /** JWKS document of the signing key (`/discovery/v2.0/keys`). */
  jwks(): { keys: Array<Record<string, unknown>> } {
    const jwk = this.publicKey.export({ format: "jwk" });
    return { keys: [{ ...jwk, kid: this.keyId, use: "sig", alg: "RS256", kty: "RSA" }] };
  }
}
