/**
 * The bridge's configuration, from environment variables only (twelve-factor): validated at start-up
 * with one clear message per mistake, secrets kept out of every printable view.
 */
import { isIPv4 } from "node:net";
import { hostname } from "node:os";
import { z } from "zod";
import {
  GENERATE_TOKEN_KEY,
  parseTokenKey,
  PREVIOUS_TOKEN_KEY_VARIABLE,
  TOKEN_KEY_VARIABLE,
  TOKEN_KEY_RULE,
  TokenKeyError,
  tokenKeyForms,
  TokenVault,
  type TokenKey,
} from "../auth/token-vault";
import { describeProxy, describeRoutes, ProxyConfigError, proxySettingsFromEnv, type ProxySettings } from "../http/proxy";
import { backoffPolicy, type BackoffPolicy } from "../store/backoff";

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const url = (what: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === "https:" || u.protocol === "http:";
      } catch {
        return false;
      }
    }, `must be an absolute http(s) URL (${what})`)
    .transform((v) => v.replace(/\/+$/, ""));

const secret = (min: number, what: string) =>
  z.string().min(min, `must be at least ${min} characters (${what})`);

const intFromEnv = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be a whole number between ${min} and ${max}, got '${v}'` });
        return z.NEVER;
      }
      return n;
    });

const originList = z
  .string()
  .transform((v, ctx) => {
    const out: string[] = [];
    for (const raw of v.split(",").map((s) => s.trim()).filter(Boolean)) {
      try {
        const u = new URL(raw);
        if (u.pathname !== "/" || u.search || u.hash) throw new Error("not an origin");
        out.push(u.origin);
      } catch {
        ctx.addIssue({ code: "custom", message: `'${raw}' is not an origin like https://host[:port]` });
      }
    }
    return out;
  });

/** A 32-byte key (base64 or hex); required unless `optional`. The message never contains the value. */
const tokenKey = (variable: string, optional: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx): TokenKey | undefined => {
      if (v === undefined || v.trim() === "") {
        if (optional) return undefined;
        ctx.addIssue({
          code: "custom",
          message: `is required: the key that encrypts the Partner Center refresh token in the store (32 random bytes, base64 or hex); generate one with: ${GENERATE_TOKEN_KEY} (docs/install.md)`,
        });
        return z.NEVER;
      }
      try {
        return parseTokenKey(v, variable);
      } catch (err) {
        if (!(err instanceof TokenKeyError)) throw err;
        ctx.addIssue({ code: "custom", message: TOKEN_KEY_RULE });
        return z.NEVER;
      }
    });

/** Every variable the bridge reads, with its default and what it is for (README lists the same). */
const EnvSchema = z.object({
  BRIDGE_PORT: intFromEnv(7070, 0, 65535),
  BRIDGE_HOST: z.string().default("0.0.0.0"),
  BRIDGE_PUBLIC_URL: url("the URL Partner Center and Dataverse call: https://bridge.example.com").optional(),
  BRIDGE_ADMIN_TOKEN: secret(24, "protects the admin API and the status page's actions"),
  BRIDGE_INSTANCE_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),

  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// connection string")
    .optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case PostgreSQL schema name (letters, digits, _)")
    .optional(),
  BRIDGE_SQLITE_PATH: z.string().min(1).default("./data/cosell-bridge.sqlite"),
  BRIDGE_JOB_LEASE_SECONDS: intFromEnv(60, 2, 3600),

  DATAVERSE_URL: url("your environment, e.g. https://contoso.crm.dynamics.com"),
  DATAVERSE_TENANT_ID: z.string().min(1, "is required (Entra tenant id of the Dataverse environment)"),
  DATAVERSE_CLIENT_ID: z.string().min(1, "is required (app registration of the bridge's application user)"),
  DATAVERSE_CLIENT_SECRET: z.string().min(1, "is required (client secret of that app registration)"),
  DATAVERSE_WEBHOOK_KEY: secret(24, "the HttpHeader key Dataverse sends with every webhook"),

  PARTNER_CENTER_TENANT_ID: z.string().min(1, "is required (your partner tenant id)"),
  PARTNER_CENTER_CLIENT_ID: z.string().min(1, "is required (app registration used for Partner Center App+User)"),
  PARTNER_CENTER_CLIENT_SECRET: z.string().min(1, "is required"),
  // Optional: `cosell-bridge login` signs the service account in (MFA) and stores its refresh token.
  PARTNER_CENTER_REFRESH_TOKEN: z.string().optional(),
  // The bridge keeps the newest (rotated) refresh token in its store, sealed with this key.
  COSELL_TOKEN_KEY: tokenKey(TOKEN_KEY_VARIABLE, false),
  COSELL_TOKEN_KEY_PREVIOUS: tokenKey(PREVIOUS_TOKEN_KEY_VARIABLE, true),
  PARTNER_CENTER_API_URL: url("Referrals API host").default("https://api.partner.microsoft.com"),
  PARTNER_CENTER_WEBHOOKS_URL: url("Webhooks API host").default("https://api.partnercenter.microsoft.com"),
  PARTNER_CENTER_REFERRAL_LINK: z
    .string()
    .default("https://partner.microsoft.com/dashboard/referrals/v2/opportunities/{id}")
    .refine((v) => v.includes("{id}"), "must contain {id} where the referral id goes"),
  PC_WEBHOOK_CERT_ORIGINS: originList.default(["https://3psostorageacct.blob.core.windows.net"]),
  PC_WEBHOOK_CERT_ORGANIZATION: z.string().default("Microsoft Corporation"),
  PC_WEBHOOK_CERT_CA_FILE: z.string().min(1, "must be a path to a PEM bundle of extra trusted root CAs").optional(),

  ENTRA_LOGIN_URL: url("Entra ID login host").default("https://login.microsoftonline.com"),

  MAPPING_FILE: z.string().optional(),
  RECONCILE_INTERVAL_SECONDS: intFromEnv(300, 0, 86_400),
  SYNC_MAX_ATTEMPTS: intFromEnv(8, 1, 100),
  SYNC_BACKOFF_MAX_SECONDS: intFromEnv(900, 1, 86_400),
  WORKER_CONCURRENCY: intFromEnv(8, 1, 256),
  DATAVERSE_MAX_CONCURRENCY: intFromEnv(16, 1, 52),
  COSELL_RETENTION_DAYS: intFromEnv(30, 1, 3650),
  COSELL_RETENTION_INTERVAL_MINUTES: intFromEnv(60, 1, 10_080),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type BridgeEnv = z.output<typeof EnvSchema>;

export interface BridgeConfig {
  readonly http: { port: number; host: string; publicUrl?: string; adminToken: string };
  readonly instanceId: string;
  readonly store: { kind: "sqlite"; path: string } | { kind: "postgres"; connectionString: string; schema?: string };
  /** How long a worker holds a job before another instance may take it over (renewed while it works). */
  readonly jobLeaseMs: number;
  readonly dataverse: {
    url: string;
    tenantId: string;
    clientId: string;
    clientSecret: string;
    webhookKey: string;
    maxConcurrency: number;
  };
  readonly partnerCenter: {
    tenantId: string;
    clientId: string;
    clientSecret: string;
    /** Unset when the token comes from `cosell-bridge login` (kept in the store). */
    refreshToken: string | undefined;
    apiUrl: string;
    webhooksUrl: string;
    referralLinkTemplate: string;
    certificateOrigins: readonly string[];
    certificateOrganization: string;
    /** PEM bundle of roots trusted for webhook certificates besides Node's bundled roots. */
    certificateAuthorityFile?: string;
  };
  /** The key sealing the refresh token in the store, and the one before a rotation (read only). */
  readonly tokenKeys: { current: TokenKey; previous?: TokenKey };
  readonly loginUrl: string;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY as every outbound call applies them (../http/proxy); undefined: none. */
  readonly outboundProxy?: ProxySettings;
  readonly mappingFile?: string;
  readonly reconcileIntervalSeconds: number;
  readonly maxAttempts: number;
  /** When a failed sync runs again: exponential backoff with jitter up to SYNC_BACKOFF_MAX_SECONDS. */
  readonly backoff: BackoffPolicy;
  readonly workerConcurrency: number;
  /**
   * How long sync history, stored webhooks and finished create intents are kept, and how often the
   * old ones are deleted (at start, then every `intervalMs`): engine/retention.ts.
   */
  readonly retention: { days: number; intervalMs: number };
  readonly logLevel: BridgeEnv["LOG_LEVEL"];
}

/** Header the Dataverse service endpoint sends (HttpHeader auth); its value is DATAVERSE_WEBHOOK_KEY. */
export const DATAVERSE_WEBHOOK_HEADER = "x-cosell-webhook-key";

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
    const v = env[key];
    input[key] = v === undefined || v === "" ? undefined : v;
  }
  const parsed = EnvSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? "");
      const msg = i.code === "invalid_type" && input[name] === undefined ? "is required" : i.message;
      // Never echo a value: it may be a secret.
      return `${name} ${msg}`;
    });
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const problems: string[] = [];
  // Secrets and tokens travel to (or from) each of these: plain http only where it never leaves the machine.
  const mustBeHttps: Array<[string, string | undefined]> = [
    ["BRIDGE_PUBLIC_URL", e.BRIDGE_PUBLIC_URL],
    ["DATAVERSE_URL", e.DATAVERSE_URL],
    ["PARTNER_CENTER_API_URL", e.PARTNER_CENTER_API_URL],
    ["PARTNER_CENTER_WEBHOOKS_URL", e.PARTNER_CENTER_WEBHOOKS_URL],
    ["ENTRA_LOGIN_URL", e.ENTRA_LOGIN_URL],
    ...e.PC_WEBHOOK_CERT_ORIGINS.map((o): [string, string] => ["PC_WEBHOOK_CERT_ORIGINS", o]),
  ];
  for (const [name, value] of mustBeHttps) {
    const problem = value === undefined ? undefined : httpsUnlessLoopback(name, value);
    if (problem) problems.push(problem);
  }
  // COSELL_TOKEN_KEY is required: its transform refused a missing one.
  const tokenKeys = { current: e.COSELL_TOKEN_KEY as TokenKey, ...(e.COSELL_TOKEN_KEY_PREVIOUS ? { previous: e.COSELL_TOKEN_KEY_PREVIOUS } : {}) };
  try {
    new TokenVault(tokenKeys);
  } catch (err) {
    if (!(err instanceof TokenKeyError)) throw err;
    problems.push(err.message);
  }
  let outboundProxy: ProxySettings | undefined;
  try {
    outboundProxy = proxySettingsFromEnv(env);
  } catch (err) {
    if (!(err instanceof ProxyConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    http: { port: e.BRIDGE_PORT, host: e.BRIDGE_HOST, publicUrl: e.BRIDGE_PUBLIC_URL, adminToken: e.BRIDGE_ADMIN_TOKEN },
    instanceId: e.BRIDGE_INSTANCE_ID,
    store: e.DATABASE_URL
      ? { kind: "postgres", connectionString: e.DATABASE_URL, ...(e.DATABASE_SCHEMA ? { schema: e.DATABASE_SCHEMA } : {}) }
      : { kind: "sqlite", path: e.BRIDGE_SQLITE_PATH },
    jobLeaseMs: e.BRIDGE_JOB_LEASE_SECONDS * 1000,
    dataverse: {
      url: e.DATAVERSE_URL,
      tenantId: e.DATAVERSE_TENANT_ID,
      clientId: e.DATAVERSE_CLIENT_ID,
      clientSecret: e.DATAVERSE_CLIENT_SECRET,
      webhookKey: e.DATAVERSE_WEBHOOK_KEY,
      maxConcurrency: e.DATAVERSE_MAX_CONCURRENCY,
    },
    partnerCenter: {
      tenantId: e.PARTNER_CENTER_TENANT_ID,
      clientId: e.PARTNER_CENTER_CLIENT_ID,
      clientSecret: e.PARTNER_CENTER_CLIENT_SECRET,
      refreshToken: e.PARTNER_CENTER_REFRESH_TOKEN,
      apiUrl: e.PARTNER_CENTER_API_URL,
      webhooksUrl: e.PARTNER_CENTER_WEBHOOKS_URL,
      referralLinkTemplate: e.PARTNER_CENTER_REFERRAL_LINK,
      certificateOrigins: e.PC_WEBHOOK_CERT_ORIGINS,
      certificateOrganization: e.PC_WEBHOOK_CERT_ORGANIZATION,
      ...(e.PC_WEBHOOK_CERT_CA_FILE ? { certificateAuthorityFile: e.PC_WEBHOOK_CERT_CA_FILE } : {}),
    },
    tokenKeys,
    loginUrl: e.ENTRA_LOGIN_URL,
    ...(outboundProxy ? { outboundProxy } : {}),
    mappingFile: e.MAPPING_FILE,
    reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
    maxAttempts: e.SYNC_MAX_ATTEMPTS,
    backoff: backoffPolicy(e.SYNC_BACKOFF_MAX_SECONDS * 1000),
    workerConcurrency: e.WORKER_CONCURRENCY,
    retention: { days: e.COSELL_RETENTION_DAYS, intervalMs: e.COSELL_RETENTION_INTERVAL_MINUTES * 60_000 },
    logLevel: e.LOG_LEVEL,
  };
}

/** The one rule for every URL the bridge trusts: https, or plain http to a loopback host (the sandbox). */
function httpsUnlessLoopback(name: string, value: string): string | undefined {
  const u = new URL(value);
  if (u.protocol === "https:" || isLoopbackHost(u.hostname)) return undefined;
  // The origin only: a URL's user:password or query may hold a secret.
  return `${name} must use https (got ${u.origin}); plain http is allowed only for a loopback host`;
}

/** localhost, 127.0.0.0/8 or ::1, as WHATWG URL normalises a hostname (lower case, IPv6 in brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === "localhost" || h === "[::1]" || h === "::1") return true;
  return isIPv4(h) && h.startsWith("127.");
}

/** Every secret the configuration holds: the logger redacts these wherever they appear. */
export function configSecrets(c: BridgeConfig): string[] {
  return [
    c.http.adminToken,
    c.dataverse.clientSecret,
    c.dataverse.webhookKey,
    c.partnerCenter.clientSecret,
    c.partnerCenter.refreshToken,
    ...tokenKeyForms(c.tokenKeys.current),
    ...(c.tokenKeys.previous ? tokenKeyForms(c.tokenKeys.previous) : []),
    ...[c.outboundProxy?.httpsProxy, c.outboundProxy?.httpProxy].map((u) => (u ? decodeURIComponent(new URL(u).password) : "")),
  ].filter((s): s is string => s !== undefined && s.length > 0);
}

/** The configuration as it may be printed: secrets replaced by a marker. */
export function describeConfig(c: BridgeConfig): Record<string, unknown> {
  const hidden = "[set]";
  return {
    http: { ...c.http, adminToken: hidden },
    instanceId: c.instanceId,
    store: c.store.kind === "postgres" ? { ...c.store, connectionString: redactUrl(c.store.connectionString) } : c.store,
    jobLeaseMs: c.jobLeaseMs,
    dataverse: { ...c.dataverse, clientSecret: hidden, webhookKey: hidden },
    partnerCenter: { ...c.partnerCenter, clientSecret: hidden, refreshToken: hidden },
    tokenKeys: {
      current: `${hidden} key ${c.tokenKeys.current.id}`,
      ...(c.tokenKeys.previous ? { previous: `${hidden} key ${c.tokenKeys.previous.id}` } : {}),
    },
    loginUrl: c.loginUrl,
    outboundProxy: c.outboundProxy
      ? {
          ...describeProxy(c.outboundProxy),
          routes: describeRoutes(
            {
              dataverse: c.dataverse.url,
              partnerCenterApi: c.partnerCenter.apiUrl,
              partnerCenterWebhooks: c.partnerCenter.webhooksUrl,
              login: c.loginUrl,
              ...Object.fromEntries(c.partnerCenter.certificateOrigins.map((o, i) => [`certificateOrigin${i + 1}`, o])),
            },
            c.outboundProxy,
          ),
        }
      : "none",
    mappingFile: c.mappingFile ?? "(built-in default)",
    reconcileIntervalSeconds: c.reconcileIntervalSeconds,
    maxAttempts: c.maxAttempts,
    backoff: c.backoff,
    workerConcurrency: c.workerConcurrency,
    retention: c.retention,
    logLevel: c.logLevel,
  };
}

/** postgres://user:password@host/db → postgres://user:***@host/db */
export function redactUrl(u: string): string {
  try {
    const parsed = new URL(u);
    if (parsed.password) parsed.password = "***";
    for (const key of [...parsed.searchParams.keys()])
      if (/pass|secret|token|key|code/i.test(key)) parsed.searchParams.set(key, "***");
    return parsed.toString();
  } catch {
    return "[unparseable URL]";
  }
}
