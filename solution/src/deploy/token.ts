/**
 * Client-credentials tokens for the deploying application user (MSAL), set up as the bridge's MSAL
 * clients are (@cosell/bridge's auth/msal.ts): the real login host as authority with its metadata
 * given up front, and a network client that sends MSAL's calls to the configured login URL (Entra ID
 * or the sandbox's emulator) through the outbound proxy.
 */
import { ConfidentialClientApplication } from "@azure/msal-node";
import { authorityOptions, redirectingNetworkClient } from "@cosell/bridge/src/auth/msal";
import { proxySettingsFromEnv } from "@cosell/bridge/src/http/proxy";

export class SignInError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SignInError";
  }
}

export type TokenSource = () => Promise<string>;

export function clientCredentialsTokenSource(options: {
  loginUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  resource: string;
}): TokenSource {
  const app = new ConfidentialClientApplication({
    auth: { clientId: options.clientId, clientSecret: options.clientSecret, ...authorityOptions(options.tenantId) },
    system: { networkClient: redirectingNetworkClient(options.loginUrl) },
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
