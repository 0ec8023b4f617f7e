/**
 * Partner Center emulator: the Referrals API and the Webhooks API as documented
 * (specs/partner-center-api.md), signed event delivery, and a sandbox-only control API under
 * `/_emulator/`. See docs/sandbox-partner-center.md for every endpoint and each reading we chose.
 *
 *   /v1.0/engagements/referrals[/{id}]         audience https://api.partner.microsoft.com (App+User)
 *   /webhooks/v1/registration[/…]              audience https://api.partnercenter.microsoft.com
 *   /_emulator/…                               no auth: test control, never part of the real API
 */
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";
import { FaultInjector, type FaultSettingsInput } from "../faults";
import { hasMfa, type TokenClaims, type TokenVerifier } from "../identity";
import { evaluateFilter, selectProperties, type FilterExpression } from "../odata";
import { createDispatchIdentity, CERTIFICATE_FILE_NAME, type DispatchIdentity } from "./certificate";
import { Clock, parseServerInstant } from "./clock";
import { PartnerCenterError, badRequest, mfaRequired, notFound } from "./errors";
import { readListQuery, SkipTokens } from "./list-query";
import type { Referral } from "./referral-shape";
import { ReferralService, type Commit, type Partner } from "./referral-service";
import type { StoredReferral } from "./referral-store";
import { parseRegistration, registrationBody, SUPPORTED_EVENTS, WebhookDispatcher, type DeliveryRecord } from "./webhooks";

export const REFERRALS_AUDIENCE = "https://api.partner.microsoft.com";
export const WEBHOOKS_AUDIENCE = "https://api.partnercenter.microsoft.com";
/** DESIGN §4: the sandbox's usual Partner Center port (tests use 0). */
export const DEFAULT_PARTNER_CENTER_PORT = 7071;
export const DEFAULT_PARTNER: Partner = {
  organizationId: "8f2d4a61-3b5e-4c7d-9e10-2a4b6c8d0e1f",
  organizationName: "Contoso Consulting (sandbox partner)",
};

/** pino-compatible (pino's `(obj, msg)` signature); console works too. */
export interface EmulatorLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface PartnerCenterEmulatorOptions {
  port?: number;
  host?: string;
  tokens: TokenVerifier;
  faults?: FaultSettingsInput;
  partner?: Partner;
  webhookRetry?: {
    /** Attempts before an event goes to the offline queue (documented: 10). */
    attempts?: number;
    /** First retry delay; doubles each attempt (undocumented interval; default 500 ms). */
    baseDelayMs?: number;
    maxDelayMs?: number;
    /** How long one attempt may take before it counts as failed (default 10 s). */
    timeoutMs?: number;
  };
  /** Max concurrent webhook attempts (default 32). */
  webhookConcurrency?: number;
  /** Documented 2 per minute; 0 turns the limit off. */
  validationEventsPerMinute?: number;
  /** Page size of the list endpoint (undocumented; default 100). */
  pageSize?: number;
  /** Base of the link a seller follows to see a referral (default: this emulator's referral page). */
  referralLinkBase?: string;
  /** URL clients should see (links, nextLink, ResourceUri, certificate URL) if not the listening one. */
  publicUrl?: string;
  /** Accept app-only tokens on the Referrals API (the real one is App+User only). */
  allowAppOnlyReferrals?: boolean;
  /** Reuse a signing key + certificate (key generation takes ~1 s). */
  signingIdentity?: DispatchIdentity;
  /** Bound of the in-memory delivery and change logs (default 200 000 each; trimmed in batches, so up to ~6 % more). */
  maxLogEntries?: number;
  logger?: EmulatorLogger;
}

export interface CommitEvent {
  readonly seq: number;
  readonly referralId: string;
  readonly engagementId: string;
  readonly eventName: Commit["eventName"];
  /** Epoch ms (wall clock) with a sub-millisecond fraction (clock.ts). */
  readonly at: number;
  readonly actor: Commit["actor"];
  readonly eTag: string;
  readonly callerId?: string;
}

export interface PartnerCenterEmulator {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly faults: FaultInjector;
  /** 'commit' (CommitEvent) on every accepted change; 'delivery' (DeliveryRecord) when a delivery ends. */
  readonly events: EventEmitter;
  readonly certificatePem: string;
  /** The root CA that issued the signing certificate: what the sandbox's bridge trusts. */
  readonly rootCertificatePem: string;
  readonly certificateUrl: string;
  readonly partner: Partner;
  close(): Promise<void>;
  /** Forgets referrals, the webhook registration, deliveries, changes; faults back to none. */
  reset(): void;
  /** The referral as GET would return it, or undefined. */
  getReferral(id: string): Referral | undefined;
  referralLink(id: string): string;
  deliveries(): readonly DeliveryRecord[];
  changes(): readonly CommitEvent[];
}

const MicrosoftResponseSchema = z
  .object({
    decision: z.enum(["accept", "decline"]),
    reason: z.string().max(1024).optional(),
    microsoftSeller: z.object({
      firstName: z.string().min(1),
      lastName: z.string().min(1),
      email: z.string().email(),
      phoneNumber: z.string().optional(),
    }),
    microsoftCrmId: z.string().min(1).max(100).optional(),
    notes: z.string().max(4000).optional(),
  })
  .strict();

const ExpireDueSchema = z.object({ asOf: z.string().optional() }).strict();

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The GUID of an `engagementId eq <guid>` term that the whole filter requires (the filter itself, or
 * a term of its top-level `and`), so a listing by engagement reads the engagement's index instead
 * of every referral. GUIDs compare case-insensitively, and a GUID never equals a value of another
 * shape, so the engagement's referrals (ignoring case) hold every match; the filter still decides.
 */
function engagementGuidTerm(filter: FilterExpression): string | undefined {
  const terms = filter.kind === "logical" && filter.operator === "and" ? filter.operands : [filter];
  for (const t of terms) {
    if (t.kind !== "comparison" || t.operator !== "eq") continue;
    const [prop, lit] = t.left.kind === "property" ? [t.left, t.right] : [t.right, t.left];
    if (prop.kind !== "property" || lit.kind !== "literal" || prop.variable !== undefined) continue;
    if (prop.path.length !== 1 || prop.path[0] !== "engagementId") continue;
    const l = lit.literal;
    if ((l.type === "string" || l.type === "guid") && GUID.test(l.value)) return l.value;
  }
  return undefined;
}

export async function startPartnerCenterEmulator(options: PartnerCenterEmulatorOptions): Promise<PartnerCenterEmulator> {
  const partner = options.partner ?? DEFAULT_PARTNER;
  const identity = options.signingIdentity ?? (await createDispatchIdentity());
  const clock = new Clock();
  const faults = new FaultInjector(options.faults ?? {});
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const logger = options.logger;
  const pageSize = options.pageSize ?? 100;
  const maxLog = options.maxLogEntries ?? 200_000;
  const skipTokens = new SkipTokens();
  const changeLog: CommitEvent[] = [];
  let baseUrl = "";
  const publicUrl = (): string => (options.publicUrl ?? baseUrl).replace(/\/+$/, "");
  const certificateUrl = (): string => `${publicUrl()}/_emulator/certificates/${CERTIFICATE_FILE_NAME}`;
  const referralLink = (id: string): string =>
    options.referralLinkBase ? `${options.referralLinkBase.replace(/\/+$/, "")}/${id}` : `${publicUrl()}/_emulator/partner-center/referrals/${id}`;

  const dispatcher = new WebhookDispatcher({
    clock,
    faults,
    sign: identity.sign,
    certificateUrl,
    partnerId: partner.organizationId,
    attempts: options.webhookRetry?.attempts ?? 10,
    baseDelayMs: options.webhookRetry?.baseDelayMs ?? 500,
    maxDelayMs: options.webhookRetry?.maxDelayMs ?? 60_000,
    timeoutMs: options.webhookRetry?.timeoutMs ?? 10_000,
    concurrency: options.webhookConcurrency ?? 32,
    maxLog,
    validationEventsPerMinute: options.validationEventsPerMinute ?? 2,
    onDelivery: (record) => events.emit("delivery", record),
    onError: (message, data) => logger?.warn(data, message),
  });

  const service = new ReferralService(partner, clock, (commit: Commit, stored: StoredReferral) => {
    const event: CommitEvent = {
      seq: commit.seq,
      referralId: commit.referralId,
      engagementId: commit.engagementId,
      eventName: commit.eventName,
      at: commit.at,
      actor: commit.actor,
      eTag: commit.eTag,
      ...(commit.callerId === undefined ? {} : { callerId: commit.callerId }),
    };
    changeLog.push(event);
    if (changeLog.length > maxLog + Math.max(64, maxLog >> 4)) changeLog.splice(0, changeLog.length - maxLog);
    events.emit("commit", event);
    // The documented ResourceUri differs from the Referrals API path: clients take the last segment.
    dispatcher.publish(commit.eventName, `${publicUrl()}/engagements/v1/referrals/${stored.doc.id}`, "referral", commit.instant, stored.doc.id);
  });

  const toResource = (stored: StoredReferral): Referral => {
    const doc = structuredClone(stored.doc);
    const base = publicUrl();
    doc.links = {
      self: { uri: `${base}/v1.0/engagements/referrals/${doc.id}`, method: "GET" },
      relatedReferrals: { uri: `${base}/v1.0/engagements/referrals?$filter=engagementId eq '${doc.engagementId}'`, method: "GET" },
    };
    return doc;
  };
  const entity = (stored: StoredReferral): Record<string, unknown> => ({
    "@odata.context": `${publicUrl()}/v1.0/$metadata#Referrals/$entity`,
    ...toResource(stored),
  });
  const lookup = (id: string): StoredReferral => service.get(id.toLowerCase());

  // Held "timeout" faults end when the emulator closes, so nothing keeps the process alive.
  const closing = new AbortController();
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (closing.signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        closing.signal.removeEventListener("abort", done);
        resolve();
      }
      closing.signal.addEventListener("abort", done, { once: true });
    });

  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: 4 * 1024 * 1024,
    // ASP.NET routes match case-insensitively; route parameters keep their case.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
  });

  // JSON only, as an ASP.NET [FromBody] endpoint: any other media type is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(["application/json", "application/json-patch+json"], { parseAs: "string" }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(badRequest(`The request body is not valid JSON: ${(e as Error).message}`, e), undefined);
    }
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof PartnerCenterError) {
      for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
      if (err.status === 401) void reply.header("www-authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/common"`);
      return reply.code(err.status).send(err.body());
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      // Fastify's own 4xx (unsupported media type, body too large, …) in Partner Center's error shape.
      const code = status === 413 ? "RequestEntityTooLarge" : status === 415 ? "UnsupportedMediaType" : "BadRequest";
      return reply.code(status).send({ ...new PartnerCenterError("BadRequest", (err as Error).message).body(), code });
    }
    logger?.error({ err, url: req.url, method: req.method }, "partner center emulator: unexpected error");
    return reply.code(500).send(new PartnerCenterError("InternalServerError", "An unexpected error occurred; callers may retry.").body());
  });

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(new PartnerCenterError("NotFound", `The requested resource doesn't exist: ${req.method} ${req.url.split("?")[0]}`).body()),
  );

  app.addHook("onRequest", async (req, reply) => {
    // MS-RequestId / MS-CorrelationId come back as sent (or fresh), on every answer.
    void reply.header("ms-requestid", header(req, "ms-requestid") ?? randomUUID());
    void reply.header("ms-correlationid", header(req, "ms-correlationid") ?? randomUUID());
    if (req.url.toLowerCase().startsWith("/_emulator")) return;
    if (faults.latencyMs > 0) await pause(faults.latencyMs);
    const fault = faults.drawRequestFault();
    switch (fault.kind) {
      case "none":
        return;
      case "error":
        return reply
          .code(fault.status)
          .send(new PartnerCenterError(fault.status === 500 ? "InternalServerError" : "ServiceUnavailable", "Injected fault: the service failed; callers may retry.").body());
      case "throttle":
        return reply
          .code(429)
          .header("retry-after", String(fault.retryAfterSeconds))
          .send({ statusCode: 429, message: `Rate limit is exceeded. Try again in ${fault.retryAfterSeconds} seconds.` });
      case "timeout":
        // Never answered and never applied: the lifecycle stops here (returning the hijacked reply).
        reply.hijack();
        await pause(fault.holdMs);
        req.raw.socket?.destroy();
        return reply;
    }
  });

  const authenticate = (req: FastifyRequest, audience: string | readonly string[], userOnly: boolean): TokenClaims => {
    const result = options.tokens.verify(header(req, "authorization"), audience);
    if (!result.ok) throw new PartnerCenterError("Unauthorized", `Authentication failed: ${result.reason}.`);
    if (userOnly && result.claims.idtyp !== "user" && !options.allowAppOnlyReferrals)
      throw new PartnerCenterError("Forbidden", "The Referrals API supports App+User authentication only; an app-only token was presented.");
    // Every App+User call, on both hosts, needs a sign-in that passed MFA; app-only tokens are not affected.
    if (result.claims.idtyp === "user" && !hasMfa(result.claims)) throw mfaRequired();
    return result.claims;
  };
  const referralsAuth = (req: FastifyRequest): void => void authenticate(req, REFERRALS_AUDIENCE, true);
  // The webhook's ResourceUri lives on the partnercenter host; accept either audience there.
  const resourceUriAuth = (req: FastifyRequest): void => void authenticate(req, [REFERRALS_AUDIENCE, WEBHOOKS_AUDIENCE], true);
  const webhooksAuth = (req: FastifyRequest): void => void authenticate(req, WEBHOOKS_AUDIENCE, false);

  const ignoredHeader = (reply: FastifyReply, ignored: readonly string[]): void => {
    if (ignored.length > 0) void reply.header("x-emulator-ignored-properties", ignored.join(",").slice(0, 2000));
  };

  // ---- Referrals API -------------------------------------------------------------------------

  app.post("/v1.0/engagements/referrals", async (req, reply) => {
    referralsAuth(req);
    const { stored, ignored } = service.createByPartner(req.body, { actor: "partner", callerId: header(req, "x-caller-id") });
    ignoredHeader(reply, ignored);
    return reply.code(201).header("location", `${publicUrl()}/v1.0/engagements/referrals/${stored.doc.id}`).send(entity(stored));
  });

  const list = async (req: FastifyRequest, reply: FastifyReply) => {
    referralsAuth(req);
    const q = readListQuery(req.query as Record<string, unknown>, skipTokens);
    const limit = Math.min(pageSize, q.remaining ?? Number.POSITIVE_INFINITY);
    const page: StoredReferral[] = [];
    let skipped = 0;
    if (limit > 0) {
      const engagement = q.filter ? engagementGuidTerm(q.filter) : undefined;
      const walk = engagement
        ? service.store.scanEngagement(engagement, q.orderBy, q.direction, q.after ?? undefined)
        : service.store.scan(q.orderBy, q.direction, q.after ?? undefined);
      for (const r of walk) {
        if (q.filter && !evaluateFilter(q.filter, r.doc)) continue;
        if (skipped < q.skip) {
          skipped++;
          continue;
        }
        page.push(r);
        if (page.length > limit) break;
      }
    }
    const more = page.length > limit;
    if (more) page.pop();
    const remaining = q.remaining === null ? null : q.remaining - page.length;
    const body: Record<string, unknown> = { "@odata.context": `${publicUrl()}/v1.0/$metadata#Referrals` };
    if (q.count) {
      let n = 0;
      for (const r of service.store.all()) if (!q.filter || evaluateFilter(q.filter, r.doc)) n++;
      body["@odata.count"] = n;
    }
    body.value = page.map((r) => {
      const resource = toResource(r);
      return q.select ? selectProperties(resource as unknown as Record<string, unknown>, q.select) : resource;
    });
    const last = page[page.length - 1];
    if (more && last && (remaining === null || remaining > 0)) {
      const token = skipTokens.encode(q, { at: q.orderBy === "createdDateTime" ? last.created : last.updated, id: last.doc.id }, remaining);
      body["@odata.nextLink"] = `${publicUrl()}/v1.0/engagements/referrals?$skiptoken=${encodeURIComponent(token)}`;
    }
    return reply.send(body);
  };
  app.get("/v1.0/engagements/referrals", list);
  // The documented nextLink sample points at /v1.0/referrals (specs §2.4): serve it too.
  app.get("/v1.0/referrals", list);

  const getOne = (auth: (req: FastifyRequest) => void) => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    auth(req);
    return reply.send(entity(lookup(req.params.id)));
  };
  const patchOne = (auth: (req: FastifyRequest) => void) => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    auth(req);
    const stored = service.patch(lookup(req.params.id).doc.id, req.body, {
      actor: "partner",
      ifMatch: header(req, "if-match"),
      callerId: header(req, "x-caller-id"),
    });
    if (/return=representation/i.test(header(req, "prefer") ?? "")) return reply.code(200).header("preference-applied", "return=representation").send(entity(stored));
    return reply.code(204).send();
  };
  const putOne = (auth: (req: FastifyRequest) => void) => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    auth(req);
    const stored = service.put(lookup(req.params.id).doc.id, req.body, {
      actor: "partner",
      ifMatch: header(req, "if-match"),
      callerId: header(req, "x-caller-id"),
    });
    return reply.code(200).send(entity(stored));
  };
  app.get("/v1.0/engagements/referrals/:id", getOne(referralsAuth));
  app.patch("/v1.0/engagements/referrals/:id", patchOne(referralsAuth));
  app.put("/v1.0/engagements/referrals/:id", putOne(referralsAuth));
  // The webhook's ResourceUri path (the 2019 Microsoft flow did GET/PUT on it).
  app.get("/engagements/v1/referrals/:id", getOne(resourceUriAuth));
  app.patch("/engagements/v1/referrals/:id", patchOne(resourceUriAuth));
  app.put("/engagements/v1/referrals/:id", putOne(resourceUriAuth));

  // ---- Webhooks API --------------------------------------------------------------------------

  app.get("/webhooks/v1/registration", async (req, reply) => {
    webhooksAuth(req);
    const reg = dispatcher.current;
    if (!reg) throw notFound("No webhook registration exists for this partner.");
    return reply.send(registrationBody(reg));
  });
  app.post("/webhooks/v1/registration", async (req, reply) => {
    webhooksAuth(req);
    return reply.send(registrationBody(dispatcher.create(parseRegistration(req.body))));
  });
  app.put("/webhooks/v1/registration", async (req, reply) => {
    webhooksAuth(req);
    return reply.send(registrationBody(dispatcher.replace(parseRegistration(req.body))));
  });
  app.get("/webhooks/v1/registration/events", async (req, reply) => {
    webhooksAuth(req);
    return reply.send([...SUPPORTED_EVENTS]);
  });
  app.post("/webhooks/v1/registration/validationEvents", async (req, reply) => {
    webhooksAuth(req);
    const correlationId = dispatcher.sendValidationEvent();
    dispatcher.publish(
      "test-created",
      `${publicUrl()}/webhooks/v1/registration/validationEvents/${correlationId}`,
      "test",
      clock.now(),
      correlationId,
    );
    return reply.send({ correlationId });
  });
  app.get("/webhooks/v1/registration/validationEvents/:correlationId", async (req: FastifyRequest<{ Params: { correlationId: string } }>, reply) => {
    webhooksAuth(req);
    const v = dispatcher.validationEvent(req.params.correlationId.toLowerCase());
    if (!v) throw notFound(`No validation event '${req.params.correlationId}'.`);
    return reply.send(v);
  });

  // ---- Sandbox control (no auth; never part of the real API) ---------------------------------

  app.get("/_emulator/health", async () => ({ status: "ok", referrals: service.store.size }));

  app.post("/_emulator/inbound-referrals", async (req, reply) => {
    const { stored, ignored } = service.createInbound(req.body);
    ignoredHeader(reply, ignored);
    return reply.code(201).send(entity(stored));
  });
  app.get("/_emulator/referrals/:id", async (req: FastifyRequest<{ Params: { id: string } }>) => entity(lookup(req.params.id)));
  app.patch("/_emulator/referrals/:id", async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const stored = service.patch(lookup(req.params.id).doc.id, req.body, { actor: "microsoft", ifMatch: header(req, "if-match") });
    return reply.send(entity(stored));
  });
  app.post("/_emulator/referrals/:id/microsoft-response", async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const parsed = MicrosoftResponseSchema.safeParse(req.body);
    if (!parsed.success) throw badRequest(`Invalid microsoft-response body: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const { stored, created } = service.microsoftResponse(lookup(req.params.id).doc.id, parsed.data);
    return reply.code(created ? 201 : 200).send(entity(stored));
  });
  app.post("/_emulator/referrals/:id/expire", async (req: FastifyRequest<{ Params: { id: string } }>) => entity(service.expire(lookup(req.params.id).doc.id)));
  app.post("/_emulator/expire-due", async (req) => {
    const parsed = ExpireDueSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw badRequest("Body must be {} or {\"asOf\": \"<ISO 8601>\"}.");
    const asOf = parsed.data.asOf === undefined ? clock.now() : parseServerInstant(parsed.data.asOf);
    if (!asOf) throw badRequest("asOf must be an ISO 8601 date and time.");
    return { expired: service.expireDue(asOf) };
  });
  app.get("/_emulator/webhook-deliveries", async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const value = dispatcher
      .deliveries()
      .filter((d) => (q.status === undefined || d.status === q.status) && (q.eventName === undefined || d.eventName === q.eventName) && (q.resourceId === undefined || d.resourceId === q.resourceId));
    return { value };
  });
  app.delete("/_emulator/webhook-deliveries", async (_req, reply) => {
    dispatcher.clearDeliveries();
    return reply.code(204).send();
  });
  app.get("/_emulator/faults", async () => faults.current);
  app.put("/_emulator/faults", async (req) => {
    try {
      return faults.update((req.body ?? {}) as FaultSettingsInput);
    } catch (e) {
      if (e instanceof z.ZodError) throw badRequest(`Invalid fault settings: ${e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`, e);
      throw e;
    }
  });
  app.post("/_emulator/reset", async (_req, reply) => {
    reset();
    return reply.code(204).send();
  });
  app.get("/_emulator/changes", async (req) => {
    const since = Number((req.query as Record<string, string | undefined>).since ?? 0);
    if (!Number.isFinite(since)) throw badRequest("since must be a number (a commit seq).");
    return { value: changeLog.filter((c) => c.seq > since) };
  });
  app.get(`/_emulator/certificates/${CERTIFICATE_FILE_NAME}`, async (req, reply) => {
    if ((req.query as Record<string, string | undefined>).format === "pem")
      return reply.header("content-type", "application/x-pem-file").send(identity.certificatePem);
    return reply.header("content-type", "application/pkix-cert").send(identity.certificateDer);
  });
  app.get("/_emulator/partner-center/referrals/:id", async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const r = toResource(lookup(req.params.id));
    const rows: [string, unknown][] = [
      ["Name", r.name],
      ["Customer", r.customerProfile.name],
      ["Status", `${r.status} / ${r.substatus}`],
      ["Direction", r.direction],
      ["Type", r.type],
      ["Deal value", r.details.dealValue === null ? null : `${r.details.dealValue} ${r.details.currency ?? ""}`],
      ["Engagement", r.engagementId],
      ["External reference", r.externalReferenceId],
      ["Updated", r.updatedDateTime],
    ];
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.name ?? r.id)} · Partner Center (sandbox)</title></head><body><h1>${escapeHtml(r.name ?? r.id)}</h1><p>Sandbox stand-in for the Partner Center referral page.</p><table>${rows
      .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v === null || v === undefined ? "—" : String(v))}</td></tr>`)
      .join("")}</table></body></html>`;
    return reply.header("content-type", "text/html; charset=utf-8").send(html);
  });

  function reset(): void {
    service.reset();
    dispatcher.reset();
    changeLog.length = 0;
    faults.update({});
  }

  await app.listen({ port: options.port ?? 0, host: options.host ?? "127.0.0.1" });
  const address = app.server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;

  return {
    url: baseUrl,
    app,
    faults,
    events,
    certificatePem: identity.certificatePem,
    rootCertificatePem: identity.rootCertificatePem,
    get certificateUrl() {
      return certificateUrl();
    },
    partner,
    async close() {
      dispatcher.close();
      closing.abort();
      await app.close();
    },
    reset,
    getReferral(id) {
      const r = service.store.get(id.toLowerCase());
      return r ? toResource(r) : undefined;
    },
    referralLink,
    deliveries: () => dispatcher.deliveries(),
    changes: () => changeLog,
  };
}
