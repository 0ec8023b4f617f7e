/**
 * One reliability scenario's world: the sandbox (three emulators, in this process), a store (a
 * SQLite file or a PostgreSQL schema of its own), a load balancer whose URL is registered with
 * both services, and bridge processes behind it, started with `cosell-bridge serve` and killed at
 * will. Helpers act as a seller (Dataverse Web API, through whatever faults are on) and as
 * Microsoft (the Partner Center emulator's control API), and look at the result without faults.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OpportunityColumn, SystemColumn, Table, parseRetryAfter } from "@cosell/contract";
import { SAMPLE_SOLUTION_ID, startSandbox, taggedCoSellReferral, type Sandbox, type SandboxOptions } from "@cosell/sandbox/src/compose";
import type { Referral } from "@cosell/sandbox/src/partner-center";
import type { QueueStats, Store, StoreConfig } from "@cosell/bridge/src/store";
import { BridgeProcess, runCli, type CliResult } from "./bridge-process";
import { pgSchema, PG_URL, type PgSchema } from "./pg";
import { startBalancer, type Balancer } from "./proxy";
import { witnessSecrets, type SecretWitness } from "./secrets";
import { openProbe } from "./store-probe";
import { pause, waitFor } from "./wait";

export type StoreKind = "sqlite" | "postgres";

export const SOLUTION_ID = SAMPLE_SOLUTION_ID;

export interface WorldOptions {
  readonly name: string;
  readonly store: StoreKind;
  readonly sandbox?: SandboxOptions;
  /** Bridge variables on top of the sandbox's ready-made environment. */
  readonly env?: Record<string, string>;
  readonly reconcileIntervalSeconds?: number;
  readonly logLevel?: string;
}

export interface HttpAnswer<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export class World {
  readonly bridges: BridgeProcess[] = [];
  private probe?: Promise<Store>;

  private constructor(
    readonly name: string,
    readonly sandbox: Sandbox,
    readonly balancer: Balancer,
    readonly env: Record<string, string>,
    readonly storeConfig: StoreConfig,
    readonly witness: SecretWitness,
    readonly dir: string,
    private readonly schema: PgSchema | undefined,
  ) {}

  static async start(o: WorldOptions): Promise<World> {
    const sandbox = await startSandbox({
      ports: { identity: 0, partnerCenter: 0, dataverse: 0 },
      partnerCenterWebhookRetry: { baseDelayMs: 200, maxDelayMs: 2_000 },
      // The bridge makes far more than 6,000 requests in five minutes here; throttling is a fault we inject on purpose.
      dataverseLimits: { requestsPerWindow: 100_000_000, maxConcurrentPerUser: 1_000 },
      ...o.sandbox,
    });
    const cleanups: Array<() => Promise<void>> = [() => sandbox.close()];
    try {
      const balancer = await startBalancer();
      cleanups.push(() => balancer.close());
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cosell-${o.name}-`));
      const env = sandbox.bridgeEnvironment({
        port: 0,
        host: "127.0.0.1",
        publicUrl: balancer.url,
        reconcileIntervalSeconds: o.reconcileIntervalSeconds ?? 0,
        logLevel: o.logLevel ?? "info",
        extra: o.env,
      });
      delete env.BRIDGE_INSTANCE_ID; // one per process, below
      env.BRIDGE_PORT = "0";
      let storeConfig: StoreConfig;
      let schema: PgSchema | undefined;
      if (o.store === "postgres") {
        schema = await pgSchema(`cosell_rel_${o.name.replace(/[^a-z0-9]/gi, "").toLowerCase().slice(0, 20)}`);
        delete env.BRIDGE_SQLITE_PATH;
        env.DATABASE_URL = PG_URL;
        env.DATABASE_SCHEMA = schema.schema;
        storeConfig = { kind: "postgres", connectionString: PG_URL, schema: schema.schema };
      } else {
        env.BRIDGE_SQLITE_PATH = path.join(dir, "bridge.sqlite");
        storeConfig = { kind: "sqlite", path: env.BRIDGE_SQLITE_PATH };
      }
      const witness = witnessSecrets(sandbox, env);
      return new World(o.name, sandbox, balancer, env, storeConfig, witness, dir, schema);
    } catch (err) {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
      throw err;
    }
  }

  /** `cosell-bridge connect`: registers the balancer's URL with Partner Center and Dataverse. */
  async connect(): Promise<CliResult> {
    const result = await runCli(["connect", "--public-url", this.balancer.url], { ...this.env, BRIDGE_INSTANCE_ID: `${this.name}-connect` }, { logFile: this.logFile("cli"), timeoutMs: 180_000 });
    if (result.code !== 0) throw new Error(`cosell-bridge connect failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    return result;
  }

  logFile(instance: string): string {
    return path.join(this.dir, `${instance}.log`);
  }

  /** A bridge instance (not started): `cosell-bridge serve` with this world's environment. */
  instance(name: string, env: Record<string, string> = {}): BridgeProcess {
    const b = new BridgeProcess({ name, env: { ...this.env, BRIDGE_INSTANCE_ID: `${this.name}-${name}`, ...env }, logFile: this.logFile(name) });
    this.bridges.push(b);
    return b;
  }

  /** Starts an instance and puts it behind the balancer. */
  async up(bridge: BridgeProcess, env: Record<string, string> = {}): Promise<string> {
    const url = await bridge.start(env);
    this.balancer.addTarget(url);
    return url;
  }

  /** SIGKILLs an instance and takes it out of the balancer. */
  async crash(bridge: BridgeProcess): Promise<void> {
    const url = bridge.running ? bridge.url : undefined;
    await bridge.kill();
    if (url) this.balancer.removeTarget(url);
  }

  /** Stops an instance gracefully (SIGTERM) and takes it out of the balancer. */
  async down(bridge: BridgeProcess): Promise<void> {
    const url = bridge.running ? bridge.url : undefined;
    if (url) this.balancer.removeTarget(url);
    await bridge.stop();
  }

  /** The store, opened from this process. */
  store(): Promise<Store> {
    this.probe ??= openProbe(this.storeConfig);
    return this.probe;
  }

  async queue(): Promise<QueueStats> {
    return (await this.store()).queueStats();
  }

  /** Every line every bridge process (and CLI command) of this world wrote. */
  logText(): string {
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith(".log"))
      .map((f) => fs.readFileSync(path.join(this.dir, f), "utf8"))
      .join("\n");
  }

  /**
   * Quiet: no Partner Center delivery pending, no Dataverse webhook in flight, nothing queued or
   * running in the store, three times in a row.
   */
  async settle(timeoutMs = 120_000): Promise<void> {
    let calm = 0;
    await waitFor(
      async () => {
        await this.sandbox.dataverse.webhooks.idle();
        const pcPending = this.sandbox.partnerCenter.deliveries().some((d) => d.status === "pending");
        const q = await this.queue();
        calm = !pcPending && q.queued === 0 && q.running === 0 ? calm + 1 : 0;
        return calm >= 3;
      },
      `${this.name}: the bridge to settle`,
      timeoutMs,
      250,
    );
  }

  /** The admin API of one running instance (token: the configured one unless given). */
  async admin<T = unknown>(method: string, urlPath: string, options: { token?: string | null; body?: string; headers?: Record<string, string>; via?: BridgeProcess } = {}): Promise<HttpAnswer<T>> {
    const via = options.via ?? this.bridges.find((b) => b.running);
    if (!via) throw new Error("no bridge instance is running");
    const token = options.token === undefined ? this.env.BRIDGE_ADMIN_TOKEN : options.token;
    return fetchAnswer<T>(`${via.url}${urlPath}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(options.headers ?? {}) },
      body: options.body,
      redirect: "manual",
    });
  }

  // ---- a seller, through the Dataverse Web API (retrying injected faults, as a browser's user would) ----

  async seller<T = unknown>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: T }> {
    for (let attempt = 1; ; attempt++) {
      let r: { status: number; headers: Headers; body: T };
      try {
        r = await this.sandbox.dataverseApi<T>(method, urlPath, body, headers ? { headers } : {});
      } catch (err) {
        if (attempt >= 30) throw err;
        await pause(100);
        continue;
      }
      if ((r.status === 429 || r.status >= 500) && attempt < 30) {
        await pause(Math.max(100, parseRetryAfter(r.headers.get("retry-after"), Date.now(), 5_000) ?? 100));
        continue;
      }
      return r;
    }
  }

  async mustSeller<T = unknown>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: T }> {
    const r = await this.seller<T>(method, urlPath, body, headers);
    if (r.status >= 300) throw new Error(`seller ${method} ${urlPath}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
    return r;
  }

  async createAccount(name: string, postalCode: string, country = "US"): Promise<string> {
    const A = SystemColumn.account;
    return createdId(await this.mustSeller("POST", `/${Table.account.entitySetName}`, { [A.name]: name, [A.postalCode]: postalCode, [A.country]: country, [A.city]: "Redmond" }));
  }

  async createContact(first: string, last: string, email: string, accountId?: string): Promise<string> {
    const C = SystemColumn.contact;
    return createdId(
      await this.mustSeller("POST", `/${Table.contact.entitySetName}`, {
        [C.firstName]: first,
        [C.lastName]: last,
        [C.email]: email,
        ...(accountId ? { "parentcustomerid_account@odata.bind": `/${Table.account.entitySetName}(${accountId})` } : {}),
      }),
    );
  }

  /** A co-sell opportunity a seller shares with Partner Center (account, contact, solution, help). */
  async createReadyOpportunity(tag: string, values: Record<string, unknown> = {}): Promise<{ opportunityId: string; accountId: string; contactId: string }> {
    const accountId = await this.createAccount(`Account ${tag}`, `9${tag.length}${tag.charCodeAt(0) % 10}01`);
    const contactId = await this.createContact("Dana", `Buyer${tag}`, `dana.${tag}@buyer.example`, accountId);
    const O = SystemColumn.opportunity;
    const accounts = Table.account.entitySetName;
    const opportunityId = createdId(
      await this.mustSeller("POST", `/${Table.opportunity.entitySetName}`, {
        [O.name]: `Deal ${tag}`,
        [O.estimatedValue]: 25000,
        [O.estimatedCloseDate]: "2027-01-31",
        [O.description]: `Deal notes ${tag}`,
        "customerid_account@odata.bind": `/${accounts}(${accountId})`,
        [`${O.parentAccount}@odata.bind`]: `/${accounts}(${accountId})`,
        [`${O.parentContact}@odata.bind`]: `/${Table.contact.entitySetName}(${contactId})`,
        [OpportunityColumn.products]: SOLUTION_ID,
        [OpportunityColumn.microsoftHelp]: 174200002,
        [OpportunityColumn.shareWithMicrosoft]: true,
        [OpportunityColumn.syncWithPartnerCenter]: true,
        ...values,
      }),
    );
    return { opportunityId, accountId, contactId };
  }

  // ---- Microsoft, through the Partner Center emulator's control API (never faulted) ----

  async inboundReferral(body: Record<string, unknown>): Promise<string> {
    const r = await this.sandbox.partnerCenterControl<{ id: string }>("POST", "/_emulator/inbound-referrals", body);
    if (r.status >= 300) throw new Error(`inbound referral: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id;
  }

  // ---- looking, without faults ----

  referral(id: string): Referral | undefined {
    return this.sandbox.partnerCenter.getReferral(id);
  }

  /** Every referral the emulator holds (the partner's and Microsoft's). */
  referrals(): Referral[] {
    const seen = new Set<string>();
    const out: Referral[] = [];
    for (const c of this.sandbox.partnerCenter.changes()) {
      if (seen.has(c.referralId)) continue;
      seen.add(c.referralId);
      const r = this.sandbox.partnerCenter.getReferral(c.referralId);
      if (r) out.push(r);
    }
    return out;
  }

  /** Rows of a Dataverse table as stored (no API, no faults). */
  rows(entity: string): Array<Record<string, unknown>> {
    return [...this.sandbox.dataverse.organization.store.scan(entity)].map((r) => r.row as Record<string, unknown>);
  }

  row(entity: string, id: string): Record<string, unknown> | undefined {
    return this.sandbox.dataverse.organization.row(entity, id) as Record<string, unknown> | undefined;
  }

  async close(): Promise<void> {
    for (const b of this.bridges) await b.kill().catch(() => undefined);
    if (this.probe) await (await this.probe.catch(() => undefined))?.close().catch(() => undefined);
    await this.balancer.close().catch(() => undefined);
    await this.sandbox.close().catch(() => undefined);
    if (this.schema) await this.schema.drop().catch(() => undefined);
    if (!process.env["COSELL_KEEP_LOGS"]) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function fetchAnswer<T = unknown>(url: string, init: RequestInit): Promise<HttpAnswer<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

export function createdId(r: { headers: Headers }): string {
  const id = /\(([0-9a-f-]{36})\)/i.exec(r.headers.get("odata-entityid") ?? "")?.[1];
  if (!id) throw new Error("the create answered without OData-EntityId");
  return id.toLowerCase();
}

/** An inbound co-sell referral as Microsoft sends it. */
export function coSellReferral(tag: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return taggedCoSellReferral(tag, `98${(tag.charCodeAt(0) % 90) + 10}`, overrides);
}
