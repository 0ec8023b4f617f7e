/**
 * Interactive sign-ins of the Entra ID emulator, without HTTP: the device-code flow (RFC 8628) and
 * the authorization-code flow with PKCE (RFC 7636). Nobody types a password here: a sign-in waits
 * until the test control approves it (for a chosen user, with or without MFA) or declines it, which
 * is what a person at the browser would have done.
 *
 * What Entra ID does that matters to our clients, and is emulated:
 *  - device code: `user_code`, `device_code`, `verification_uri`, `interval`, `expires_in`; the token
 *    endpoint answers `authorization_pending` until the user has signed in, then the tokens once;
 *    `authorization_declined`, `expired_token`, `bad_verification_code` as documented;
 *  - authorization code: loopback redirect URIs (`http://localhost:<any port>`), `state` echoed,
 *    `response_mode` `query` (a redirect) or `form_post` (what MSAL asks for: a form POSTed to the
 *    redirect URI), the code single-use and short-lived, `code_verifier` checked against the S256 challenge;
 *  - the tokens: `amr` `["pwd","mfa"]` or `["pwd"]` as approved, a refresh token remembering it,
 *    an `id_token` and `client_info` (what MSAL builds its account from);
 *  - consent: a client whose admin consent is withdrawn gets `invalid_grant` / `consent_required`
 *    (AADSTS65001) when the sign-in is redeemed.
 * Not emulated: guest accounts (a token's `tid` is the user's tenant), conditional access, the
 * real sign-in pages.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { MFA_AMR, PASSWORD_AMR, resourceFromScope, TokenError, type IssuedToken, type SandboxUser, type TokenService } from "./token-service";

export type SignInKind = "device_code" | "authorization_code";
export type SignInState = "pending" | "approved" | "declined" | "redeemed";

export interface SignInView {
  readonly id: string;
  readonly kind: SignInKind;
  readonly state: SignInState | "expired";
  readonly clientId: string;
  readonly tenant: string;
  readonly scope: string;
  readonly userCode?: string;
  readonly redirectUri?: string;
  readonly expiresAt: string;
}

interface SignIn {
  readonly id: string;
  readonly kind: SignInKind;
  readonly clientId: string;
  readonly tenant: string;
  readonly scope: string;
  readonly resource: string;
  expiresAt: number;
  state: SignInState;
  user?: SandboxUser;
  amr?: readonly string[];
  // device code
  readonly userCode?: string;
  readonly deviceCode?: string;
  // authorization code
  readonly redirectUri?: string;
  readonly oauthState?: string;
  readonly responseMode?: "query" | "form_post";
  readonly codeChallenge?: string;
  readonly nonce?: string;
  code?: string;
  codeExpiresAt?: number;
}

export interface SignInServiceOptions {
  /** Seconds a client waits between polls of a device code (Entra: 5). Tests shorten it. */
  deviceCodeIntervalSeconds?: number;
  /** Seconds a device code stays valid (Entra: 900). */
  deviceCodeLifetimeSeconds?: number;
  /** The user a sign-in is approved for when the control names none. */
  defaultUser?: SandboxUser;
  now?: () => number;
}

export interface ApproveOptions {
  /** A user registered with the token service, or a new one of that name. Default: the service's default user. */
  readonly userPrincipalName?: string;
  /** The tenant the user signs in from (default: the user's). */
  readonly tenantId?: string;
  /** Did the sign-in pass MFA (default true)? */
  readonly mfa?: boolean;
}

/** Where the browser goes after the sign-in: a redirect (`response_mode=query`) or a form it POSTs. */
export interface SignInOutcome {
  readonly signIn: SignInView;
  readonly redirect?: string;
  readonly formPost?: { readonly action: string; readonly fields: Readonly<Record<string, string>> };
}

export interface TokenSet extends IssuedToken {
  readonly refreshToken: string;
  readonly idToken: string;
  readonly clientInfo: string;
  readonly scope: string;
}

/** Entra's user codes: nine characters without look-alikes. */
const USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const AUTHORIZATION_CODE_LIFETIME_MS = 10 * 60_000;
const OIDC_SCOPES = new Set(["openid", "profile", "email", "offline_access"]);

/** Only loopback redirects (a CLI's listener): `http://localhost:<port>/…` or `http://127.0.0.1:<port>/…`. */
function isLoopbackRedirect(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === "http:" && (u.hostname === "localhost" || u.hostname === "127.0.0.1" || u.hostname === "[::1]");
  } catch {
    return false;
  }
}

export class SignInService {
  private readonly signIns = new Map<string, SignIn>();
  private readonly withoutConsent = new Set<string>();
  private readonly now: () => number;
  private defaultUser: SandboxUser | undefined;
  private readonly interval: number;
  private readonly lifetime: number;

  constructor(
    private readonly tokens: TokenService,
    options: SignInServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.defaultUser = options.defaultUser;
    this.interval = options.deviceCodeIntervalSeconds ?? 5;
    this.lifetime = options.deviceCodeLifetimeSeconds ?? 900;
  }

  setDefaultUser(user: SandboxUser): void {
    this.defaultUser = user;
  }

  /** Admin consent for a client's delegated permissions (granted unless withdrawn here). */
  setConsent(clientId: string, granted: boolean): void {
    if (granted) this.withoutConsent.delete(clientId);
    else this.withoutConsent.add(clientId);
  }

  private requireClient(clientId: string | undefined): string {
    if (!clientId) throw new TokenError("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.");
    if (!this.tokens.getClient(clientId))
      throw new TokenError("unauthorized_client", `AADSTS700016: Application with identifier '${clientId}' was not found in the directory.`);
    return clientId;
  }

  private requireResource(scope: string | undefined): string {
    const resource = resourceFromScope(scope);
    if (!resource) throw new TokenError("invalid_request", "AADSTS90014: The required field 'scope' is missing from the credential.");
    return resource;
  }

  /** What every sign-in starts with: pending, for this client, tenant and scope, until it expires. */
  private pending(kind: SignIn["kind"], clientId: string, tenant: string, scope: string, resource: SignIn["resource"]) {
    return { id: randomUUID(), kind, clientId, tenant, scope, resource, expiresAt: this.now() + this.lifetime * 1000, state: "pending" as const };
  }

  // ---- device code -----------------------------------------------------------------------------

  startDeviceCode(params: { tenant: string; clientId?: string; scope?: string; verificationUri: string }) {
    const clientId = this.requireClient(params.clientId);
    const resource = this.requireResource(params.scope);
    const userCode = Array.from(randomBytes(9), (b) => USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length]).join("");
    const signIn: SignIn = {
      ...this.pending("device_code", clientId, params.tenant, params.scope as string, resource),
      userCode,
      deviceCode: `DAQABAAEAAA${randomBytes(48).toString("base64url")}`,
    };
    this.signIns.set(signIn.id, signIn);
    return {
      user_code: userCode,
      device_code: signIn.deviceCode as string,
      verification_uri: params.verificationUri,
      expires_in: this.lifetime,
      interval: this.interval,
      message: `To sign in, use a web browser to open the page ${params.verificationUri} and enter the code ${userCode} to authenticate.`,
    };
  }

  redeemDeviceCode(params: { clientId?: string; clientSecret?: string; deviceCode?: string }): TokenSet {
    const clientId = this.requireClient(params.clientId);
    this.checkOptionalSecret(clientId, params.clientSecret);
    const signIn = [...this.signIns.values()].find((s) => s.kind === "device_code" && s.deviceCode === params.deviceCode && s.clientId === clientId);
    if (!signIn || signIn.state === "redeemed")
      throw new TokenError("bad_verification_code", "AADSTS70000: The device_code sent to the token endpoint wasn't recognized.");
    if (this.now() >= signIn.expiresAt) throw new TokenError("expired_token", "AADSTS70019: Verification code expired.");
    if (signIn.state === "pending")
      throw new TokenError("authorization_pending", "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.");
    if (signIn.state === "declined") throw new TokenError("authorization_declined", "The end user declined the authorization request.");
    return this.redeem(signIn);
  }

  // ---- authorization code ----------------------------------------------------------------------

  startAuthorization(params: {
    tenant: string;
    clientId?: string;
    responseType?: string;
    redirectUri?: string;
    scope?: string;
    state?: string;
    codeChallenge?: string;
    codeChallengeMethod?: string;
    nonce?: string;
    responseMode?: string;
  }): SignInView {
    const clientId = this.requireClient(params.clientId);
    if (params.responseType !== "code")
      throw new TokenError("unsupported_response_type", "AADSTS700054: response_type 'code' is the only one enabled for the application.");
    if (!params.redirectUri || !isLoopbackRedirect(params.redirectUri))
      throw new TokenError(
        "invalid_request",
        `AADSTS50011: The redirect URI '${params.redirectUri ?? ""}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`,
      );
    const resource = this.requireResource(params.scope);
    const responseMode = params.responseMode ?? "query";
    if (responseMode !== "query" && responseMode !== "form_post")
      throw new TokenError("invalid_request", `AADSTS900144: response_mode '${responseMode}' is not supported for response_type 'code' (query or form_post).`);
    if (params.codeChallenge !== undefined && (params.codeChallengeMethod ?? "plain") !== "S256")
      throw new TokenError("invalid_request", "AADSTS501491: Invalid code_challenge_method: only S256 is supported.");
    const signIn: SignIn = {
      ...this.pending("authorization_code", clientId, params.tenant, params.scope as string, resource),
      redirectUri: params.redirectUri,
      responseMode,
      ...(params.state !== undefined ? { oauthState: params.state } : {}),
      ...(params.codeChallenge !== undefined ? { codeChallenge: params.codeChallenge } : {}),
      ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
    };
    this.signIns.set(signIn.id, signIn);
    return this.view(signIn);
  }

  redeemAuthorizationCode(params: { clientId?: string; clientSecret?: string; code?: string; redirectUri?: string; codeVerifier?: string }): TokenSet {
    const clientId = this.requireClient(params.clientId);
    const signIn = [...this.signIns.values()].find((s) => s.kind === "authorization_code" && s.code !== undefined && s.code === params.code);
    if (!signIn || signIn.clientId !== clientId)
      throw new TokenError("invalid_grant", "AADSTS9002313: Invalid request. Request is malformed or invalid.");
    if (signIn.state === "redeemed") throw new TokenError("invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code.");
    if (this.now() >= (signIn.codeExpiresAt ?? 0))
      throw new TokenError("invalid_grant", "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.");
    if (params.redirectUri !== signIn.redirectUri)
      throw new TokenError("invalid_grant", "AADSTS70002: The redirect_uri does not match the one the authorization code was issued to.");
    if (signIn.codeChallenge !== undefined) {
      const computed = params.codeVerifier ? createHash("sha256").update(params.codeVerifier).digest("base64url") : undefined;
      if (computed !== signIn.codeChallenge)
        throw new TokenError("invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.");
      this.checkOptionalSecret(clientId, params.clientSecret);
    } else {
      // Without PKCE only a confidential client may redeem a code.
      this.tokens.clientCredentialsCheck(clientId, params.clientSecret);
    }
    return this.redeem(signIn);
  }

  // ---- the control: what the person at the browser does -----------------------------------------

  /** Pending and recent sign-ins, newest last. */
  list(): SignInView[] {
    return [...this.signIns.values()].map((s) => this.view(s));
  }

  /** By id, or by the user code a person would type. */
  find(idOrUserCode: string): SignInView | undefined {
    const s = this.lookup(idOrUserCode);
    return s ? this.view(s) : undefined;
  }

  /**
   * The user signs in (with MFA unless `mfa: false`) and consents. For an authorization-code
   * sign-in, the answer is where the browser is redirected next.
   */
  approve(idOrUserCode: string, options: ApproveOptions = {}): SignInOutcome {
    const s = this.pendingOrThrow(idOrUserCode);
    const base = options.userPrincipalName ? (this.tokens.findUser(options.userPrincipalName) ?? this.newUser(options.userPrincipalName, options.tenantId)) : this.defaultUser;
    if (!base) throw new SignInControlError(400, "No user to sign in: name one (userPrincipalName) or give the sign-ins a default user.");
    s.user = options.tenantId ? { ...base, tenantId: options.tenantId } : base;
    s.amr = options.mfa === false ? PASSWORD_AMR : MFA_AMR;
    s.state = "approved";
    if (s.kind !== "authorization_code") return { signIn: this.view(s) };
    s.code = `0.sandbox-code.${randomBytes(32).toString("base64url")}`;
    s.codeExpiresAt = this.now() + AUTHORIZATION_CODE_LIFETIME_MS;
    return this.respond(s, { code: s.code });
  }

  /** The user cancels (device code: `authorization_declined`; authorization code: `access_denied`). */
  decline(idOrUserCode: string): SignInOutcome {
    const s = this.pendingOrThrow(idOrUserCode);
    s.state = "declined";
    if (s.kind !== "authorization_code") return { signIn: this.view(s) };
    return this.respond(s, { error: "access_denied", error_subcode: "cancel", error_description: "AADSTS65004: User declined to consent to access the app." });
  }

  /** Ends a sign-in's life now (device code: the next poll gets `expired_token`). */
  expire(idOrUserCode: string): SignInView {
    const s = this.lookup(idOrUserCode);
    if (!s) throw new SignInControlError(404, `No sign-in '${idOrUserCode}'.`);
    s.expiresAt = this.now() - 1;
    if (s.codeExpiresAt !== undefined) s.codeExpiresAt = this.now() - 1;
    return this.view(s);
  }

  private redeem(s: SignIn): TokenSet {
    if (this.withoutConsent.has(s.clientId)) {
      const client = this.tokens.getClient(s.clientId);
      throw new TokenError(
        "invalid_grant",
        `AADSTS65001: The user or administrator has not consented to use the application with ID '${s.clientId}' named '${client?.displayName ?? s.clientId}'. Send an interactive authorization request for this user and resource.`,
        "consent_required",
      );
    }
    const user = s.user as SandboxUser;
    const amr = s.amr ?? MFA_AMR;
    s.state = "redeemed";
    const issued = this.tokens.userTokens(s.clientId, user, amr, s.resource);
    const granted = [`${s.resource}/user_impersonation`, ...s.scope.split(/\s+/).filter((x) => OIDC_SCOPES.has(x))];
    return {
      ...issued,
      idToken: this.tokens.idToken(s.clientId, user, s.nonce),
      clientInfo: Buffer.from(JSON.stringify({ uid: user.objectId, utid: user.tenantId })).toString("base64url"),
      scope: granted.join(" "),
    };
  }

  private checkOptionalSecret(clientId: string, secret: string | undefined): void {
    // Public client flows: no secret is needed; one that is sent must be right.
    if (secret !== undefined) this.tokens.clientCredentialsCheck(clientId, secret);
  }

  private newUser(userPrincipalName: string, tenantId: string | undefined): SandboxUser {
    return {
      objectId: randomUUID(),
      userPrincipalName,
      displayName: userPrincipalName,
      tenantId: tenantId ?? this.defaultUser?.tenantId ?? randomUUID(),
    };
  }

  private respond(s: SignIn, params: Record<string, string>): SignInOutcome {
    const fields = { ...params, ...(s.oauthState !== undefined ? { state: s.oauthState } : {}) };
    if (s.responseMode === "form_post") return { signIn: this.view(s), formPost: { action: s.redirectUri as string, fields } };
    const u = new URL(s.redirectUri as string);
    for (const [k, v] of Object.entries(fields)) u.searchParams.set(k, v);
    return { signIn: this.view(s), redirect: u.toString() };
  }

  private lookup(idOrUserCode: string): SignIn | undefined {
    const code = idOrUserCode.trim().toUpperCase();
    return this.signIns.get(idOrUserCode) ?? [...this.signIns.values()].find((s) => s.userCode === code);
  }

  private pendingOrThrow(idOrUserCode: string): SignIn {
    const s = this.lookup(idOrUserCode);
    if (!s) throw new SignInControlError(404, `No sign-in '${idOrUserCode}'.`);
    if (this.now() >= s.expiresAt) throw new SignInControlError(409, `The sign-in '${idOrUserCode}' has expired.`);
    if (s.state !== "pending") throw new SignInControlError(409, `The sign-in '${idOrUserCode}' is ${s.state}, not pending.`);
    return s;
  }

  private view(s: SignIn): SignInView {
    return {
      id: s.id,
      kind: s.kind,
      state: s.state === "pending" && this.now() >= s.expiresAt ? "expired" : s.state,
      clientId: s.clientId,
      tenant: s.tenant,
      scope: s.scope,
      ...(s.userCode ? { userCode: s.userCode } : {}),
      ...(s.redirectUri ? { redirectUri: s.redirectUri } : {}),
      expiresAt: new Date(s.expiresAt).toISOString(),
    };
  }
}

/** A control request that cannot be carried out (unknown sign-in, not pending). */
export class SignInControlError extends Error {
  override readonly name = "SignInControlError";
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}
