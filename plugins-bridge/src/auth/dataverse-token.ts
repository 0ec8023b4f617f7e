/**
 * Dataverse tokens for the bridge's application user: MSAL client credentials (specs/dataverse.md
 * §4.10), reaching the configured login URL through msal.ts (the sandbox's Entra emulator too, and
 * the outbound proxy: MSAL-node has no proxy setting of its own since v5).
 */
import { ConfidentialClientApplication } from "@azure/msal-node";
import { AuthError, TransientError } from "../http/errors";
import { authorityOptions, redirectingNetworkClient } from "./msal";

/** MSAL's default tokenRenewalOffsetSeconds. */
const RENEWAL_OFFSET_MS = 300_000;

export interface ClientCredentialsOptions {
  readonly loginUrl: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** e.g. https://contoso.crm.dynamics.com — the token's audience. */
  readonly resource: string;
}

export class ClientCredentialsProvider {
  private readonly app: ConfidentialClientApplication;
  private readonly scope: string;
  private lastError?: { message: string; at: number };
  /**
   * The token MSAL last gave, held until MSAL itself would renew it: MSAL's own cache lookup
   * (authority, cache keys, logging) costs ~0.2 ms, a tenth of the bridge's CPU per Web API call.
   */
  private held?: { token: string; renewAt: number };
  private pending?: Promise<string>;

  constructor(private readonly options: ClientCredentialsOptions) {
    this.scope = `${options.resource.replace(/\/+$/, "")}/.default`;
    this.app = new ConfidentialClientApplication({
      auth: { clientId: options.clientId, clientSecret: options.clientSecret, ...authorityOptions(options.tenantId) },
      system: { networkClient: redirectingNetworkClient(options.loginUrl) },
    });
  }

  health(): { ok: boolean; lastError?: string; lastErrorAt?: string } {
    if (!this.lastError) return { ok: true };
    return { ok: false, lastError: this.lastError.message, lastErrorAt: new Date(this.lastError.at).toISOString() };
  }

  /** MSAL caches the token in memory and renews it before expiry; we hold it until then. */
  async getToken(): Promise<string> {
    if (this.held && Date.now() < this.held.renewAt) return this.held.token;
    this.pending ??= this.acquire().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async acquire(): Promise<string> {
    const details = { service: "entra" as const, method: "POST", path: `/${this.options.tenantId}/oauth2/v2.0/token` };
    try {
      const result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope] });
      if (!result?.accessToken) throw new AuthError("Dataverse sign-in returned no token", details);
      this.lastError = undefined;
      // MSAL renews a token 5 minutes before it expires (tokenRenewalOffsetSeconds), or at refreshOn.
      const expires = result.expiresOn?.getTime() ?? 0;
      const renewAt = Math.min(expires - RENEWAL_OFFSET_MS, result.refreshOn?.getTime() ?? Number.POSITIVE_INFINITY);
      this.held = renewAt > Date.now() ? { token: result.accessToken, renewAt } : undefined;
      return result.accessToken;
    } catch (err) {
      if (err instanceof AuthError) throw this.record(err);
      const code = (err as { errorCode?: string }).errorCode ?? "";
      const message = (err as Error).message ?? String(err);
      const transient = /network|timeout|ECONN|fetch failed/i.test(message + code);
      const wrapped = transient
        ? new TransientError(`Dataverse sign-in: the token endpoint did not answer (${code || "network"})`, { ...details, cause: err })
        : new AuthError(
            `Dataverse sign-in failed (${code || "unknown"}): check DATAVERSE_TENANT_ID, DATAVERSE_CLIENT_ID and DATAVERSE_CLIENT_SECRET, and that the application user exists in the environment.`,
            { ...details, code, cause: err },
          );
      throw this.record(wrapped);
    }
  }

  private record<E extends Error>(err: E): E {
    this.lastError = { message: err.message, at: Date.now() };
    return err;
  }
}
