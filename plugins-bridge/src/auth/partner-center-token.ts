/**
 * Partner Center App+User tokens from a service account's refresh token (the Referrals API accepts
 * only App+User). Uses the v1 token endpoint with `resource=` — the documented form (specs §1) —
 * which also lets one refresh token serve both the Referrals API and the Webhooks API audiences.
 *
 * Tokens are refreshed ahead of expiry; concurrent callers share one refresh; a rotated refresh
 * token is handed to `onRefreshTokenRotated` so the store keeps the newest. A failed refresh is
 * loud: it throws AuthError and stays visible in `health()` until a refresh succeeds.
 */
import { z } from "zod";
import { AuthError, TransientError, errorForStatus } from "../http/errors";
import { outboundFetch } from "../http/proxy";

const TokenResponse = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.union([z.string(), z.number()]).transform(Number),
});

const TokenError = z.object({ error: z.string(), error_description: z.string().optional() }).loose();

export interface RefreshTokenProviderOptions {
  readonly loginUrl: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  /** Refresh this long before expiry (default 5 minutes, at most half the token's life). */
  readonly refreshAheadMs?: number;
  readonly onRefreshTokenRotated?: (token: string) => void | Promise<void>;
  readonly now?: () => number;
  readonly fetchImpl?: typeof fetch;
}

interface CachedToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  readonly refreshAt: number;
}

export interface TokenHealth {
  readonly ok: boolean;
  readonly lastError?: string;
  readonly lastErrorAt?: string;
}

export class RefreshTokenProvider {
  private refreshToken: string;
  private readonly cache = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private lastError?: { message: string; at: number };
  private readonly now: () => number;

  constructor(private readonly options: RefreshTokenProviderOptions) {
    this.refreshToken = options.refreshToken;
    this.now = options.now ?? Date.now;
  }

  /** Replaces the refresh token (e.g. the newest one kept in the store). */
  useRefreshToken(token: string): void {
    this.refreshToken = token;
  }

  health(): TokenHealth {
    if (!this.lastError) return { ok: true };
    return { ok: false, lastError: this.lastError.message, lastErrorAt: new Date(this.lastError.at).toISOString() };
  }

  async getToken(resource: string): Promise<string> {
    const cached = this.cache.get(resource);
    if (cached && this.now() < cached.refreshAt) return cached.accessToken;
    let pending = this.inflight.get(resource);
    if (!pending) {
      pending = this.redeem(resource).finally(() => this.inflight.delete(resource));
      this.inflight.set(resource, pending);
    }
    try {
      return (await pending).accessToken;
    } catch (err) {
      // A still-valid token beats an outage of the token endpoint.
      if (cached && this.now() < cached.expiresAt - 30_000 && err instanceof TransientError) return cached.accessToken;
      throw err;
    }
  }

  /** Forget a token the resource refused (e.g. revoked): the next call refreshes. */
  invalidate(resource: string): void {
    this.cache.delete(resource);
  }

  private async redeem(resource: string): Promise<CachedToken> {
    const o = this.options;
    const path = `/${encodeURIComponent(o.tenantId)}/oauth2/token`;
    if (!this.refreshToken)
      throw this.fail(
        new AuthError("Partner Center is not signed in: run cosell-bridge login (docs/install.md), or set PARTNER_CENTER_REFRESH_TOKEN.", {
          service: "entra",
          method: "POST",
          path,
        }),
      );
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: o.clientId,
      client_secret: o.clientSecret,
      refresh_token: this.refreshToken,
      resource,
    });
    const details = { service: "entra" as const, method: "POST", path };
    let res: Response;
    try {
      res = await (o.fetchImpl ?? outboundFetch)(`${o.loginUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: body.toString(),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw this.fail(new TransientError("Partner Center sign-in: the token endpoint did not answer", { ...details, cause: err }));
    }
    const json: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const e = TokenError.safeParse(json);
      const reason = e.success ? `${e.data.error}: ${firstLine(e.data.error_description)}` : `HTTP ${res.status}`;
      if (res.status === 400 || res.status === 401)
        throw this.fail(
          new AuthError(
            `Partner Center sign-in failed (${reason}). The service account's refresh token no longer works: sign the account in again with cosell-bridge login (docs/install.md).`,
            { ...details, status: res.status, code: e.success ? e.data.error : undefined },
          ),
        );
      throw this.fail(errorForStatus(res.status, `Partner Center sign-in: ${reason}`, details, res.headers.get("retry-after") ?? undefined));
    }
    const parsed = TokenResponse.safeParse(json);
    if (!parsed.success)
      throw this.fail(new AuthError("Partner Center sign-in: the token response is not what Entra ID sends", details));
    const lifeMs = Math.max(0, parsed.data.expires_in * 1000);
    const ahead = Math.min(this.options.refreshAheadMs ?? 5 * 60_000, lifeMs / 2);
    const now = this.now();
    const token = { accessToken: parsed.data.access_token, expiresAt: now + lifeMs, refreshAt: now + lifeMs - ahead };
    this.cache.set(resource, token);
    this.lastError = undefined;
    const rotated = parsed.data.refresh_token;
    if (rotated && rotated !== this.refreshToken) {
      this.refreshToken = rotated;
      await o.onRefreshTokenRotated?.(rotated);
    }
    return token;
  }

  private fail<E extends Error>(err: E): E {
    this.lastError = { message: err.message, at: this.now() };
    return err;
  }
}

function firstLine(s: string | undefined): string {
  return (s ?? "").split(/\r?\n/)[0] ?? "";
}
