/**
 * The bridge's parts, assembled from a configuration: store, sign-in, both API clients, settings,
 * the sync engine, the worker, the reconciler, the two webhook intakes and the metrics. The HTTP
 * server (src/server) and the CLI (src/cli) run on top of one runtime.
 */
import { ClientCredentialsProvider } from "../auth/dataverse-token";
import { RefreshTokenProvider } from "../auth/partner-center-token";
import { StoredRefreshTokens } from "../auth/stored-refresh-token";
import { tokenKeyForms, TokenVault } from "../auth/token-vault";
import { type BridgeConfig, configSecrets, DATAVERSE_WEBHOOK_HEADER } from "../config";
import { DataverseClient } from "../dataverse/client";
import { createLogger, type BridgeLogger } from "../observability/logger";
import { PartnerCenterClient, REFERRALS_RESOURCE } from "../partner-center/client";
import { Reconciler } from "../reconcile";
import { BridgeMetrics } from "../server/metrics";
import { openStore, type Store, type StoreConfig } from "../store";
import { readTrustAnchors } from "../webhooks/certificate-chain";
import { PartnerCenterSignatureVerifier } from "../webhooks/partner-center-signature";
import { DataverseIntake, PartnerCenterIntake } from "../webhooks/intake";
import { CrmGateway } from "./crm";
import { PartnerCenterGateway } from "./partner-center";
import { readAdminMapping, SyncSettings } from "./settings";
import { SyncEngine } from "./sync-engine";
import { Worker, type JobResult } from "./worker";

export interface RuntimeOptions {
  readonly log?: BridgeLogger;
  /** Certificates may come from plain-http sandbox origins (the config already refuses non-loopback http). */
  readonly fetchImpl?: typeof fetch;
  /** Worker concurrency override (backfill). */
  readonly workerConcurrency?: number;
  readonly workerPollMs?: number;
  readonly leaseMs?: number;
  readonly onJobResult?: (r: JobResult) => void;
  /** The store to open instead of the configured one (e.g. a PostgreSQL schema of its own). */
  readonly store?: StoreConfig;
}

export interface BridgeRuntime {
  readonly config: BridgeConfig;
  readonly log: BridgeLogger;
  readonly store: Store;
  readonly metrics: BridgeMetrics;
  readonly partnerCenterTokens: RefreshTokenProvider;
  /** The Partner Center refresh token as the store keeps it (sealed): `login` saves, the status page reads its age. */
  readonly refreshTokens: StoredRefreshTokens;
  readonly dataverseTokens: ClientCredentialsProvider;
  readonly partnerCenterClient: PartnerCenterClient;
  readonly dataverseClient: DataverseClient;
  readonly partnerCenter: PartnerCenterGateway;
  readonly crm: CrmGateway;
  readonly settings: SyncSettings;
  readonly engine: SyncEngine;
  readonly worker: Worker;
  readonly reconciler: Reconciler;
  readonly partnerCenterIntake: PartnerCenterIntake;
  readonly dataverseIntake: DataverseIntake;
  close(): Promise<void>;
}

export async function createRuntime(config: BridgeConfig, options: RuntimeOptions = {}): Promise<BridgeRuntime> {
  const log = options.log ?? createLogger({ level: config.logLevel, secrets: configSecrets(config) });
  const adminMapping = readAdminMapping(config.mappingFile, config.partnerCenter.referralLinkTemplate);
  const trustAnchors = readTrustAnchors(config.partnerCenter.certificateAuthorityFile);
  for (const key of [config.tokenKeys.current, config.tokenKeys.previous])
    if (key) for (const form of tokenKeyForms(key)) log.addSecret(form, { permanent: true });
  const vault = new TokenVault(config.tokenKeys);
  const store = await openStore(options.store ?? config.store, { maxAttempts: config.maxAttempts });
  try {
    // Sealed at rest; a stored value this key cannot open stops the start here, before any write.
    const storedTokens = new StoredRefreshTokens(store, vault, config.partnerCenter.refreshToken);
    const loaded = await storedTokens.load();
    for (const t of loaded.seen) log.addSecret(t);
    const refreshToken = loaded.refreshToken ?? "";
    if (refreshToken) log.addSecret(refreshToken);
    if (loaded.upgraded === "encrypted") log.info({ keyId: vault.keyId }, "the stored Partner Center refresh token was in plain text: now encrypted with COSELL_TOKEN_KEY");
    if (loaded.upgraded === "re-encrypted") log.info({ keyId: vault.keyId }, "the stored Partner Center refresh token was encrypted with COSELL_TOKEN_KEY_PREVIOUS: now with COSELL_TOKEN_KEY");
    const partnerCenterTokens = new RefreshTokenProvider({
      loginUrl: config.loginUrl,
      tenantId: config.partnerCenter.tenantId,
      clientId: config.partnerCenter.clientId,
      clientSecret: config.partnerCenter.clientSecret,
      refreshToken,
      onRefreshTokenRotated: async (token) => {
        log.addSecret(token);
        await storedTokens.save(token);
      },
    });
    const dataverseTokens = new ClientCredentialsProvider({
      loginUrl: config.loginUrl,
      tenantId: config.dataverse.tenantId,
      clientId: config.dataverse.clientId,
      clientSecret: config.dataverse.clientSecret,
      resource: config.dataverse.url,
    });
    // Every access token obtained is added to the log's last-chance filter.
    const pcTokens = {
      getToken: async (resource: string) => {
        const t = await partnerCenterTokens.getToken(resource);
        log.addSecret(t);
        return t;
      },
      invalidate: (resource: string) => partnerCenterTokens.invalidate(resource),
    };
    const partnerCenterClient = new PartnerCenterClient({
      apiUrl: config.partnerCenter.apiUrl,
      webhooksUrl: config.partnerCenter.webhooksUrl,
      tokens: pcTokens,
      maxConcurrency: Math.max(16, options.workerConcurrency ?? config.workerConcurrency),
    });
    const dataverseClient = new DataverseClient({
      url: config.dataverse.url,
      getToken: async () => {
        const t = await dataverseTokens.getToken();
        log.addSecret(t);
        return t;
      },
      maxConcurrency: config.dataverse.maxConcurrency,
    });
    const settings = new SyncSettings({ dataverse: dataverseClient, adminMapping });
    const partnerCenter = new PartnerCenterGateway(partnerCenterClient);
    const crm = new CrmGateway(dataverseClient);
    const engine = new SyncEngine({ store, partnerCenter, crm, settings });
    const metrics = new BridgeMetrics(store);
    const worker = new Worker({
      store,
      engine,
      log,
      concurrency: options.workerConcurrency ?? config.workerConcurrency,
      instanceId: config.instanceId,
      leaseMs: options.leaseMs ?? config.jobLeaseMs,
      backoff: config.backoff,
      pollMs: options.workerPollMs,
      onResult: (r) => {
        metrics.observe(r);
        options.onJobResult?.(r);
      },
    });
    const reconciler = new Reconciler({ store, partnerCenter: partnerCenterClient, dataverse: dataverseClient, log, onEnqueued: () => worker.notify() });
    const verifier = new PartnerCenterSignatureVerifier({
      allowedOrigins: config.partnerCenter.certificateOrigins,
      organization: config.partnerCenter.certificateOrganization,
      trustAnchors,
      ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
    });
    const partnerCenterIntake = new PartnerCenterIntake(store, verifier);
    const dataverseIntake = new DataverseIntake(store, DATAVERSE_WEBHOOK_HEADER, config.dataverse.webhookKey);
    return {
      config,
      log,
      store,
      metrics,
      partnerCenterTokens,
      refreshTokens: storedTokens,
      dataverseTokens,
      partnerCenterClient,
      dataverseClient,
      partnerCenter,
      crm,
      settings,
      engine,
      worker,
      reconciler,
      partnerCenterIntake,
      dataverseIntake,
      async close() {
        await worker.stop();
        await Promise.allSettled([partnerCenterClient.close(), dataverseClient.close()]);
        await store.close();
      },
    };
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}


/** Whether both services can be signed in to now (for /readyz and `status`). */
export async function checkSignIn(rt: Pick<BridgeRuntime, "partnerCenterTokens" | "dataverseTokens">): Promise<{ partnerCenter: { ok: boolean; error?: string }; dataverse: { ok: boolean; error?: string } }> {
  const attempt = async (f: () => Promise<unknown>) => {
    try {
      await f();
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  };
  const [partnerCenter, dataverse] = await Promise.all([
    attempt(() => rt.partnerCenterTokens.getToken(REFERRALS_RESOURCE)),
    attempt(() => rt.dataverseTokens.getToken()),
  ]);
  return { partnerCenter, dataverse };
}
