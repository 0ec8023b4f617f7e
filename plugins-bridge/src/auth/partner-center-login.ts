/**
 * `cosell-bridge login`: the Secure Application Model's one interactive step. The admin signs the
 * Partner Center service account in, with MFA, and the bridge keeps the refresh token that sign-in
 * yields; from then on the service redeems it (partner-center-token.ts) and nobody copies tokens.
 *
 * Two MSAL public-client flows: device code (the default; works on a headless server, the person
 * signs in on any browser) and authorization code with PKCE and a loopback redirect
 * (`http://localhost:<port>`, MSAL's own listener; nothing is opened, the URL is printed).
 *
 * The sign-in is refused — and nothing stored — unless its token passed MFA (`amr` holds `mfa`:
 * Partner Center refuses App+User calls without it since 2026-04-01) and belongs to the configured
 * partner tenant. Tokens are never printed or logged.
 */
import { PublicClientApplication, type AuthenticationResult, type INetworkModule } from "@azure/msal-node";
import { z } from "zod";
import { REFERRALS_RESOURCE } from "../partner-center/client";
import { atLoginUrl, authorityOptions, redirectingNetworkClient } from "./msal";

/** Delegated permission of the "Microsoft Partner" API the Referrals API needs, plus a refresh token. */
export const PARTNER_CENTER_LOGIN_SCOPES: readonly string[] = [`${REFERRALS_RESOURCE}/user_impersonation`, "offline_access"];

export type LoginFlow = "device-code" | "auth-code";

export interface PartnerCenterLoginOptions {
  readonly loginUrl: string;
  /** PARTNER_CENTER_TENANT_ID: the sign-in must be of this tenant. */
  readonly tenantId: string;
  readonly clientId: string;
  readonly flow: LoginFlow;
  /** What the person must do: the device-code message, or the URL to open. */
  readonly prompt: (text: string) => void;
  /** Give up waiting for the person after this long (default: the device code's own life, 15 minutes). */
  readonly timeoutSeconds?: number;
}

export interface PartnerCenterSignIn {
  readonly account: string;
  readonly tenantId: string;
  readonly refreshToken: string;
}

/** A sign-in that cannot be used, with what to do about it. Nothing has been stored. */
export class LoginError extends Error {
  override readonly name = "LoginError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The claims of the access token that the checks read (it comes straight from Entra ID). */
const AccessTokenClaims = z
  .object({
    tid: z.string(),
    amr: z.array(z.string()).optional(),
    upn: z.string().optional(),
    unique_name: z.string().optional(),
    preferred_username: z.string().optional(),
  })
  .loose();

const SerializedCache = z
  .object({ RefreshToken: z.record(z.string(), z.object({ secret: z.string(), home_account_id: z.string().optional() }).loose()).optional() })
  .loose();

function claimsOf(accessToken: string): z.output<typeof AccessTokenClaims> {
  const payload = accessToken.split(".")[1];
  if (!payload) throw new LoginError("Entra ID answered with an access token that is not a JWT; nothing was stored.");
  try {
    return AccessTokenClaims.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  } catch (err) {
    throw new LoginError("Entra ID answered with an access token whose claims cannot be read; nothing was stored.", { cause: err });
  }
}

const TokenEndpointError = z.object({ error: z.string(), error_description: z.string().optional(), suberror: z.string().optional() }).loose();
type TokenEndpointError = z.output<typeof TokenEndpointError>;

/**
 * MSAL's device-code polling reports a failed poll by its `error` alone; the network client keeps
 * the last error Entra answered with (description, suberror) so the admin is told what it said.
 */
function recordingErrors(inner: INetworkModule, seen: { last?: TokenEndpointError }): INetworkModule {
  return {
    sendGetRequestAsync: (url, options) => inner.sendGetRequestAsync(url, options),
    async sendPostRequestAsync<T>(url: string, options?: Parameters<INetworkModule["sendPostRequestAsync"]>[1]) {
      const res = await inner.sendPostRequestAsync<T>(url, options);
      const e = TokenEndpointError.safeParse(res.body);
      if (e.success && e.data.error !== "authorization_pending") seen.last = e.data;
      return res;
    },
  };
}

/** What went wrong, in words an admin can act on. */
function explain(err: unknown, clientId: string, answered: TokenEndpointError | undefined): LoginError {
  const e = err as { errorCode?: string; errorMessage?: string; subError?: string; message?: string };
  const text = `${e.errorCode ?? ""} ${e.subError ?? ""} ${e.errorMessage ?? e.message ?? String(err)} ${answered ? `${answered.error} ${answered.suberror ?? ""} ${answered.error_description ?? ""}` : ""}`;
  const aadsts = /AADSTS\d+/.exec(text)?.[0];
  if (/consent_required|AADSTS65001|AADSTS90094/.test(text))
    return new LoginError(
      `Consent is missing (${aadsts ?? "consent_required"}): an admin must grant consent to the app registration ${clientId} for the delegated permission "Microsoft Partner" / user_impersonation in Entra ID (App registrations → API permissions → Grant admin consent), then run cosell-bridge login again. Nothing was stored.`,
      { cause: err },
    );
  if (/authorization_declined|access_denied|AADSTS65004/.test(text))
    return new LoginError("The sign-in was declined at the browser; nothing was stored. Run cosell-bridge login again to retry.", { cause: err });
  if (/expired_token|device_code_expired|AADSTS70019/.test(text))
    return new LoginError("The code expired before the sign-in was finished; nothing was stored. Run cosell-bridge login again and sign in within 15 minutes.", { cause: err });
  if (/user_timeout_reached/.test(text))
    return new LoginError("Nobody finished the sign-in in time; nothing was stored. Run cosell-bridge login again.", { cause: err });
  if (/invalid_grant/.test(text))
    return new LoginError(`Entra ID refused the sign-in (invalid_grant${aadsts ? `, ${aadsts}` : ""}); nothing was stored. Run cosell-bridge login again.`, { cause: err });
  if (/unauthorized_client|AADSTS700016|AADSTS7000218/.test(text))
    return new LoginError(
      `Entra ID does not accept this client for an interactive sign-in (${aadsts ?? e.errorCode ?? "unauthorized_client"}): check PARTNER_CENTER_CLIENT_ID and that the app registration allows public client flows (Authentication → Allow public client flows) with http://localhost as a mobile and desktop redirect URI.`,
      { cause: err },
    );
  return new LoginError(`The sign-in failed (${aadsts ?? e.errorCode ?? "unknown"}); nothing was stored.`, { cause: err });
}

/**
 * Signs the service account in and checks the result. Resolves to the refresh token to store; throws
 * LoginError (nothing to store) when the sign-in failed or does not fit Partner Center.
 */
export async function signInToPartnerCenter(options: PartnerCenterLoginOptions): Promise<PartnerCenterSignIn> {
  const seen: { last?: TokenEndpointError } = {};
  const app = new PublicClientApplication({
    auth: { clientId: options.clientId, ...authorityOptions(options.tenantId) },
    system: { networkClient: recordingErrors(redirectingNetworkClient(options.loginUrl), seen) },
  });
  const scopes = [...PARTNER_CENTER_LOGIN_SCOPES];
  let result: AuthenticationResult | null;
  try {
    result =
      options.flow === "device-code"
        ? await app.acquireTokenByDeviceCode({
            scopes,
            deviceCodeCallback: (r) => options.prompt(r.message),
            ...(options.timeoutSeconds ? { timeout: options.timeoutSeconds } : {}),
          })
        : await app.acquireTokenInteractive({
            scopes,
            prompt: "select_account",
            openBrowser: async (url) => options.prompt(`To sign in, open this URL in a browser on this machine and sign in as the Partner Center service account:\n${atLoginUrl(url, options.loginUrl)}`),
            successTemplate: "Signed in. You can close this window and return to cosell-bridge.",
            errorTemplate: "The sign-in did not succeed ({{error}}). Return to cosell-bridge for what to do.",
          });
  } catch (err) {
    throw explain(err, options.clientId, seen.last);
  }
  if (!result?.accessToken) throw new LoginError("Entra ID answered without an access token; nothing was stored.");

  const claims = claimsOf(result.accessToken);
  const account = claims.upn ?? claims.unique_name ?? claims.preferred_username ?? result.account?.username ?? "(unknown account)";
  if (claims.tid.toLowerCase() !== options.tenantId.toLowerCase())
    throw new LoginError(
      `Wrong tenant: ${account} signed in from tenant ${claims.tid}, but PARTNER_CENTER_TENANT_ID is ${options.tenantId}. Sign in with the service account of your partner tenant (or correct PARTNER_CENTER_TENANT_ID); nothing was stored.`,
    );
  if (!(claims.amr ?? []).includes("mfa"))
    throw new LoginError(
      `The sign-in of ${account} did not pass multi-factor authentication (its token has no "mfa" in amr). Partner Center refuses App+User calls without MFA since 1 April 2026. Require MFA for this account (Conditional Access or security defaults; remove any MFA exemption), then run cosell-bridge login again; nothing was stored.`,
    );

  // MSAL keeps the refresh token in its cache, not in the result.
  const cache = SerializedCache.safeParse(JSON.parse(app.getTokenCache().serialize()));
  const homeAccountId = result.account?.homeAccountId;
  const entries = cache.success ? Object.values(cache.data.RefreshToken ?? {}) : [];
  const refreshToken = (entries.find((t) => t.home_account_id === homeAccountId) ?? entries[0])?.secret;
  if (!refreshToken) throw new LoginError("Entra ID answered without a refresh token (is offline_access allowed?); nothing was stored.");
  return { account, tenantId: claims.tid, refreshToken };
}
