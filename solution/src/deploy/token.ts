/**
 * Client-credentials tokens for the deploying application user (MSAL). MSAL accepts only an https
 * authority, so the authority is always the real login host and a network client forwards MSAL's
 * calls to the configured login URL: the same code signs in against Entra ID or the sandbox's
 * emulator. Metadata is given up front, so MSAL makes no discovery call. The network client goes
 * through the outbound proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), as the bridge's does.
 */
import { ConfidentialClientApplication, type INetworkModule, type NetworkResponse } from "@azure/msal-node";
import { outboundFetch, proxySettingsFromEnv } from "@cosell/bridge/src/http/proxy";

const HOST = "login.microsoftonline.com";

export class SignInError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SignInError";
  }
}

export type TokenSource = () => Promise<string>;

function forwardingClient(loginUrl: string): INetworkModule {
  const base = loginUrl.replace(/\/+$/, "");
  const to = (url: string) => url.replace(new RegExp(`^https://${HOST.replace(/\./g, "\\.")}`, "i"), base);
  const response = async <T>(res: Response): Promise<NetworkResponse<T>> => {
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { status: res.status, headers, body: (await res.json().catch(() => ({}))) as T };
  };
  return {
    sendGetRequestAsync: async <T>(url: string, options?: { headers?: Record<string, string> }) =>
      response<T>(await outboundFetch(to(url), { headers: options?.headers, signal: AbortSignal.timeout(30_000) })),
    sendPostRequestAsync: async <T>(url: string, options?: { headers?: Record<string, string>; body?: string }) =>
      response<T>(await outboundFetch(to(url), { method: "POST", headers: options?.headers, body: options?.body, signal: AbortSignal.timeout(30_000) })),
  };
}

export function clientCredentialsTokenSource(options: {
  loginUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  resource: string;
}): TokenSource {
  const tenantBase = `https://${HOST}/${options.tenantId}`;
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      authority: tenantBase,
      knownAuthorities: [HOST],
      cloudDiscoveryMetadata: JSON.stringify({
        tenant_discovery_endpoint: `${tenantBase}/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: HOST, preferred_cache: HOST, aliases: [HOST] }],
      }),
      authorityMetadata: JSON.stringify({
        token_endpoint: `${tenantBase}/oauth2/v2.0/token`,
        authorization_endpoint: `${tenantBase}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${tenantBase}/oauth2/v2.0/logout`,
        issuer: `${tenantBase}/v2.0`,
        jwks_uri: `${tenantBase}/discovery/v2.0/keys`,
      }),
    },
    system: { networkClient: forwardingClient(options.loginUrl) },
  });
  const scopes = [`${options.resource.replace(/\/+$/, "")}/.default`];
  return async () => {
    // A malformed proxy variable is a configuration mistake: say so rather than "sign-in failed".
    proxySettingsFromEnv();
    try {
      const r = await app.acquireTokenByClientCredential({ scopes });
      if (!r?.accessToken) throw new SignInError("sign-in returned no access token");
      return r.accessToken;
    } catch (err) {
      if (err instanceof SignInError) throw err;
      const code = (err as { errorCode?: string }).errorCode;
      throw new SignInError(
        `sign-in to ${options.resource} failed (${code ?? "unknown"}): check tenantId, clientId, the client secret variable, and that the application user exists in the environment`,
        { cause: err },
      );
    }
  };
}
