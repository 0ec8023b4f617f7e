/**
 * The bridge's HTTP surface (Fastify):
 *
 *   POST /webhooks/partner-center   signed Partner Center events (raw bytes verified, ≤ 1 MB)
 *   POST /webhooks/dataverse        RemoteExecutionContext with the HttpHeader key (≤ 1 MB)
 *   GET  /healthz                   the process answers
 *   GET  /readyz                    the store answers and both services can be signed in to
 *   GET  /metrics                   Prometheus text
 *   GET  /                          status page                       ┐ admin token
 *   GET  /admin/status, /admin/dead-letters                           │ (Bearer, or Basic
 *   POST /admin/dead-letters/:id/retry, /admin/reconcile              ┘  with it as password)
 *
 * A webhook is answered 2xx only after the store has it (and its job) on disk. Bodies are parsed by
 * the route itself from the raw bytes: the Partner Center signature covers exactly those bytes, and
 * nothing is parsed before the sender is known.
 */
import { createServer } from "node:http";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";
import { checkSignIn, type BridgeRuntime } from "../engine/runtime";
import { JobNotFoundError, JobStateError } from "../store";
import type { IntakeResult } from "../webhooks/intake";
import { formToken, isAdmin } from "./admin-auth";
import { renderStatusPage } from "./status-page";

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export interface ServerOptions {
  /** Whole-request deadline: a body trickling in slower than this is cut off (default 30 s). */
  readonly requestTimeoutMs?: number;
  readonly bodyLimit?: number;
}

type Raw = Buffer | undefined;

function wantsHtml(req: FastifyRequest): boolean {
  return (req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded");
}

export async function buildServer(rt: BridgeRuntime, options: ServerOptions = {}): Promise<FastifyInstance> {
  const { log, metrics, store, config } = rt;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    // Node checks request deadlines every connectionsCheckingInterval (30 s by default): check often
    // enough that a body trickling in (slowloris) is cut off near its deadline.
    serverFactory: (handler) =>
      createServer({ requestTimeout, headersTimeout: Math.min(requestTimeout, 20_000), connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(requestTimeout / 4))) }, handler),
    loggerInstance: log.child({ component: "http" }) as unknown as FastifyBaseLogger,
    // Request lines would be one per webhook: the intake logs what matters (refusals) itself.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? WEBHOOK_BODY_LIMIT,
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  const adminToken = config.http.adminToken;
  const csrf = formToken(adminToken);

  // Set before any route or plugin is registered: an encapsulated plugin keeps the handler that was
  // in force when it was registered (the webhooks' 413 and parser errors included).
  app.setErrorHandler((err: { statusCode?: number; message?: string; code?: string }, req, reply) => {
    const status = typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 503;
    if (status >= 500) log.error({ err, url: req.url.split("?")[0] }, "request failed");
    if (req.url.startsWith("/webhooks/")) metrics.eventsReceived.inc({ source: req.url.includes("dataverse") ? "dataverse" : "partner-center", outcome: "rejected" });
    if (status === 413 && !req.raw.complete) {
      // A body over the limit still coming in: Fastify answers "Connection: close", and closing while
      // the sender is still sending makes its side reset the connection and drop our answer unread.
      // Keep the connection and let the rest be read and discarded (never buffered) until the body
      // ends or the request's deadline cuts it, so the sender does get its 413.
      reply.removeHeader("connection");
      req.raw.resume();
    }
    // 503 (not 500): the sender should try again; nothing was acknowledged.
    return reply.code(status).send({ error: status >= 500 ? "temporarily unavailable" : (err.message ?? "bad request") });
  });

  // ---- webhooks: raw bytes in, nothing parsed before the sender is verified ------------------
  await app.register(async (hooks) => {
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: options.bodyLimit ?? WEBHOOK_BODY_LIMIT }, (_req, body, done) => done(null, body));

    const answer = (source: "partner-center" | "dataverse", reply: FastifyReply, result: IntakeResult) => {
      metrics.eventsReceived.inc({ source, outcome: result.outcome });
      if (result.outcome === "accepted") rt.worker.notify();
      if (result.outcome === "rejected") {
        log.warn({ source, status: result.status, reason: result.reason }, "webhook refused");
        return reply.code(result.status).send({ error: result.reason });
      }
      return reply.code(200).send({ status: result.outcome });
    };
    hooks.post("/webhooks/partner-center", async (req, reply) => {
      const raw = (req.body as Raw) ?? Buffer.alloc(0);
      return answer("partner-center", reply, await rt.partnerCenterIntake.receive(raw, req.headers));
    });
    hooks.post("/webhooks/dataverse", async (req, reply) => {
      const raw = (req.body as Raw) ?? Buffer.alloc(0);
      return answer("dataverse", reply, await rt.dataverseIntake.receive(raw, req.headers));
    });
  });

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );


  // ---- probes and metrics ---------------------------------------------------------------------
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_req, reply) => {
    const problems: string[] = [];
    let queue;
    try {
      queue = await store.queueStats();
    } catch (err) {
      problems.push(`store: ${(err as Error).message}`);
    }
    const signIn = await checkSignIn(rt);
    if (!signIn.partnerCenter.ok) problems.push(`Partner Center sign-in: ${signIn.partnerCenter.error ?? "failed"}`);
    if (!signIn.dataverse.ok) problems.push(`Dataverse sign-in: ${signIn.dataverse.error ?? "failed"}`);
    if (problems.length > 0) {
      log.error({ problems }, "not ready");
      return reply.code(503).send({ status: "not ready", problems, queue });
    }
    return { status: "ready", queue };
  });

  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  // ---- admin ------------------------------------------------------------------------------------
  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isAdmin(req.headers.authorization, adminToken)) {
      return reply.code(401).header("www-authenticate", 'Basic realm="cosell-bridge", charset="UTF-8"').send({ error: "admin token required" });
    }
    // A browser sends Basic credentials on its own, also for forms another site posts: ask those for the form token.
    if (req.method === "POST" && /^Basic /i.test(req.headers.authorization ?? "")) {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (body.csrf !== csrf) return reply.code(403).send({ error: "form token missing or wrong; reload the status page" });
    }
    return undefined;
  };

  const statusView = async (message?: string) => {
    const [queue, recent, failures, deadLetters, signIn, keysNotReady] = await Promise.all([
      store.queueStats(),
      store.recentSyncs(50),
      store.recentFailures(50),
      store.listDeadLetters(100),
      checkSignIn(rt),
      rt.crm.keys.check(),
    ]);
    // Read after the sign-in check, which may just have renewed it.
    const storedAt = await rt.refreshTokens.storedAt();
    return {
      instanceId: config.instanceId,
      queue,
      recent,
      failures,
      deadLetters,
      signIn,
      keysNotReady,
      formToken: csrf,
      ...(storedAt ? { refreshTokenStoredAt: storedAt } : {}),
      ...(message ? { message } : {}),
    };
  };

  app.get("/", { preHandler: guard }, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const message = q.retried ? `Job ${q.retried} is queued again.` : q.reconciled ? "Reconcile started." : undefined;
    reply.header("content-type", "text/html; charset=utf-8").header("cache-control", "no-store");
    return renderStatusPage(await statusView(message));
  });

  app.get("/admin/status", { preHandler: guard }, async () => {
    const v = await statusView();
    return {
      instanceId: v.instanceId,
      queue: v.queue,
      signIn: v.signIn,
      keysNotReady: v.keysNotReady,
      ...(v.refreshTokenStoredAt ? { partnerCenterRefreshTokenStoredAt: v.refreshTokenStoredAt.toISOString() } : {}),
      recent: v.recent,
      failures: v.failures,
      deadLetters: v.deadLetters,
    };
  });

  app.get("/admin/dead-letters", { preHandler: guard }, async () => ({ value: await store.listDeadLetters(1000) }));

  const JobIdParams = z.object({ id: z.coerce.number().int().positive() });
  app.post("/admin/dead-letters/:id/retry", { preHandler: guard }, async (req, reply) => {
    const params = JobIdParams.safeParse(req.params);
    if (!params.success) return reply.code(400).send({ error: "the job id must be a positive number" });
    try {
      await store.retryDeadLetter(params.data.id);
    } catch (err) {
      if (err instanceof JobNotFoundError) return reply.code(404).send({ error: err.message });
      if (err instanceof JobStateError) return reply.code(409).send({ error: err.message });
      throw err;
    }
    log.info({ jobId: params.data.id }, "dead letter queued again by an admin");
    rt.worker.notify();
    if (wantsHtml(req)) return reply.code(303).header("location", `/?retried=${params.data.id}`).send();
    return { status: "queued", jobId: params.data.id };
  });

  app.post("/admin/reconcile", { preHandler: guard }, async (req, reply) => {
    const sweep = rt.reconciler.sweep();
    if (wantsHtml(req)) {
      sweep.catch((err: unknown) => log.error({ err }, "reconcile failed"));
      return reply.code(303).header("location", "/?reconciled=1").send();
    }
    const summary = await sweep;
    return { status: "done", partnerCenter: summary.partnerCenter, dataverse: summary.dataverse, enqueued: summary.keys.length };
  });

  return app;
}
