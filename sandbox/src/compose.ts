/**
 * The whole sandbox in one call: the Entra ID, Partner Center and Dataverse emulators sharing one
 * token service, wired the way an admin wires the real services for the bridge:
 *
 *  - a confidential client (the bridge's app registration) in the token service;
 *  - a sandbox Referrals admin user, and a refresh token of theirs for that client (what the admin
 *    gets after signing the service account in once);
 *  - the client's application user in Dataverse, and the data contract in its schema;
 *  - the URLs, and a ready-made bridge environment (the variables `cosell-bridge` reads).
 *
 * Also helpers the tests and `npm start` use as people would act: a seller and an admin calling the
 * Dataverse Web API, Microsoft creating referrals and answering co-sell requests.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { EnvironmentVariable, type EnvironmentVariableName } from "@cosell/contract";
import type { FaultSettingsInput } from "./faults";
import { startIdentityEmulator, TokenService, type IdentityEmulator, type SandboxUser } from "./identity";
import { startDataverseEmulator, SEEDED_IDS, type DataverseEmulator } from "./dataverse";
import { REFERRALS_AUDIENCE, startPartnerCenterEmulator, type EmulatorLogger, type PartnerCenterEmulator } from "./partner-center";

export const DEFAULT_PORTS = { bridge: 7070, partnerCenter: 7071, dataverse: 7072, identity: 7073 } as const;

export const SANDBOX_TENANT_ID = "5a1dbb0c-0000-4000-8000-00000000aaaa";
export const BRIDGE_CLIENT_ID = "c05e11b1-d6e0-4000-8000-00000000b1d6";

/** The Partner Center service account whose refresh token the bridge uses (a Referrals admin). */
export const REFERRALS_ADMIN: SandboxUser = {
  objectId: "5a1dbb0c-0000-4000-8000-0000000000ad",
  userPrincipalName: "referrals.admin@sandbox.onmicrosoft.com",
  displayName: "Referrals Admin (sandbox)",
  tenantId: SANDBOX_TENANT_ID,
};

/** The sandbox seller (seeded in Dataverse) and admin, as Entra users. */
export const SANDBOX_SELLER: SandboxUser = {
  objectId: SEEDED_IDS.sellerObjectId,
  userPrincipalName: "sam.seller@sandbox.onmicrosoft.com",
  displayName: "Sam Seller",
  tenantId: SANDBOX_TENANT_ID,
};
export const SANDBOX_ADMIN: SandboxUser = {
  objectId: SEEDED_IDS.adminObjectId,
  userPrincipalName: "admin@sandbox.onmicrosoft.com",
  displayName: "Sandbox Admin",
  tenantId: SANDBOX_TENANT_ID,
};

export interface SandboxOptions {
  readonly host?: string;
  /** 0 for any free port (tests). */
  readonly ports?: { readonly identity?: number; readonly partnerCenter?: number; readonly dataverse?: number };
  readonly faults?: { readonly partnerCenter?: FaultSettingsInput; readonly dataverse?: FaultSettingsInput };
  /** Partner Center webhook retries (default: 10 attempts from 500 ms). */
  readonly partnerCenterWebhookRetry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number; timeoutMs?: number };
  readonly dataverseLimits?: { maxConcurrentPerUser?: number; requestsPerWindow?: number; windowSeconds?: number };
  readonly accessTokenLifetimeSeconds?: number;
  readonly logger?: EmulatorLogger;
  /** Provision the data contract into Dataverse (default true). */
  readonly provisionContract?: boolean;
}

export interface BridgeEnvironmentOptions {
  readonly port?: number;
  readonly host?: string;
  /** What the services call (default http://127.0.0.1:<port>). */
  readonly publicUrl?: string;
  readonly sqlitePath?: string;
  readonly databaseUrl?: string;
  readonly adminToken?: string;
  readonly webhookKey?: string;
  readonly reconcileIntervalSeconds?: number;
  readonly logLevel?: string;
  readonly extra?: Record<string, string>;
}

export interface Sandbox {
  readonly tokens: TokenService;
  readonly identity: IdentityEmulator;
  readonly partnerCenter: PartnerCenterEmulator;
  readonly dataverse: DataverseEmulator;
  readonly urls: { readonly identity: string; readonly partnerCenter: string; readonly dataverse: string };
  readonly bridgeClient: { readonly tenantId: string; readonly clientId: string; readonly clientSecret: string };
  /** The bridge's application user in Dataverse (systemuserid). */
  readonly bridgeUserId: string;
  /** A refresh token of the Referrals admin for the bridge's client. */
  readonly partnerCenterRefreshToken: string;
  /** The environment `cosell-bridge` reads, pointing at this sandbox. */
  bridgeEnvironment(options?: BridgeEnvironmentOptions): Record<string, string>;
  /** Dataverse Web API as a person: the seeded seller (default) or admin. */
  dataverseApi<T = unknown>(method: string, path: string, body?: unknown, options?: { as?: "seller" | "admin"; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: T }>;
  /** Sets an environment variable's current value (as an admin would in the maker portal). */
  setEnvironmentVariable(name: EnvironmentVariableName, value: string): Promise<void>;
  /** Partner Center's sandbox control API (`/_emulator/...`), no auth. */
  partnerCenterControl<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Referrals as Microsoft would send them; returns their ids. */
  seedReferrals(referrals?: readonly Record<string, unknown>[]): Promise<string[]>;
  close(): Promise<void>;
}

/** A few inbound referrals of each kind Partner Center sends (co-sell opportunity, marketplace and qualified leads). */
export function sampleReferrals(): Record<string, unknown>[] {
  const close = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10) + "T00:00:00Z";
  return [
    {
      name: "Northwind data platform modernisation",
      type: "Shared",
      qualification: "SalesQualified",
      customerProfile: {
        name: "Northwind Traders",
        address: { addressLine1: "20 Harbour Rd", city: "Sydney", state: "NSW", postalCode: "2000", country: "AU" },
        size: "251to1000employees",
        team: [{ firstName: "Li", lastName: "Wei", phoneNumber: "0200000000", email: "li.wei@northwind.example" }],
      },
      consent: { consentToToShareInfoWithOthers: true, consentToContact: true },
      details: {
        notes: "Customer asked for a partner to modernise their data platform.",
        dealValue: 75000,
        currency: "EUR",
        closingDateTime: close,
        requirements: { solutions: [{ type: "Name", id: "SOL-15974-MQF", name: "Contoso Data Estate" }] },
      },
      team: [{ firstName: "Megan", lastName: "Bowen", phoneNumber: "0100000000", email: "megan.bowen@microsoft.example" }],
      inviteContext: { notes: "Please engage", invitedBy: { organizationId: "msft", organizationName: "Microsoft" } },
    },
    {
      name: "Fabrikam Azure landing zone",
      type: "Shared",
      qualification: "SalesQualified",
      customerProfile: {
        name: "Fabrikam Inc",
        address: { addressLine1: "1 Fabrikam Way", city: "Seattle", state: "WA", postalCode: "98101", country: "US" },
        team: [{ firstName: "Ava", lastName: "Jones", phoneNumber: "2065550100", email: "ava.jones@fabrikam.example" }],
      },
      consent: { consentToToShareInfoWithOthers: true, consentToContact: true },
      details: { notes: "Landing zone and migration of 40 workloads.", dealValue: 120000, currency: "USD", closingDateTime: close },
      inviteContext: { notes: "Co-sell with the Azure team", invitedBy: { organizationId: "msft", organizationName: "Microsoft" } },
    },
    {
      name: "Marketplace lead: Tailspin Toys trial",
      type: "Independent",
      qualification: "Direct",
      customerProfile: {
        name: "Tailspin Toys",
        address: { addressLine1: "5 Toy St", city: "Austin", state: "TX", postalCode: "73301", country: "US" },
        team: [{ firstName: "Kai", lastName: "Ng", phoneNumber: "5125550100", email: "kai.ng@tailspin.example" }],
      },
      consent: { consentToToShareInfoWithOthers: true, consentToContact: true },
      details: { notes: "Started a trial from AppSource.", dealValue: 5000, currency: "USD", closingDateTime: close },
      inviteContext: { invitedBy: { organizationId: "msft", organizationName: "Microsoft" } },
    },
  ];
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? "127.0.0.1";
  const ports = options.ports ?? { identity: DEFAULT_PORTS.identity, partnerCenter: DEFAULT_PORTS.partnerCenter, dataverse: DEFAULT_PORTS.dataverse };
  const tokens = new TokenService({ ...(options.accessTokenLifetimeSeconds ? { accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds } : {}) });
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const identity = await startIdentityEmulator({ tokens, host, port: ports.identity ?? 0 });
    started.push(identity);
    const partnerCenter = await startPartnerCenterEmulator({
      tokens,
      host,
      port: ports.partnerCenter ?? 0,
      ...(options.faults?.partnerCenter ? { faults: options.faults.partnerCenter } : {}),
      ...(options.partnerCenterWebhookRetry ? { webhookRetry: options.partnerCenterWebhookRetry } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    started.push(partnerCenter);
    const dataverse = await startDataverseEmulator({
      tokens,
      host,
      port: ports.dataverse ?? 0,
      seed: true,
      ...(options.dataverseLimits ? { limits: options.dataverseLimits } : {}),
    });
    started.push(dataverse);
    if (options.faults?.dataverse) dataverse.faults.update(options.faults.dataverse);

    const clientSecret = `sandbox-${randomBytes(24).toString("base64url")}`;
    tokens.registerClient({ clientId: BRIDGE_CLIENT_ID, clientSecret, tenantId: SANDBOX_TENANT_ID, displayName: "cosell-bridge (sandbox)" });
    const partnerCenterRefreshToken = tokens.issueRefreshToken(BRIDGE_CLIENT_ID, REFERRALS_ADMIN);
    const bridgeUserId = dataverse.registerApplicationUser({ applicationId: BRIDGE_CLIENT_ID, fullName: "cosell-bridge" });
    if (options.provisionContract ?? true) dataverse.provisionContract();

    const userToken = (as: "seller" | "admin") => tokens.issueUserAccessToken(as === "admin" ? SANDBOX_ADMIN : SANDBOX_SELLER, dataverse.resourceUrl).accessToken;

    const dataverseApi: Sandbox["dataverseApi"] = async (method, path, body, o = {}) => {
      const res = await fetch(`${dataverse.apiUrl}${path.startsWith("/") ? path : `/${path}`}`, {
        method,
        headers: {
          authorization: `Bearer ${userToken(o.as ?? "seller")}`,
          accept: "application/json",
          "odata-version": "4.0",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(o.headers ?? {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = undefined;
      if (text.trim() !== "") {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: res.status, headers: res.headers, body: parsed as never };
    };

    const partnerCenterControl: Sandbox["partnerCenterControl"] = async (method, path, body) => {
      const res = await fetch(`${partnerCenter.url}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as never };
    };

    const setEnvironmentVariable: Sandbox["setEnvironmentVariable"] = async (name, value) => {
      const defs = await dataverseApi<{ value: Array<{ environmentvariabledefinitionid: string }> }>(
        "GET",
        `/environmentvariabledefinitions?$select=environmentvariabledefinitionid&$filter=${encodeURIComponent(`schemaname eq '${name}'`)}`,
        undefined,
        { as: "admin" },
      );
      const defId = defs.body.value?.[0]?.environmentvariabledefinitionid;
      if (!defId) throw new Error(`environment variable ${name} is not defined (is the contract provisioned?)`);
      const values = await dataverseApi<{ value: Array<{ environmentvariablevalueid: string }> }>(
        "GET",
        `/environmentvariablevalues?$select=environmentvariablevalueid&$filter=${encodeURIComponent(`_environmentvariabledefinitionid_value eq ${defId}`)}`,
        undefined,
        { as: "admin" },
      );
      const existing = values.body.value?.[0]?.environmentvariablevalueid;
      const res = existing
        ? await dataverseApi("PATCH", `/environmentvariablevalues(${existing})`, { value }, { as: "admin", headers: { "if-match": "*" } })
        : await dataverseApi(
            "POST",
            "/environmentvariablevalues",
            { value, schemaname: name, "EnvironmentVariableDefinitionId@odata.bind": `/environmentvariabledefinitions(${defId})` },
            { as: "admin" },
          );
      if (res.status >= 300) throw new Error(`could not set ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    };

    const seedReferrals: Sandbox["seedReferrals"] = async (referrals = sampleReferrals()) => {
      const ids: string[] = [];
      for (const r of referrals) {
        const res = await partnerCenterControl<{ id: string }>("POST", "/_emulator/inbound-referrals", r);
        if (res.status >= 300) throw new Error(`could not seed a referral: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        ids.push(res.body.id);
      }
      return ids;
    };

    const bridgeEnvironment: Sandbox["bridgeEnvironment"] = (o = {}) => {
      const port = o.port ?? DEFAULT_PORTS.bridge;
      const env: Record<string, string> = {
        BRIDGE_PORT: String(port),
        BRIDGE_HOST: o.host ?? host,
        BRIDGE_PUBLIC_URL: o.publicUrl ?? `http://${host}:${port}`,
        BRIDGE_ADMIN_TOKEN: o.adminToken ?? `admin-${randomBytes(24).toString("base64url")}`,
        BRIDGE_INSTANCE_ID: `sandbox-${randomUUID().slice(0, 8)}`,
        DATAVERSE_URL: dataverse.url,
        DATAVERSE_TENANT_ID: SANDBOX_TENANT_ID,
        DATAVERSE_CLIENT_ID: BRIDGE_CLIENT_ID,
        DATAVERSE_CLIENT_SECRET: clientSecret,
        DATAVERSE_WEBHOOK_KEY: o.webhookKey ?? `whk-${randomBytes(24).toString("base64url")}`,
        PARTNER_CENTER_TENANT_ID: SANDBOX_TENANT_ID,
        PARTNER_CENTER_CLIENT_ID: BRIDGE_CLIENT_ID,
        PARTNER_CENTER_CLIENT_SECRET: clientSecret,
        PARTNER_CENTER_REFRESH_TOKEN: partnerCenterRefreshToken,
        PARTNER_CENTER_API_URL: partnerCenter.url,
        PARTNER_CENTER_WEBHOOKS_URL: partnerCenter.url,
        PARTNER_CENTER_REFERRAL_LINK: partnerCenter.referralLink("{id}").replace("%7Bid%7D", "{id}"),
        // The sandbox's certificate host is allow-listed here, by configuration, never by default.
        PC_WEBHOOK_CERT_ORIGINS: new URL(partnerCenter.certificateUrl).origin,
        ENTRA_LOGIN_URL: identity.url,
        RECONCILE_INTERVAL_SECONDS: String(o.reconcileIntervalSeconds ?? 300),
        LOG_LEVEL: o.logLevel ?? "info",
        ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : { BRIDGE_SQLITE_PATH: o.sqlitePath ?? ".sandbox-data/cosell-bridge.sqlite" }),
        ...(o.extra ?? {}),
      };
      return env;
    };

    return {
      tokens,
      identity,
      partnerCenter,
      dataverse,
      urls: { identity: identity.url, partnerCenter: partnerCenter.url, dataverse: dataverse.url },
      bridgeClient: { tenantId: SANDBOX_TENANT_ID, clientId: BRIDGE_CLIENT_ID, clientSecret },
      bridgeUserId,
      partnerCenterRefreshToken,
      bridgeEnvironment,
      dataverseApi,
      setEnvironmentVariable,
      partnerCenterControl,
      seedReferrals,
      async close() {
        for (const s of started.reverse()) await s.close().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    throw err;
  }
}

/** A Referrals API token of the sandbox Referrals admin (what the bridge's refresh token yields). */
export function referralsAdminToken(tokens: TokenService): string {
  return tokens.issueUserAccessToken(REFERRALS_ADMIN, REFERRALS_AUDIENCE).accessToken;
}

export { EnvironmentVariable };
