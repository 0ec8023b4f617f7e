/**
 * The whole sandbox in one call: the Entra ID, Partner Center and Dataverse emulators sharing one
 * token service, wired the way an admin wires the real services for the bridge:
 *
 *  - a confidential client (the bridge's app registration) in the token service;
 *  - a sandbox Referrals admin user, and a refresh token of theirs for that client (what the admin
 *    gets after signing the service account in once);
 *  - the client's application user in Dataverse, and the schema: the real managed solution
 *    imported through the Web API's `ImportSolution` (`schema: "solution"`), or the data contract
 *    provisioned straight into the emulator (`schema: "contract"`, the default: no build needed);
 *  - the URLs, and a ready-made bridge environment (the variables `cosell-bridge` reads).
 *
 * Also helpers the tests and `npm start` use as people would act: a seller and an admin calling the
 * Dataverse Web API, Microsoft creating referrals and answering co-sell requests.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { FastifyInstance } from "fastify";
import {
  EnvironmentVariable,
  OpportunityColumn,
  SECURITY_ROLES,
  SOLUTION,
  SOLUTION_CATALOG_TABLE,
  SolutionCatalogColumn,
  SolutionType,
  type SolutionTypeValue,
  SystemColumn,
  Table,
  type EnvironmentVariableName,
} from "@cosell/contract";
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

/** The managed package `npm run build` writes (dist/ at the repository root). */
export const MANAGED_SOLUTION_ZIP = path.resolve(__dirname, "../../dist", `${SOLUTION.uniqueName}_managed.zip`);

/**
 * Where the Dataverse schema comes from:
 *  - `solution`: the built managed package imported through `ImportSolution` by the sandbox admin,
 *    as `npm run deploy` imports it into a real environment (needs `npm run build` first);
 *  - `contract`: `provisionContract()` writes the same names straight into the emulator (no build);
 *  - `none`: the standard tables only.
 */
export type SandboxSchema = "solution" | "contract" | "none";

/** The sandbox could not be set up as asked (a missing package, an import Dataverse refused). */
export class SandboxSetupError extends Error {
  public override readonly name = "SandboxSetupError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface SandboxOptions {
  readonly host?: string;
  /** 0 for any free port (tests). */
  readonly ports?: { readonly identity?: number; readonly partnerCenter?: number; readonly dataverse?: number };
  readonly faults?: { readonly partnerCenter?: FaultSettingsInput; readonly dataverse?: FaultSettingsInput };
  /** Partner Center webhook retries (default: 10 attempts from 500 ms). */
  readonly partnerCenterWebhookRetry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number; timeoutMs?: number };
  readonly dataverseLimits?: { maxConcurrentPerUser?: number; requestsPerWindow?: number; windowSeconds?: number };
  readonly accessTokenLifetimeSeconds?: number;
  /** Interactive sign-ins: device-code poll interval (tests shorten it), lifetime. */
  readonly signIns?: { readonly deviceCodeIntervalSeconds?: number; readonly deviceCodeLifetimeSeconds?: number };
  readonly logger?: EmulatorLogger;
  /**
   * The Dataverse schema (default `contract`: fast and needs no build, which suits tests of one
   * part; the end-to-end suites, the browser loop and `npm start` ask for `solution`).
   */
  readonly schema?: SandboxSchema;
  /** The package `schema: "solution"` imports (default {@link MANAGED_SOLUTION_ZIP}). */
  readonly solutionZip?: string;
  /** @deprecated use `schema`; `false` = `schema: "none"`. */
  readonly provisionContract?: boolean;
  /** More routes on the Dataverse emulator's origin (registered synchronously), e.g. `mountFormHost`. */
  readonly dataverseRoutes?: (app: FastifyInstance) => void;
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
  /** COSELL_TOKEN_KEY (default: a random key of this sandbox, the same for every bridge it starts). */
  readonly tokenKey?: string;
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
  /** Where the Dataverse schema came from. */
  readonly schema: SandboxSchema;
  readonly bridgeClient: { readonly tenantId: string; readonly clientId: string; readonly clientSecret: string };
  /** The bridge's application user in Dataverse (systemuserid). */
  readonly bridgeUserId: string;
  /** A refresh token of the Referrals admin for the bridge's client. */
  readonly partnerCenterRefreshToken: string;
  /** The environment `cosell-bridge` reads, pointing at this sandbox. */
  bridgeEnvironment(options?: BridgeEnvironmentOptions): Record<string, string>;
  /** A Dataverse access token of the seeded seller or admin (fresh on every call). */
  userAccessToken(as: "seller" | "admin"): string;
  /** Dataverse Web API as a person: the seeded seller (default) or admin. */
  dataverseApi<T = unknown>(method: string, path: string, body?: unknown, options?: { as?: "seller" | "admin"; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: T }>;
  /** Sets an environment variable's current value (as an admin would in the maker portal). */
  setEnvironmentVariable(name: EnvironmentVariableName, value: string): Promise<void>;
  /** Partner Center's sandbox control API (`/_emulator/...`), no auth. */
  partnerCenterControl<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Referrals as Microsoft would send them; returns their ids. */
  seedReferrals(referrals?: readonly Record<string, unknown>[]): Promise<string[]>;
  /** Rows of the co-sell solution catalogue, written by the admin (needs a schema); returns their ids. */
  seedSolutionCatalogue(solutions?: readonly CatalogueSolution[]): Promise<string[]>;
  /**
   * A seller's draft opportunity, ready to switch sync on: a deal value, a close date, a customer
   * account with a country code and a contact; sync off and no solution picked yet.
   */
  seedDraftOpportunity(name?: string): Promise<{ opportunityId: string; accountId: string; contactId: string }>;
  close(): Promise<void>;
}

export interface CatalogueSolution {
  readonly name: string;
  /** The Partner Center solution id (SOL-…), kept in `cosell_solutioncode`. */
  readonly solutionId: string;
  readonly publisher: string;
  readonly type?: SolutionTypeValue;
}

/** The first solution of the sample catalogue: the one test referrals and opportunities name. */
export const SAMPLE_SOLUTION_ID = "SOL-15974-MQF";

/** The catalogue a partner would keep: what its sellers may pick in the section's solution picker. */
export function sampleSolutions(): CatalogueSolution[] {
  return [
    { name: "Contoso Data Estate", solutionId: SAMPLE_SOLUTION_ID, publisher: "Contoso", type: SolutionType.IP },
    { name: "Contoso Field Service", solutionId: "SOL-27391-KTR", publisher: "Contoso", type: SolutionType.Services },
    { name: "Fabrikam Analytics", solutionId: "SOL-34104-EBB", publisher: "Fabrikam", type: SolutionType.IP },
  ];
}

/**
 * An inbound co-sell referral for a customer named after `tag` (as `POST /_emulator/inbound-referrals`
 * takes it), for tests and benchmarks: `Customer <tag>` at `postalCode`, contact `cara.<tag>@…`.
 */
export function taggedCoSellReferral(tag: string, postalCode: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `Co-sell ${tag}`,
    type: "Shared",
    qualification: "SalesQualified",
    customerProfile: {
      name: `Customer ${tag}`,
      address: { addressLine1: "1 Main St", city: "Seattle", state: "WA", postalCode, country: "US" },
      team: [{ firstName: "Cara", lastName: `Customer${tag}`, phoneNumber: "2065550100", email: `cara.${tag}@customer.example` }],
    },
    consent: { consentToToShareInfoWithOthers: true, consentToContact: true },
    details: {
      notes: `Notes ${tag}`,
      dealValue: 42000,
      currency: "USD",
      closingDateTime: "2027-03-31T00:00:00Z",
      requirements: { solutions: [{ type: "Name", id: SAMPLE_SOLUTION_ID, name: "Contoso Data Estate" }] },
    },
    team: [{ firstName: "Megan", lastName: "Bowen", email: "megan.bowen@microsoft.example" }],
    inviteContext: { notes: "Please engage", invitedBy: { organizationId: "msft", organizationName: "Microsoft" } },
    ...overrides,
  };
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
        requirements: { solutions: [{ type: "Name", id: SAMPLE_SOLUTION_ID, name: "Contoso Data Estate" }] },
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

/** The sandbox root CA as a PEM file for the bridge (PC_WEBHOOK_CERT_CA_FILE); removed when the sandbox closes. */
function writeWebhookCaFile(pem: string): { path: string; close(): Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-sandbox-ca-"));
  const file = path.join(dir, "partner-center-webhook-root-ca.pem");
  fs.writeFileSync(file, pem, { mode: 0o644 });
  return { path: file, close: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? "127.0.0.1";
  const ports = options.ports ?? { identity: DEFAULT_PORTS.identity, partnerCenter: DEFAULT_PORTS.partnerCenter, dataverse: DEFAULT_PORTS.dataverse };
  const tokens = new TokenService({ ...(options.accessTokenLifetimeSeconds ? { accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds } : {}) });
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    // An interactive sign-in (cosell-bridge login) approved through the control signs the Referrals admin in by default.
    const identity = await startIdentityEmulator({ tokens, host, port: ports.identity ?? 0, signIns: { defaultUser: REFERRALS_ADMIN, ...options.signIns } });
    for (const user of [REFERRALS_ADMIN, SANDBOX_SELLER, SANDBOX_ADMIN]) tokens.registerUser(user);
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
    const webhookCaFile = writeWebhookCaFile(partnerCenter.rootCertificatePem);
    started.push(webhookCaFile);
    const dataverse = await startDataverseEmulator({
      tokens,
      host,
      port: ports.dataverse ?? 0,
      seed: true,
      ...(options.dataverseLimits ? { limits: options.dataverseLimits } : {}),
      ...(options.dataverseRoutes ? { extraRoutes: options.dataverseRoutes } : {}),
    });
    started.push(dataverse);
    if (options.faults?.dataverse) dataverse.faults.update(options.faults.dataverse);

    const clientSecret = `sandbox-${randomBytes(24).toString("base64url")}`;
    tokens.registerClient({ clientId: BRIDGE_CLIENT_ID, clientSecret, tenantId: SANDBOX_TENANT_ID, displayName: "cosell-bridge (sandbox)" });
    // The admin signed the service account in once, with MFA (Secure Application Model): Partner Center
    // refuses App+User tokens whose sign-in did not pass MFA.
    const partnerCenterRefreshToken = tokens.issueRefreshToken(BRIDGE_CLIENT_ID, REFERRALS_ADMIN, { mfa: true });
    // Seals the refresh token in the bridge's store. Random per sandbox run, sandbox-only: shared by
    // every bridge of this sandbox (restarts, several instances on one PostgreSQL store).
    const tokenKey = randomBytes(32).toString("base64");
    // Least privilege, as docs/install.md sets production up: the bridge's application user holds the
    // solution's "Co-sell Bridge Service" role only (it applies once the role is provisioned or imported).
    const bridgeUserId = dataverse.registerApplicationUser({ applicationId: BRIDGE_CLIENT_ID, fullName: "cosell-bridge", roles: [SECURITY_ROLES.bridge.name] });
    const schema: SandboxSchema = options.schema ?? (options.provisionContract === false ? "none" : "contract");

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

    if (schema === "contract") dataverse.provisionContract();
    if (schema === "solution") await importSolution(dataverseApi, options.solutionZip ?? MANAGED_SOLUTION_ZIP);

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

    const seedSolutionCatalogue: Sandbox["seedSolutionCatalogue"] = async (solutions = sampleSolutions()) => {
      const ids: string[] = [];
      for (const s of solutions) {
        const res = await dataverseApi(
          "POST",
          `/${SOLUTION_CATALOG_TABLE.entitySetName}`,
          {
            [SolutionCatalogColumn.name]: s.name,
            [SolutionCatalogColumn.solutionCode]: s.solutionId,
            [SolutionCatalogColumn.publisher]: s.publisher,
            ...(s.type === undefined ? {} : { [SolutionCatalogColumn.solutionType]: s.type }),
            [SolutionCatalogColumn.isActive]: true,
          },
          { as: "admin" },
        );
        ids.push(createdId(res, `catalogue solution ${s.solutionId}`));
      }
      return ids;
    };

    const seedDraftOpportunity: Sandbox["seedDraftOpportunity"] = async (name = "Contoso Pharmaceuticals ERP rollout") => {
      const account = SystemColumn.account;
      const accountId = createdId(
        await dataverseApi("POST", `/${Table.account.entitySetName}`, {
          [account.name]: "Contoso Pharmaceuticals",
          [account.line1]: "1 Microsoft Way",
          [account.city]: "Redmond",
          [account.state]: "WA",
          [account.postalCode]: "98052",
          // The two-letter code Partner Center needs, in the column cosell_CountryCodeField names by default.
          [account.country]: "US",
        }),
        "draft opportunity's account",
      );
      const contact = SystemColumn.contact;
      const contactId = createdId(
        await dataverseApi("POST", `/${Table.contact.entitySetName}`, {
          [contact.firstName]: "Dana",
          [contact.lastName]: "Buyer",
          [contact.email]: "dana.buyer@contoso-pharma.example",
          [`${contact.parentCustomer}_account@odata.bind`]: `/${Table.account.entitySetName}(${accountId})`,
        }),
        "draft opportunity's contact",
      );
      const opportunity = SystemColumn.opportunity;
      const closeDate = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
      const opportunityId = createdId(
        await dataverseApi("POST", `/${Table.opportunity.entitySetName}`, {
          [opportunity.name]: name,
          [opportunity.estimatedValue]: 48000,
          [opportunity.estimatedCloseDate]: closeDate,
          [opportunity.description]: "ERP rollout for three plants; the customer wants Microsoft's help with licensing.",
          [`${opportunity.customer}_account@odata.bind`]: `/${Table.account.entitySetName}(${accountId})`,
          [`${opportunity.parentAccount}@odata.bind`]: `/${Table.account.entitySetName}(${accountId})`,
          [`${opportunity.parentContact}@odata.bind`]: `/${Table.contact.entitySetName}(${contactId})`,
          [OpportunityColumn.syncWithPartnerCenter]: false,
        }),
        "draft opportunity",
      );
      return { opportunityId, accountId, contactId };
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
        COSELL_TOKEN_KEY: o.tokenKey ?? tokenKey,
        PARTNER_CENTER_API_URL: partnerCenter.url,
        PARTNER_CENTER_WEBHOOKS_URL: partnerCenter.url,
        PARTNER_CENTER_REFERRAL_LINK: partnerCenter.referralLink("{id}").replace("%7Bid%7D", "{id}"),
        // The sandbox's certificate host is allow-listed here, by configuration, never by default.
        PC_WEBHOOK_CERT_ORIGINS: new URL(partnerCenter.certificateUrl).origin,
        // ... and its root CA is trusted (besides Node's roots): the signing certificate chains to it.
        PC_WEBHOOK_CERT_CA_FILE: webhookCaFile.path,
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
      schema,
      bridgeClient: { tenantId: SANDBOX_TENANT_ID, clientId: BRIDGE_CLIENT_ID, clientSecret },
      bridgeUserId,
      partnerCenterRefreshToken,
      bridgeEnvironment,
      userAccessToken: userToken,
      dataverseApi,
      setEnvironmentVariable,
      partnerCenterControl,
      seedReferrals,
      seedSolutionCatalogue,
      seedDraftOpportunity,
      async close() {
        for (const s of started.reverse()) await s.close().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    throw err;
  }
}

/** The id of a row a Web API create answered with (`OData-EntityId`), or a clear error. */
function createdId(res: { status: number; headers: Headers; body: unknown }, what: string): string {
  const id = /\(([0-9a-f-]{36})\)\s*$/i.exec(res.headers.get("odata-entityid") ?? "")?.[1];
  if (res.status >= 300 || !id) throw new SandboxSetupError(`could not create the ${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return id;
}

/**
 * Imports the package as the sandbox admin through the Web API's `ImportSolution`, as `npm run
 * deploy` does against a real environment (the synchronous action: the emulator answers when done).
 */
async function importSolution(dataverseApi: Sandbox["dataverseApi"], zipPath: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(zipPath);
  } catch (err) {
    throw new SandboxSetupError(
      `the solution package ${zipPath} is missing: run npm run build first (it builds the form script, the control and both solution zips)`,
      { cause: err },
    );
  }
  const res = await dataverseApi<{ error?: { code?: string; message?: string } }>(
    "POST",
    "/ImportSolution",
    { CustomizationFile: bytes.toString("base64"), OverwriteUnmanagedCustomizations: false, PublishWorkflows: true, ImportJobId: randomUUID() },
    { as: "admin" },
  );
  if (res.status >= 300) {
    const error = res.body?.error;
    throw new SandboxSetupError(`the emulated Dataverse refused to import ${path.basename(zipPath)}: HTTP ${res.status} ${error?.code ?? ""} ${error?.message ?? JSON.stringify(res.body)}`.trim());
  }
}

/** A Referrals API token of the sandbox Referrals admin (what the bridge's refresh token yields). */
export function referralsAdminToken(tokens: TokenService): string {
  return tokens.issueUserAccessToken(REFERRALS_ADMIN, REFERRALS_AUDIENCE).accessToken;
}

export { EnvironmentVariable };
