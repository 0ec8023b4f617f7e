/**
 * The HTTP shell of the Dataverse emulator (Fastify): bearer-token authentication against the
 * org's audience, caller resolution (application users by app id, users by Entra object id),
 * service protection, fault injection, the unit of work around each request (sync webhooks,
 * commit or rollback, commit log, async webhooks), and the `/_emulator/` control routes.
 */
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";
import { FaultInjector, FaultSettingsSchema, sleep } from "../faults";
import type { TokenVerifier } from "../identity";
import type { Caller, WriteScope } from "./data/operations";
import { DataverseError, Errors } from "./errors";
import { errorResponse, executeBatch, parseBatch } from "./api/batch";
import type { ApiContext, ApiRequest, ApiResponse } from "./api/http";
import { dispatch } from "./api/router";
import { provisionContract } from "./metadata/contract";
import type { Schema } from "./metadata/schema";
import { Organization, type CommitEntry, type SeededIds } from "./org";
import { DEFAULT_LIMITS, ServiceProtection, type ProtectionLimits } from "./protection";
import type { ClosePrimaryEntityId } from "./webhooks/context";
import { WebhookDispatcher, type WebhookDelivery } from "./webhooks/dispatcher";

export const API_PREFIX = "/api/data/v9.2";

export interface DataverseEmulatorOptions {
  port?: number;
  host?: string;
  tokens: TokenVerifier;
  /** The token audience this org accepts (default: the emulator's own origin). */
  resourceUrl?: string;
  faults?: FaultInjector;
  limits?: Partial<ProtectionLimits>;
  organizationName?: string;
  /** Seed EUR and the sandbox admin/seller users (USD, SYSTEM and the SDK messages are always there). */
  seed?: boolean;
  /** More routes on this origin (the sandbox form page). */
  extraRoutes?: (app: FastifyInstance) => void;
  /** Largest request body (a solution import carries the zip in base64). Default 128 MiB. */
  bodyLimit?: number;
  /**
   * What `PrimaryEntityId` of a Win/Lose webhook holds. WinOpportunity and LoseOpportunity are
   * unbound and carry the opportunity in `OpportunityClose.opportunityid`; what Dataverse puts in
   * PrimaryEntityId is unverified (docs/decisions.md), so the other readings can be chosen.
   * Default `opportunity`.
   */
  closePrimaryEntityId?: ClosePrimaryEntityId;
  /**
   * How long an alternate key added by solution import stays `Pending` before it is `Active`
   * (`EntityKeyIndexStatus`). Default 0: Active at once. Contract-provisioned keys are always Active.
   */
  keyIndexDelayMs?: number;
}

export interface DataverseEmulator {
  readonly url: string;
  readonly apiUrl: string;
  readonly resourceUrl: string;
  readonly app: FastifyInstance;
  readonly faults: FaultInjector;
  /** `commit` (CommitEntry) and `webhook` (WebhookDelivery). */
  readonly events: EventEmitter;
  /** Read access to the current schema (replaced by `reset()`). */
  readonly schema: Schema;
  readonly seededIds: SeededIds;
  readonly organization: Organization;
  readonly webhooks: { readonly deliveries: readonly WebhookDelivery[]; idle(): Promise<void>; clear(): void };
  close(): Promise<void>;
  /** Back to the start state (registered users stay); `keepCustomizations` re-applies contract provisioning and imports. */
  reset(options?: { keepCustomizations?: boolean }): void;
  provisionContract(): void;
  /** An application user with the security roles (by name) an admin gives it; none = no privileges. */
  registerApplicationUser(input: { applicationId: string; fullName: string; roles?: readonly string[] }): string;
  registerUser(input: { objectId: string; fullName: string; userPrincipalName?: string; roles?: readonly string[] }): string;
  /** Gives a user a security role by name (it applies once a role of that name exists). */
  assignRole(systemUserId: string, roleName: string): void;
}

function headerMap(req: FastifyRequest): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    m.set(k.toLowerCase(), Array.isArray(v) ? v.join(", ") : v);
  }
  return m;
}

function send(reply: FastifyReply, res: ApiResponse): FastifyReply {
  reply.code(res.status);
  for (const [k, v] of Object.entries(res.headers)) reply.header(k, v);
  if (res.json !== undefined) return reply.send(JSON.stringify(res.json));
  if (res.text !== undefined) return reply.send(res.text);
  return reply.send();
}

export async function startDataverseEmulator(options: DataverseEmulatorOptions): Promise<DataverseEmulator> {
  const host = options.host ?? "127.0.0.1";
  const org = new Organization({ name: options.organizationName ?? "sandbox", seed: options.seed ?? true, keyIndexDelayMs: options.keyIndexDelayMs });
  const faults = options.faults ?? new FaultInjector();
  const limits: ProtectionLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const protection = new ServiceProtection(limits);
  let url = "";
  let apiUrl = "";
  let resourceUrl = options.resourceUrl ?? "";
  const closing = new AbortController();
  const dispatcher = new WebhookDispatcher(org, faults, () => new URL(resourceUrl).host, org.events, closing.signal, options.closePrimaryEntityId);

  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 128 * 1024 * 1024 });

  /** One transaction: the handler, synchronous webhooks, then commit and the async webhooks. */
  async function unit<T>(caller: Caller, correlationId: string, run: (ctx: ApiContext) => T): Promise<T> {
    const scope: WriteScope = { caller, tx: org.store.begin(), operations: [], correlationId };
    const ctx: ApiContext = { org, scope, apiUrl, afterResponse: [] };
    let result: T;
    try {
      result = run(ctx);
      await dispatcher.runSync(scope.operations, correlationId, caller);
    } catch (err) {
      scope.tx.rollback();
      throw err;
    }
    scope.tx.commit();
    org.announce(scope.operations);
    dispatcher.enqueueAsync(scope.operations, correlationId, caller);
    for (const f of ctx.afterResponse) f();
    return result;
  }

  function authenticate(req: FastifyRequest): Caller {
    const verified = options.tokens.verify(req.headers.authorization, resourceUrl);
    if (!verified.ok) {
      throw new DataverseError(401, "", "", {
        "WWW-Authenticate": `Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, resource_id=${resourceUrl}/`,
      });
    }
    const found = org.findCaller(verified.claims);
    if (found.disabled) throw Errors.disabledUser(found.disabled);
    if (!found.caller) throw Errors.notAMember();
    const c = found.caller;
    // An application user's service principal object id is learnt from its first token.
    return verified.claims.idtyp === "app" && !c.azureactivedirectoryobjectid ? { ...c, azureactivedirectoryobjectid: verified.claims.oid } : c;
  }

  // The API and the control routes read raw bodies (JSON, multipart, zips in base64); routes added
  // through `extraRoutes` keep Fastify's default parsers, so this runs in its own plugin context.
  await app.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

    api.all(`${API_PREFIX}/*`, async (req, reply) => {
      const requestId = randomUUID();
      reply.header("x-ms-service-request-id", requestId);
      reply.header("REQ_ID", requestId);
      let release: (() => void) | undefined;
      try {
        const caller = authenticate(req);
        const rawUrl = req.raw.url ?? "";
        const q = rawUrl.indexOf("?");
        const rawPath = (q < 0 ? rawUrl : rawUrl.slice(0, q)).slice(API_PREFIX.length + 1);
        let path: string;
        try {
          path = decodeURIComponent(rawPath);
        } catch {
          throw Errors.querySyntax(`The request URL '${rawUrl}' is not correctly encoded.`);
        }
        const body = Buffer.isBuffer(req.body) ? req.body : undefined;
        const apiReq: ApiRequest = {
          method: req.method.toUpperCase(),
          path,
          query: new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1)),
          headers: headerMap(req),
          body,
          url: `${url}${rawUrl}`,
        };
        const isBatch = path === "$batch";
        let weight = 1;
        if (isBatch && body) {
          try {
            weight = Math.max(1, parseBatch(body, apiReq.headers.get("content-type")).reduce((n, i) => n + (i.kind === "changeset" ? i.requests.length : 1), 0));
          } catch {
            weight = 1; // executeBatch answers the parse error
          }
        }
        const admission = protection.admit(caller.systemuserid, weight);
        if (!admission.ok) throw admission.error;
        release = admission.release;
        reply.header("x-ms-ratelimit-burst-remaining-xrm-requests", String(admission.remaining));

        if (faults.latencyMs > 0) await sleep(faults.latencyMs);
        const fault = faults.drawRequestFault();
        if (fault.kind === "timeout") {
          await sleep(fault.holdMs);
          reply.hijack();
          req.raw.socket.destroy();
          return reply;
        }
        if (fault.kind === "error") throw Errors.injectedServerError(fault.status);
        if (fault.kind === "throttle") throw Errors.rateLimit(limits.requestsPerWindow, limits.windowSeconds, fault.retryAfterSeconds);

        const correlationId = randomUUID();
        const res = isBatch
          ? await executeBatch(apiReq, apiUrl, (run) => unit(caller, correlationId, run), dispatch)
          : await unit(caller, correlationId, (ctx) => dispatch(ctx, apiReq));
        return send(reply, res);
      } catch (err) {
        if (err instanceof DataverseError && err.status === 401) {
          reply.code(401);
          for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
          return reply.send();
        }
        return send(reply, errorResponse(err));
      } finally {
        release?.();
      }
    });

    // ---- /_emulator/ control (no auth: sandbox only) ------------------------------------------
    const readJson = (req: FastifyRequest): unknown => {
      const b = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
      return b.trim() === "" ? {} : JSON.parse(b);
    };
    api.get("/_emulator", async () => ({
      endpoints: [
        "GET /_emulator/faults",
        "PUT /_emulator/faults",
        "GET /_emulator/webhook-deliveries",
        "DELETE /_emulator/webhook-deliveries",
        "GET /_emulator/changes?since=<epoch ms>",
        "POST /_emulator/reset[?keep=customizations]",
        "POST /_emulator/provision-contract",
        "GET /_emulator/solutions",
        "POST /_emulator/keys/{entity}/{key}/fail",
        "POST /_emulator/keys/{entity}/{key}/activate",
      ],
    }));
    api.get("/_emulator/faults", async () => faults.current);
    api.put("/_emulator/faults", async (req, reply) => {
      let parsed;
      try {
        parsed = FaultSettingsSchema.safeParse(readJson(req));
      } catch (err) {
        return reply.code(400).send({ error: `invalid JSON: ${(err as Error).message}` });
      }
      if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") });
      return faults.update(parsed.data);
    });
    api.get("/_emulator/webhook-deliveries", async () => ({ value: dispatcher.deliveries }));
    api.delete("/_emulator/webhook-deliveries", async (_req, reply) => {
      dispatcher.clear();
      return reply.code(204).send();
    });
    api.get("/_emulator/changes", async (req) => {
      const since = Number((req.query as Record<string, string | undefined>).since ?? "0");
      const value: CommitEntry[] = org.changes.filter((c) => c.at > (Number.isFinite(since) ? since : 0));
      return { value };
    });
    api.post("/_emulator/reset", async (req, reply) => {
      const keep = (req.query as Record<string, string | undefined>).keep;
      reset({ keepCustomizations: keep === "customizations" });
      return reply.code(204).send();
    });
    // What an admin sees under Solutions and import history, without a user of the org (the
    // sandbox's bridge holds least privilege and may not read these tables).
    api.get("/_emulator/solutions", async () => {
      const rows = (entity: string, columns: readonly string[]) =>
        [...org.store.scan(entity)].map((r) => Object.fromEntries(columns.map((c) => [c, r.row[c] ?? null])));
      return {
        solutions: rows("solution", ["uniquename", "version", "ismanaged"]),
        importjobs: rows("importjob", ["solutionname", "progress"]),
      };
    });
    api.post("/_emulator/keys/:entity/:key/:action", async (req, reply) => {
      const params = z.object({ entity: z.string(), key: z.string(), action: z.enum(["fail", "activate"]) }).safeParse(req.params);
      if (!params.success) return reply.code(404).send({ error: "unknown key action (fail or activate)" });
      const { entity, key, action } = params.data;
      if (!org.schema.entity(entity)?.keys.has(key))
        return reply.code(404).send({ error: `no alternate key '${key}' on table '${entity}'` });
      org.schema.setKeyIndexStatus(entity, key, action === "fail" ? "Failed" : "Active");
      return reply.code(204).send();
    });
    api.post("/_emulator/provision-contract", async (_req, reply) => {
      provision();
      return reply.code(204).send();
    });
  });

  options.extraRoutes?.(app);

  function reset(options: { keepCustomizations?: boolean } = {}): void {
    org.reset(options);
    dispatcher.clear();
    protection.reset();
  }

  function provision(): void {
    provisionContract(org);
    org.rememberCustomization(() => provisionContract(org));
  }

  await app.listen({ port: options.port ?? 0, host });
  const addr = app.server.address() as AddressInfo;
  url = `http://${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
  apiUrl = `${url}${API_PREFIX}`;
  if (!resourceUrl) resourceUrl = url;
  resourceUrl = resourceUrl.replace(/\/+$/, "");

  return {
    url,
    apiUrl,
    resourceUrl,
    app,
    faults,
    events: org.events,
    get schema() {
      return org.schema;
    },
    seededIds: org.seededIds,
    organization: org,
    webhooks: {
      get deliveries() {
        return dispatcher.deliveries;
      },
      idle: () => dispatcher.idle(),
      clear: () => dispatcher.clear(),
    },
    close: async () => {
      closing.abort();
      await app.close();
    },
    reset,
    provisionContract: provision,
    registerApplicationUser: (input) => org.registerApplicationUser(input),
    registerUser: (input) => org.registerUser(input),
    assignRole: (systemUserId, roleName) => org.security.assignByName(systemUserId, roleName),
  };
}
