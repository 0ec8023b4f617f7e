/**
 * Partner Center client: Referrals API (`/v1.0/engagements/referrals`) and Webhooks API
 * (`/webhooks/v1/registration`), App+User tokens, typed errors. No retries here: the queue retries.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ValidationError } from "../http/errors";
import { HttpTransport } from "../http/transport";
import type { RefreshTokenProvider } from "../auth/partner-center-token";

export const REFERRALS_RESOURCE = "https://api.partner.microsoft.com";
export const WEBHOOKS_RESOURCE = "https://api.partnercenter.microsoft.com";

export const REFERRAL_EVENTS = [
  "referral-created",
  "referral-updated",
  "related-referral-created",
  "related-referral-updated",
] as const;

/** The few fields every referral must have for the bridge to act on it; the sync model parses the rest. */
const ReferralEnvelope = z
  .object({ id: z.string().min(1), eTag: z.string().optional().nullable() })
  .loose();
export type ReferralJson = z.infer<typeof ReferralEnvelope>;

const ReferralPage = z
  .object({ value: z.array(ReferralEnvelope), "@odata.nextLink": z.string().optional().nullable() })
  .loose();

const Registration = z
  .object({
    WebhookUrl: z.string().optional(),
    webhookUrl: z.string().optional(),
    WebhookEvents: z.array(z.string()).optional(),
    webhookEvents: z.array(z.string()).optional(),
    SubscriberId: z.string().optional(),
    subscriberId: z.string().optional(),
  })
  .loose()
  .transform((r) => ({
    webhookUrl: r.WebhookUrl ?? r.webhookUrl ?? "",
    webhookEvents: r.WebhookEvents ?? r.webhookEvents ?? [],
    subscriberId: r.SubscriberId ?? r.subscriberId,
  }));
export type WebhookRegistration = z.output<typeof Registration>;

export type JsonPatchOperation = { op: "replace" | "add"; path: string; value: unknown };

export interface PartnerCenterClientOptions {
  readonly apiUrl: string;
  readonly webhooksUrl: string;
  readonly tokens: Pick<RefreshTokenProvider, "getToken" | "invalidate">;
  readonly timeoutMs?: number;
  readonly maxConcurrency?: number;
}

export interface ListOptions {
  readonly filter?: string;
  readonly orderby?: string;
  readonly top?: number;
  readonly select?: readonly string[];
}

/** OData string literal: single quotes doubled. Values never reach a query any other way. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Partner Center's 401 for an App+User token whose sign-in did not pass MFA (enforced since 2026-04-01). */
export const MFA_REQUIRED_CODE = "900421";

const describePcError = (status: number, body: unknown) => {
  const b = (body ?? {}) as { code?: unknown; description?: unknown; message?: unknown };
  const code = b.code === undefined ? undefined : String(b.code);
  if (status === 401 && code === MFA_REQUIRED_CODE)
    return {
      code,
      message:
        "Partner Center requires multi-factor authentication for App+User calls (error 900421): the service account's refresh token comes from a sign-in without MFA. Run cosell-bridge login and sign in with MFA (docs/install.md).",
    };
  const message = [b.description, b.message].find((x): x is string => typeof x === "string") ?? `HTTP ${status}`;
  return { message, code };
};

export class PartnerCenterClient {
  private readonly api: HttpTransport;
  private readonly webhooks: HttpTransport;
  private readonly listPath = "/v1.0/engagements/referrals";

  constructor(private readonly options: PartnerCenterClientOptions) {
    this.api = new HttpTransport({
      service: "partner-center",
      baseUrl: options.apiUrl,
      timeoutMs: options.timeoutMs,
      maxConcurrency: options.maxConcurrency ?? 16,
      describeError: describePcError,
    });
    this.webhooks = new HttpTransport({
      service: "partner-center",
      baseUrl: options.webhooksUrl,
      timeoutMs: options.timeoutMs,
      maxConcurrency: 4,
      describeError: describePcError,
    });
  }

  private async headers(resource: string, correlationId?: string, extra?: Record<string, string>) {
    return {
      authorization: `Bearer ${await this.options.tokens.getToken(resource)}`,
      accept: "application/json",
      "ms-requestid": randomUUID(),
      "ms-correlationid": correlationId ?? randomUUID(),
      ...extra,
    };
  }

  async getReferral(id: string, correlationId?: string): Promise<ReferralJson> {
    const res = await this.api.send({
      method: "GET",
      path: `${this.listPath}/${encodeURIComponent(id)}`,
      headers: await this.headers(REFERRALS_RESOURCE, correlationId),
    });
    return this.parseReferral(res.json, "GET referral");
  }

  async createReferral(body: Record<string, unknown>, correlationId?: string): Promise<ReferralJson> {
    const res = await this.api.send({
      method: "POST",
      path: this.listPath,
      headers: await this.headers(REFERRALS_RESOURCE, correlationId, { "content-type": "application/json" }),
      body: JSON.stringify(body),
    });
    return this.parseReferral(res.json, "create referral");
  }

  /** JSON Patch with If-Match (when given) and `Prefer: return=representation`. */
  async patchReferral(
    id: string,
    ops: readonly JsonPatchOperation[],
    options: { ifMatch?: string; correlationId?: string } = {},
  ): Promise<ReferralJson | undefined> {
    const extra: Record<string, string> = { "content-type": "application/json", prefer: "return=representation" };
    if (options.ifMatch) extra["if-match"] = options.ifMatch;
    const res = await this.api.send({
      method: "PATCH",
      path: `${this.listPath}/${encodeURIComponent(id)}`,
      headers: await this.headers(REFERRALS_RESOURCE, options.correlationId, extra),
      body: JSON.stringify(ops),
    });
    return res.status === 204 || res.json === undefined ? undefined : this.parseReferral(res.json, "update referral");
  }

  /**
   * Every referral matching the query, page by page. The documented nextLink sample points at a
   * different path (`/v1.0/referrals`) than the list itself, so only its query string is kept and
   * re-applied to the list URL of the configured host.
   */
  async *listReferrals(options: ListOptions = {}, correlationId?: string): AsyncGenerator<ReferralJson[]> {
    const q = new URLSearchParams();
    if (options.filter) q.set("$filter", options.filter);
    if (options.orderby) q.set("$orderby", options.orderby);
    if (options.top !== undefined) q.set("$top", String(options.top));
    if (options.select?.length) q.set("$select", options.select.join(","));
    let path: string | undefined = `${this.listPath}${q.size ? `?${q.toString()}` : ""}`;
    let pages = 0;
    while (path) {
      const res = await this.api.send({ method: "GET", path, headers: await this.headers(REFERRALS_RESOURCE, correlationId) });
      const page = ReferralPage.safeParse(res.json);
      if (!page.success)
        throw new ValidationError("Partner Center list answer is not an OData collection", {
          service: "partner-center",
          method: "GET",
          path: this.listPath,
          cause: page.error,
        });
      yield page.data.value;
      const next = page.data["@odata.nextLink"];
      if (!next) break;
      if (++pages > 100_000) throw new Error("Partner Center paging did not end");
      const query = next.includes("?") ? next.slice(next.indexOf("?")) : "";
      const nextPath = `${this.listPath}${query}`;
      if (nextPath === path) break; // a server that repeats its own link would loop for ever
      path = nextPath;
    }
  }

  // ---- Webhooks API -------------------------------------------------------------------------

  async getWebhookRegistration(): Promise<WebhookRegistration | undefined> {
    try {
      const res = await this.webhooks.send({
        method: "GET",
        path: "/webhooks/v1/registration",
        headers: await this.headers(WEBHOOKS_RESOURCE),
      });
      return res.json === undefined ? undefined : Registration.parse(res.json);
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw err;
    }
  }

  async registerWebhook(webhookUrl: string, events: readonly string[], mode: "create" | "replace"): Promise<WebhookRegistration> {
    const res = await this.webhooks.send({
      method: mode === "create" ? "POST" : "PUT",
      path: "/webhooks/v1/registration",
      headers: await this.headers(WEBHOOKS_RESOURCE, undefined, { "content-type": "application/json" }),
      body: JSON.stringify({ WebhookUrl: webhookUrl, WebhookEvents: events }),
    });
    return Registration.parse(res.json);
  }

  async listWebhookEvents(): Promise<string[]> {
    const res = await this.webhooks.send({
      method: "GET",
      path: "/webhooks/v1/registration/events",
      headers: await this.headers(WEBHOOKS_RESOURCE),
    });
    return z.array(z.string()).parse(res.json);
  }

  async sendValidationEvent(): Promise<string> {
    const res = await this.webhooks.send({
      method: "POST",
      path: "/webhooks/v1/registration/validationEvents",
      headers: await this.headers(WEBHOOKS_RESOURCE),
    });
    return z.object({ correlationId: z.string() }).loose().parse(res.json).correlationId;
  }

  private parseReferral(json: unknown, what: string): ReferralJson {
    const r = ReferralEnvelope.safeParse(json);
    if (!r.success)
      throw new ValidationError(`Partner Center ${what}: the answer is not a referral`, {
        service: "partner-center",
        method: "GET",
        path: this.listPath,
        cause: r.error,
      });
    return r.data;
  }

  async close(): Promise<void> {
    await Promise.all([this.api.close(), this.webhooks.close()]);
  }
}
