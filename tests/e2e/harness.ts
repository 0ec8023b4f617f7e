/**
 * End-to-end harness: the real emulators (sandbox/src/compose.ts) with the solution package of
 * dist/ imported into the emulated Dataverse (run `npm run build` first), the real bridge (in this process,
 * or as a child process for the restart test), real HTTP, a real store (SQLite file or a PostgreSQL
 * schema of its own). Helpers act as the people involved: a seller in Dynamics 365, Microsoft in
 * Partner Center. Nothing here sleeps for a fixed time: `waitFor` polls for a condition.
 * Every line the bridge logs is kept (`logLines`) and, when the harness closes, scanned for every
 * secret in use (tests/reliability/support/secrets.ts): the configured ones and every token the
 * Entra emulator issued to the bridge. A leak fails the suite's afterAll, naming the secret and the
 * line, never showing the secret.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { Client } from "pg";
import { OpportunityColumn, type EnvironmentVariableName } from "@cosell/contract";
import { SAMPLE_SOLUTION_ID, startSandbox, taggedCoSellReferral, type Sandbox, type SandboxOptions } from "@cosell/sandbox/src/compose";
import { loadConfig, type BridgeConfig } from "@cosell/bridge/src/config";
import { startBridge, type RunningBridge } from "@cosell/bridge/src/index";
import { connect } from "@cosell/bridge/src/connect";
import { createLogger } from "@cosell/bridge/src/observability/logger";
import { dropPostgresSchema, type StoreConfig } from "@cosell/bridge/src/store";
import type { JobResult } from "@cosell/bridge/src/engine/worker";
import type { Referral } from "@cosell/sandbox/src/partner-center";
import { expectNoSecrets, witnessSecrets, type SecretWitness } from "../reliability/support/secrets";

export const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
export type StoreKind = "sqlite" | "postgres";

export async function waitFor<T>(check: () => T | undefined | false | null | Promise<T | undefined | false | null>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A PostgreSQL schema for one test file, dropped by `drop()`; fails loudly when PostgreSQL is down. */
export async function pgSchema(prefix = "cosell_e2e"): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is required for the end-to-end suite and is not reachable at ${PG_URL}: ${(err as Error).message}`, { cause: err });
  }
  await admin.end();
  return {
    schema,
    drop: () => dropPostgresSchema(PG_URL, schema),
  };
}

export interface Opportunity {
  readonly opportunityid: string;
  readonly name?: string;
  readonly [key: string]: unknown;
}

export interface E2EOptions {
  readonly store: StoreKind;
  readonly sandbox?: SandboxOptions;
  readonly env?: Record<string, string>;
  readonly connect?: boolean;
  readonly worker?: boolean;
}

export interface E2E {
  readonly sandbox: Sandbox;
  readonly bridge: RunningBridge;
  readonly config: BridgeConfig;
  /** Every line the bridge logged (pino JSON, one entry per line, without its newline). */
  readonly logLines: string[];
  /** The secrets in use (configured, and every token issued to the bridge): `close()` scans `logLines` for them. */
  readonly witness: SecretWitness;
  /** Every job the bridge's worker finished, in order (with when it finished). */
  readonly results: Array<JobResult & { readonly at: Date }>;
  readonly storeConfig: StoreConfig;
  /** POST/GET on the bridge's admin API with the admin token. */
  admin<T = unknown>(method: string, path: string): Promise<{ status: number; body: T }>;
  /** Waits until both emulators have delivered their webhooks and the bridge's queue is empty. */
  settle(timeoutMs?: number): Promise<void>;
  /** Dataverse writes made by the bridge's application user so far. */
  bridgeDataverseWrites(sinceMs?: number): number;
  /** Partner Center changes made by the partner (the bridge) so far. */
  bridgePartnerCenterWrites(sinceMs?: number): number;
  // seller (Dataverse)
  createAccount(name: string, country: string | null, postalCode?: string): Promise<string>;
  createContact(first: string, last: string, email: string, accountId?: string): Promise<string>;
  createOpportunity(values: Record<string, unknown>): Promise<string>;
  updateOpportunity(id: string, values: Record<string, unknown>): Promise<void>;
  opportunity(id: string): Promise<Opportunity>;
  findOpportunityByReferral(referralId: string): Promise<Opportunity | undefined>;
  lead(id: string): Promise<Record<string, unknown>>;
  findLeadByReferral(referralId: string): Promise<Record<string, unknown> | undefined>;
  winOpportunity(id: string): Promise<void>;
  loseOpportunity(id: string): Promise<void>;
  qualifyLead(id: string): Promise<string>;
  disqualifyLead(id: string, statuscode?: number): Promise<void>;
  setEnvironmentVariable(name: EnvironmentVariableName, value: string): Promise<void>;
  // Microsoft (Partner Center)
  inboundReferral(body: Record<string, unknown>): Promise<string>;
  referral(id: string): Referral;
  referralsFor(opportunityId: string): Referral[];
  microsoftResponse(id: string, decision: "accept" | "decline", extra?: Record<string, unknown>): Promise<void>;
  microsoftPatch(id: string, ops: unknown[]): Promise<void>;
  expire(id: string): Promise<void>;
  /** Stops everything, then scans every line the bridge logged for secrets (throws when one is found). */
  close(): Promise<void>;
}

export const SOLUTION_ID = SAMPLE_SOLUTION_ID;
/** The job lease the in-process bridge uses. */
export const LEASE_MS = 30_000;

/** An inbound co-sell referral as Microsoft sends it (override what the test is about). */
export function coSellReferral(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const tag = Math.random().toString(36).slice(2, 8);
  return taggedCoSellReferral(tag, `98${tag.length}0${tag.charCodeAt(0) % 10}`, overrides);
}

export async function startE2E(options: E2EOptions): Promise<E2E & { schemaDrop?: () => Promise<void> }> {
  // The schema is the real managed package, imported through ImportSolution as `npm run deploy` would.
  const sandbox = await startSandbox({
    ports: { identity: 0, partnerCenter: 0, dataverse: 0 },
    partnerCenterWebhookRetry: { baseDelayMs: 200, maxDelayMs: 2_000 },
    schema: "solution",
    ...options.sandbox,
  });
  let dir: string | undefined;
  let storeConfig: StoreConfig;
  let drop: (() => Promise<void>) | undefined;
  const env = sandbox.bridgeEnvironment({ port: 0, logLevel: process.env["E2E_LOG_LEVEL"] ?? "info", reconcileIntervalSeconds: 0, extra: options.env });
  // Before the bridge first signs in: from here on every token issued to its client is a secret too.
  const witness = witnessSecrets(sandbox, env);
  if (options.store === "postgres") {
    const s = await pgSchema();
    drop = s.drop;
    env.DATABASE_URL = PG_URL;
    delete env.BRIDGE_SQLITE_PATH;
    storeConfig = { kind: "postgres", connectionString: PG_URL, schema: s.schema, poolSize: 10 };
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-e2e-"));
    env.BRIDGE_SQLITE_PATH = path.join(dir, "bridge.sqlite");
    storeConfig = { kind: "sqlite", path: env.BRIDGE_SQLITE_PATH };
  }
  const config = loadConfig(env);
  const logLines: string[] = [];
  let partial = "";
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      const text = chunk.toString("utf8");
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      logLines.push(...lines);
      if (process.env["E2E_LOG"]) process.stdout.write(text);
      done();
    },
  });
  const log = createLogger({ level: config.logLevel, secrets: Object.values(env).filter((v) => v.length > 20), destination });
  const results: Array<JobResult & { at: Date }> = [];
  const bridge = await startBridge(config, { log, store: storeConfig, worker: options.worker ?? true, workerPollMs: 200, leaseMs: LEASE_MS, onJobResult: (r) => results.push({ ...r, at: new Date() }) });
  if (options.connect ?? true) {
    const mapping = await bridge.runtime.settings.mapping();
    const plan = await connect({
      publicUrl: bridge.url,
      partnerCenter: bridge.runtime.partnerCenterClient,
      dataverse: bridge.runtime.dataverseClient,
      mapping,
      webhookHeader: "x-cosell-webhook-key",
      webhookKey: config.dataverse.webhookKey,
    });
    if (!plan.ok) throw new Error(`connect refused: ${JSON.stringify(plan.steps)}`);
  }

  const api = sandbox.dataverseApi;
  const must = async <T>(p: Promise<{ status: number; body: T; headers: Headers }>, what: string) => {
    const r = await p;
    if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  const idFrom = (headers: Headers) => /\(([0-9a-f-]{36})\)/i.exec(headers.get("odata-entityid") ?? "")?.[1] as string;
  const bridgeUser = sandbox.bridgeUserId.toLowerCase();

  const e2e: E2E & { schemaDrop?: () => Promise<void> } = {
    sandbox,
    bridge,
    config,
    logLines,
    witness,
    results,
    storeConfig,
    async admin(method, path) {
      const res = await fetch(`${bridge.url}${path}`, { method, headers: { authorization: `Bearer ${config.http.adminToken}` } });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as never };
    },
    async settle(timeoutMs = 30_000) {
      let calm = 0;
      await waitFor(async () => {
        await sandbox.dataverse.webhooks.idle();
        const pcPending = sandbox.partnerCenter.deliveries().some((d) => d.status === "pending");
        const q = await bridge.runtime.store.queueStats();
        const quiet = !pcPending && q.queued === 0 && q.running === 0 && bridge.runtime.worker.busy === 0;
        calm = quiet ? calm + 1 : 0;
        return calm >= 3;
      }, "the bridge to settle", timeoutMs);
    },
    bridgeDataverseWrites: (since = 0) =>
      sandbox.dataverse.organization.changes.filter((c) => c.callerId.toLowerCase() === bridgeUser && c.at > since).length,
    bridgePartnerCenterWrites: (since = 0) => sandbox.partnerCenter.changes().filter((c) => c.actor === "partner" && c.at > since).length,
    async createAccount(name, country, postalCode = "98052") {
      const r = await must(api("POST", "/accounts", { name, address1_country: country, address1_postalcode: postalCode, address1_city: "Redmond" }), "create account");
      return idFrom(r.headers);
    },
    async createContact(first, last, email, accountId) {
      const r = await must(
        api("POST", "/contacts", { firstname: first, lastname: last, emailaddress1: email, ...(accountId ? { "parentcustomerid_account@odata.bind": `/accounts(${accountId})` } : {}) }),
        "create contact",
      );
      return idFrom(r.headers);
    },
    async createOpportunity(values) {
      const r = await must(api("POST", "/opportunities", values), "create opportunity");
      return idFrom(r.headers);
    },
    async updateOpportunity(id, values) {
      await must(api("PATCH", `/opportunities(${id})`, values, { headers: { "if-match": "*" } }), "update opportunity");
    },
    async opportunity(id) {
      return (await must(api<Opportunity>("GET", `/opportunities(${id})`), "read opportunity")).body;
    },
    async findOpportunityByReferral(referralId) {
      const r = await api<{ value: Opportunity[] }>("GET", `/opportunities?$filter=${encodeURIComponent(`${OpportunityColumn.referralId} eq '${referralId}'`)}`);
      return r.body.value?.[0];
    },
    async lead(id) {
      return (await must(api<Record<string, unknown>>("GET", `/leads(${id})`), "read lead")).body;
    },
    async findLeadByReferral(referralId) {
      const r = await api<{ value: Record<string, unknown>[] }>("GET", `/leads?$filter=${encodeURIComponent(`cosell_referralid eq '${referralId}'`)}`);
      return r.body.value?.[0];
    },
    async winOpportunity(id) {
      await must(api("POST", "/WinOpportunity", { Status: 3, OpportunityClose: { subject: "Won", "opportunityid@odata.bind": `/opportunities(${id})` } }), "win");
    },
    async loseOpportunity(id) {
      await must(api("POST", "/LoseOpportunity", { Status: 4, OpportunityClose: { subject: "Lost", "opportunityid@odata.bind": `/opportunities(${id})` } }), "lose");
    },
    async qualifyLead(id) {
      const r = await must(
        api<{ value: Array<Record<string, string>> }>("POST", `/leads(${id})/Microsoft.Dynamics.CRM.QualifyLead`, { CreateAccount: true, CreateContact: true, CreateOpportunity: true, Status: 3 }),
        "qualify lead",
      );
      const opp = r.body.value.find((v) => v["@odata.type"] === "#Microsoft.Dynamics.CRM.opportunity");
      return opp?.opportunityid as string;
    },
    async disqualifyLead(id, statuscode = 6) {
      await must(api("PATCH", `/leads(${id})`, { statecode: 2, statuscode }, { headers: { "if-match": "*" } }), "disqualify lead");
    },
    setEnvironmentVariable: (name, value) => sandbox.setEnvironmentVariable(name, value).then(() => bridge.runtime.settings.invalidate()),
    async inboundReferral(body) {
      const r = await sandbox.partnerCenterControl<{ id: string }>("POST", "/_emulator/inbound-referrals", body);
      if (r.status >= 300) throw new Error(`inbound referral: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id;
    },
    referral(id) {
      const r = sandbox.partnerCenter.getReferral(id);
      if (!r) throw new Error(`no referral ${id}`);
      return r;
    },
    referralsFor(opportunityId) {
      const out: Referral[] = [];
      for (const c of sandbox.partnerCenter.changes()) {
        const r = sandbox.partnerCenter.getReferral(c.referralId);
        if (r && r.externalReferenceId === opportunityId && !out.some((x) => x.id === r.id)) out.push(r);
      }
      return out;
    },
    async microsoftResponse(id, decision, extra = {}) {
      const r = await sandbox.partnerCenterControl("POST", `/_emulator/referrals/${id}/microsoft-response`, {
        decision,
        microsoftSeller: { firstName: "Alex", lastName: "Wilber", email: "alex.wilber@microsoft.example" },
        ...extra,
      });
      if (r.status >= 300) throw new Error(`microsoft response: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    },
    async microsoftPatch(id, ops) {
      const r = await sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${id}`, ops);
      if (r.status >= 300) throw new Error(`microsoft patch: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    },
    async expire(id) {
      const r = await sandbox.partnerCenterControl("POST", `/_emulator/referrals/${id}/expire`);
      if (r.status >= 300) throw new Error(`expire: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    },
    async close() {
      await bridge.close().catch(() => undefined);
      await sandbox.close().catch(() => undefined);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      if (drop) await drop().catch(() => undefined);
      // Everything the bridge wrote during the suite, now that it has stopped.
      if (partial !== "") logLines.push(partial);
      partial = "";
      const lines = logLines.filter((l) => l.trim() !== "");
      try {
        expectNoSecrets(lines, witness);
      } catch (err) {
        throw new Error(`the bridge's log (${options.store}) leaked a secret: ${(err as Error).message}`, { cause: err });
      }
      console.log(`secret scan (${options.store}): ${lines.length} log lines, ${witness.size} secrets (${witness.tokensIssued} tokens issued to the bridge), 0 found`);
    },
    ...(drop ? { schemaDrop: drop } : {}),
  };
  return e2e;
}

/** A seller's co-sell opportunity with everything Partner Center needs (account, contact, solution). */
export async function readyOpportunity(e: E2E, overrides: Record<string, unknown> = {}): Promise<{ opportunityId: string; accountId: string; contactId: string }> {
  const tag = Math.random().toString(36).slice(2, 8);
  const accountId = await e.createAccount(`Account ${tag}`, "US");
  const contactId = await e.createContact("Dana", `Buyer${tag}`, `dana.${tag}@buyer.example`, accountId);
  const opportunityId = await e.createOpportunity({
    name: `Deal ${tag}`,
    estimatedvalue: 25000,
    estimatedclosedate: "2027-01-31",
    description: `Deal notes ${tag}`,
    "customerid_account@odata.bind": `/accounts(${accountId})`,
    "parentaccountid@odata.bind": `/accounts(${accountId})`,
    "parentcontactid@odata.bind": `/contacts(${contactId})`,
    [OpportunityColumn.products]: SOLUTION_ID,
    [OpportunityColumn.microsoftHelp]: 174200002,
    [OpportunityColumn.shareWithMicrosoft]: true,
    [OpportunityColumn.syncWithPartnerCenter]: true,
    ...overrides,
  });
  return { opportunityId, accountId, contactId };
}
