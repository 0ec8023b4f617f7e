/**
 * What both MSAL clients of the bridge share. MSAL insists on an https authority, so the authority is
 * always the real login host; the network client sends MSAL's calls to the configured login URL
 * instead, which is how the sandbox's Entra emulator (plain http on localhost) is reached. Authority
 * and cloud discovery metadata are given up front so MSAL makes no discovery calls at all. The
 * network client is also where the outbound proxy applies (MSAL-node has no proxy setting of its
 * own since v5): each call goes through the proxy chosen for its URL (../http/proxy).
 */
import type { Configuration, INetworkModule, NetworkResponse } from "@azure/msal-node";
import { outboundFetch } from "../http/proxy";

export const MSAL_HOST = "login.microsoftonline.com";

/** An authority URL of MSAL's (always the real host) as it is reached: on the configured login URL. */
export function atLoginUrl(url: string, loginUrl: string): string {
  return url.replace(/^https:\/\/login\.microsoftonline\.com/i, loginUrl.replace(/\/+$/, ""));
}

export function redirectingNetworkClient(loginUrl: string): INetworkModule {
  const toResponse = async <T>(res: Response): Promise<NetworkResponse<T>> => {
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { status: res.status, headers, body: (await res.json().catch(() => ({}))) as T };
  };
  return {
    async sendGetRequestAsync<T>(url: string, options?: { headers?: Record<string, string> }) {
      return toResponse<T>(await outboundFetch(atLoginUrl(url, loginUrl), { headers: options?.headers, signal: AbortSignal.timeout(30_000) }));
    },
    async sendPostRequestAsync<T>(url: string, options?: { headers?: Record<string, string>; body?: string }) {
      return toResponse<T>(
        await outboundFetch(atLoginUrl(url, loginUrl), {
          method: "POST",
          headers: options?.headers,
          body: options?.body,
          signal: AbortSignal.timeout(30_000),
        }),
      );
    },
  };
}

/** `auth` settings for a tenant (or `organizations`): authority and its metadata, no discovery. */
export function authorityOptions(tenant: string): Pick<Configuration["auth"], "authority" | "knownAuthorities" | "cloudDiscoveryMetadata" | "authorityMetadata"> {
  const base = `https://${MSAL_HOST}/${tenant}`;
  return {
    authority: base,
    knownAuthorities: [MSAL_HOST],
    cloudDiscoveryMetadata: JSON.stringify({
      tenant_discovery_endpoint: `${base}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: [{ preferred_network: MSAL_HOST, preferred_cache: MSAL_HOST, aliases: [MSAL_HOST] }],
    }),
    authorityMetadata: JSON.stringify({
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      issuer: `https://${MSAL_HOST}/${tenant === "organizations" || tenant === "common" ? "{tenantid}" : tenant}/v2.0`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
    }),
  };
}
