/**
 * cosell-bridge: bi-directional co-sell referral sync between Partner Center and Dynamics 365.
 *
 * `startBridge(config)` runs what `cosell-bridge serve` runs: the HTTP server (webhooks, probes,
 * metrics, status page, admin API), the worker, the reconcile timer and the retention timer, on one
 * runtime.
 */
import type { FastifyInstance } from "fastify";
import type { BridgeConfig } from "./config";
import { Retention } from "./engine/retention";
import { createRuntime, type BridgeRuntime, type RuntimeOptions } from "./engine/runtime";
import { buildServer, type ServerOptions } from "./server/app";

export { loadConfig, ConfigError, configSecrets, describeConfig, DATAVERSE_WEBHOOK_HEADER, type BridgeConfig } from "./config";
export { createRuntime, checkSignIn, type BridgeRuntime, type RuntimeOptions } from "./engine/runtime";
export { SyncEngine, type SyncOutcome, type SyncReport } from "./engine/sync-engine";
export { Worker, type JobResult } from "./engine/worker";
export { recordKey, referralKey, parseKey } from "./engine/keys";
export { Reconciler, type SweepSummary } from "./reconcile";
export { buildServer, type ServerOptions } from "./server/app";
export { connect, type ConnectPlan, type ConnectOptions } from "./connect";
export { backfill, type BackfillSummary } from "./reconcile/backfill";
export { Retention, type RetentionPolicy } from "./engine/retention";

export interface RunningBridge {
  readonly runtime: BridgeRuntime;
  readonly server: FastifyInstance;
  /** Where the server listens, e.g. http://127.0.0.1:7070 */
  readonly url: string;
  close(): Promise<void>;
}

export interface StartOptions extends RuntimeOptions, ServerOptions {
  /** Run the worker (default true). */
  readonly worker?: boolean;
  /** Run the reconcile timer (default: when RECONCILE_INTERVAL_SECONDS > 0). */
  readonly reconcile?: boolean;
  /** Prune old rows at start and every COSELL_RETENTION_INTERVAL_MINUTES (default true). */
  readonly retention?: boolean;
}

export async function startBridge(config: BridgeConfig, options: StartOptions = {}): Promise<RunningBridge> {
  const runtime = await createRuntime(config, options);
  let server: FastifyInstance | undefined;
  let timer: NodeJS.Timeout | undefined;
  const retention = new Retention({ store: runtime.store, log: runtime.log, policy: runtime.config.retention });
  try {
    server = await buildServer(runtime, options);
    await server.listen({ port: config.http.port, host: config.http.host });
    const address = server.server.address();
    const port = typeof address === "object" && address ? address.port : config.http.port;
    const host = config.http.host === "0.0.0.0" || config.http.host === "::" ? "127.0.0.1" : config.http.host;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    if (options.worker ?? true) runtime.worker.start();
    const interval = config.reconcileIntervalSeconds;
    if ((options.reconcile ?? interval > 0) && interval > 0) {
      timer = setInterval(() => {
        runtime.reconciler.sweep().catch((err: unknown) => runtime.log.error({ err }, "reconcile sweep failed"));
      }, interval * 1000);
      timer.unref();
    }
    if (options.retention ?? true) retention.start();
    runtime.log.info(
      { url, store: runtime.store.kind, worker: options.worker ?? true, reconcileSeconds: interval, retentionDays: config.retention.days },
      "cosell-bridge is running",
    );
    const s = server;
    let closed: Promise<void> | undefined;
    return {
      runtime,
      server: s,
      url,
      close: () =>
        (closed ??= (async () => {
          if (timer) clearInterval(timer);
          await retention.stop();
          await s.close();
          await runtime.close();
        })()),
    };
  } catch (err) {
    if (timer) clearInterval(timer);
    await retention.stop();
    await server?.close().catch(() => undefined);
    await runtime.close().catch(() => undefined);
    throw err;
  }
}
