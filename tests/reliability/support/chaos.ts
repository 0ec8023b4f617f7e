/**
 * The chaos run: random operations by sellers (Dataverse Web API, through injected faults) and by
 * Microsoft (Partner Center), with faults on in both emulators and the bridge SIGKILLed and
 * restarted along the way; then quiescence, one reconcile, and a field-by-field comparison of
 * both sides against what the operations did. Shared by tests/reliability/chaos.test.ts (CI-sized)
 * and tests/soak/run.ts (long).
 *
 * What the driver knows, and how it judges the end state
 * - Every operation is serialized per deal (a deal = one referral ↔ one opportunity), so the order
 *   of the edits of each field is known. Deals run concurrently with each other.
 * - An edit of a field on one side is *uncontested* when, at that moment, both sides showed the same
 *   value for it (the previous edit had arrived). Then the bridge has no conflict to settle, and the
 *   end state must hold exactly the last edit on both sides: anything else is a lost edit.
 * - Occasionally the driver edits a field whose previous edit has not arrived yet (*contested*):
 *   the mapping's policy (latest-wins, per record) settles it, so the end value must be the last
 *   value written on one of the two sides, and both sides must agree.
 * - Closed referrals are read-only: Partner Center keeps its value, Dynamics 365 keeps the seller's
 *   later edits, and each such edit must leave a dead letter (or an audit line) that says why.
 * Each operation draws from its own generator derived from (seed, index), so a seed replays the same
 * decisions; interleaving with the bridge still varies from run to run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  OpportunityColumn,
  OpportunityState,
  ReferralAction,
  SyncState,
  SystemColumn,
  Table,
  parseAudit,
  stripCheckmark,
} from "@cosell/contract";
import type { FaultInjector, FaultSettingsInput } from "@cosell/sandbox/src/faults";
import type { Referral } from "@cosell/sandbox/src/partner-center";
import type { Job, Link } from "@cosell/bridge/src/store";
import type { BridgeProcess } from "./bridge-process";
import { Prng } from "./prng";
import { findSecrets } from "./secrets";
import { integrity } from "./store-probe";
import { pause } from "./wait";
import { coSellReferral, World, type StoreKind } from "./world";

/** The issue's fault mix: ≈10% 5xx, 5% 429 with Retry-After, 2% timeouts, 10% webhooks dropped, 20% delayed. */
export const CHAOS_FAULTS: FaultSettingsInput = {
  errorRate: 0.1,
  throttleRate: 0.05,
  retryAfterSeconds: 1,
  timeoutRate: 0.02,
  timeoutHoldMs: 1_500,
  webhookDropRate: 0.1,
  webhookDelayRate: 0.2,
  webhookDelayMaxMs: 2_500,
};

/** The bridge's knobs for a run that must converge in minutes: short reconcile, lease and backoff. */
export const CHAOS_BRIDGE_ENV: Record<string, string> = {
  RECONCILE_INTERVAL_SECONDS: "5",
  BRIDGE_JOB_LEASE_SECONDS: "4",
  SYNC_MAX_ATTEMPTS: "100",
  WORKER_CONCURRENCY: "8",
  SYNC_BACKOFF_MAX_SECONDS: "3",
};

export interface ChaosOptions {
  readonly store: StoreKind;
  readonly seed: number;
  readonly operations: number;
  readonly kills: number;
  /** Operations in flight at once (on different deals). */
  readonly actors: number;
  readonly settleTimeoutMs?: number;
  readonly logLevel?: string;
  /** Progress lines (stdout in the soak, nothing in jest unless asked). */
  readonly log?: (line: string) => void;
}

type Side = "pc" | "crm";
type Value = string | number | null;
const FIELDS = ["name", "dealValue", "closeDate", "notes"] as const;
type FieldName = (typeof FIELDS)[number];

const OPERATIONS = {
  "microsoft.create": 5,
  "seller.create": 5,
  "seller.edit": 36,
  "microsoft.edit": 34,
  "microsoft.respond": 4,
  "seller.accept": 3,
  "seller.decline": 0.8,
  "seller.win": 1.2,
  "seller.lose": 1,
  "microsoft.expire": 1,
  "seller.editClosedReferral": 3,
} as const;
export type OperationKind = keyof typeof OPERATIONS;

type TerminalKind = "Won" | "Lost" | "Expired" | "Declined";

interface Edit {
  readonly side: Side;
  readonly value: Value;
  readonly seq: number;
  readonly contested: boolean;
  /** When the service answered (epoch ms). */
  readonly at: number;
}

/** One committed change of a deal's record, on either side, and who made it (diagnostics). */
interface Change {
  readonly at: number;
  readonly side: Side;
  readonly by: string;
  readonly what: string;
}

interface Deal {
  readonly index: number;
  readonly origin: "microsoft" | "seller";
  readonly tag: string;
  referralId?: string;
  opportunityId?: string;
  readonly initial: Record<FieldName, Value>;
  readonly edits: Record<FieldName, Edit[]>;
  /** Terminal requests in the order the driver made them. */
  readonly terminal: Array<{ kind: TerminalKind; side: Side; at: number }>;
  accepted: boolean;
  closedInCrm?: "won" | "lost";
  readonly microsoftCrmIds: string[];
  editsToClosedReferral: number;
  busy: boolean;
}

export interface FaultCounts {
  requests: number;
  errors: number;
  throttles: number;
  timeouts: number;
  webhooks: number;
  dropped: number;
  delayed: number;
}

export interface ChaosReport {
  readonly seed: number;
  readonly store: StoreKind;
  readonly operations: { planned: number; done: number; refused: number; byKind: Record<string, number>; refusals: Record<string, number> };
  readonly kills: number;
  readonly restarts: number;
  /** Faults injected while the operations ran (the bridge's and the seller's requests). */
  readonly faults: { partnerCenter: FaultCounts; dataverse: FaultCounts };
  readonly durations: { operationsMs: number; quiesceMs: number; reconcileMs: number; totalMs: number };
  readonly counts: {
    deals: number;
    referrals: number;
    microsoftReferrals: number;
    opportunities: number;
    accounts: number;
    contacts: number;
    links: number;
    closedReferrals: number;
    fieldsChecked: number;
    contestedFields: number;
    heldFields: number;
    editsToClosedReferrals: number;
    syncsDone: number;
    syncRetries: number;
    leasesReaped: number;
    webhooksRefused: number;
  };
  readonly reconcile: { enqueued: number };
  readonly deadLetters: { total: number; expected: number; reasons: Record<string, number> };
  readonly secrets: { scanned: number; lines: number; leaks: number };
  readonly integrity: string;
  /** A file with the timeline of the first deals that went wrong (only when something did). */
  readonly diagnostics?: string;
  readonly problems: {
    duplicates: string[];
    missing: string[];
    unconverged: string[];
    lostEdits: string[];
    status: string[];
    deadLetters: string[];
    links: string[];
    queue: string[];
    secrets: string[];
  };
}

// ---- reading both sides (in process: no faults) ------------------------------------------------

const O = SystemColumn.opportunity;

function pcField(r: Referral, f: FieldName): Value {
  switch (f) {
    case "name":
      return r.name?.trim() || null;
    case "dealValue":
      return r.details?.dealValue === undefined || r.details.dealValue === null ? null : Math.round(Number(r.details.dealValue) * 100) / 100;
    case "closeDate":
      return r.details?.closingDateTime ? String(r.details.closingDateTime).slice(0, 10) : null;
    case "notes":
      return r.details?.notes?.trim() || null;
  }
}

function crmField(row: Record<string, unknown>, f: FieldName): Value {
  switch (f) {
    case "name":
      return typeof row[O.name] === "string" ? stripCheckmark(row[O.name] as string).trim() || null : null;
    case "dealValue":
      return typeof row[O.estimatedValue] === "number" ? Math.round((row[O.estimatedValue] as number) * 100) / 100 : null;
    case "closeDate":
      return typeof row[O.estimatedCloseDate] === "string" ? (row[O.estimatedCloseDate] as string).slice(0, 10) : null;
    case "notes":
      return typeof row[O.description] === "string" ? (row[O.description] as string).trim() || null : null;
  }
}

const isClosed = (r: Referral | undefined) => r?.status?.toLowerCase() === "closed";

function countFaults(f: FaultInjector): FaultCounts {
  const c: FaultCounts = { requests: 0, errors: 0, throttles: 0, timeouts: 0, webhooks: 0, dropped: 0, delayed: 0 };
  const request = f.drawRequestFault.bind(f);
  const webhook = f.drawWebhookFault.bind(f);
  f.drawRequestFault = () => {
    const r = request();
    c.requests++;
    if (r.kind === "error") c.errors++;
    else if (r.kind === "throttle") c.throttles++;
    else if (r.kind === "timeout") c.timeouts++;
    return r;
  };
  f.drawWebhookFault = () => {
    const r = webhook();
    c.webhooks++;
    if (r.kind === "drop") c.dropped++;
    else if (r.kind === "delay") c.delayed++;
    return r;
  };
  return c;
}

// ---- the run ------------------------------------------------------------------------------------

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.log ?? (() => undefined);
  const started = Date.now();
  const root = new Prng(o.seed);
  const world = await World.start({ name: `chaos-${o.store}`, store: o.store, env: CHAOS_BRIDGE_ENV, logLevel: o.logLevel ?? "info", reconcileIntervalSeconds: 5 });
  try {
    return await new ChaosRun(world, o, root, say, started).run();
  } finally {
    await world.close();
  }
}

class ChaosRun {
  private readonly deals: Deal[] = [];
  private seq = 0;
  private readonly byKind: Record<string, number> = {};
  private readonly refusals: Record<string, number> = {};
  private done = 0;
  private refused = 0;
  private bridge!: BridgeProcess;
  private restarts = 0;
  private readonly pcFaults: FaultCounts;
  private readonly dvFaults: FaultCounts;
  /** Every committed change of an opportunity or a referral, by record id (diagnostics of a failed run). */
  private readonly history = new Map<string, Change[]>();

  constructor(
    private readonly world: World,
    private readonly o: ChaosOptions,
    private readonly root: Prng,
    private readonly say: (line: string) => void,
    private readonly started: number,
  ) {
    this.pcFaults = countFaults(world.sandbox.partnerCenter.faults);
    this.dvFaults = countFaults(world.sandbox.dataverse.faults);
    const bridgeUser = world.sandbox.bridgeUserId.toLowerCase();
    const remember = (id: string, c: Change) => {
      const list = this.history.get(id) ?? [];
      list.push(c);
      this.history.set(id, list);
    };
    world.sandbox.dataverse.events.on("commit", (c: { entity: string; id: string; message: string; at: number; callerId: string }) => {
      if (c.entity !== Table.opportunity.logicalName) return;
      const row = world.row(c.entity, c.id);
      const values = row ? FIELDS.map((f) => `${f}=${JSON.stringify(crmField(row, f))}`).join(" ") : "(gone)";
      const state = row ? ` state=${String(row[O.stateCode])} action=${String(row[OpportunityColumn.referralAction] ?? "")} rs=${String(row[OpportunityColumn.referralStatus])}/${String(row[OpportunityColumn.referralSubstatus])}` : "";
      remember(c.id.toLowerCase(), { at: c.at, side: "crm", by: c.callerId.toLowerCase() === bridgeUser ? "bridge" : "seller", what: `${c.message} ${values}${state}` });
    });
    world.sandbox.partnerCenter.events.on("commit", (c: { referralId: string; eventName: string; at: number; actor: string }) => {
      const r = world.referral(c.referralId);
      const values = r ? FIELDS.map((f) => `${f}=${JSON.stringify(pcField(r, f))}`).join(" ") : "(gone)";
      remember(c.referralId, { at: c.at, side: "pc", by: c.actor === "partner" ? "bridge" : c.actor, what: `${c.eventName} ${values} status=${r?.status}/${r?.substatus}` });
    });
  }

  async run(): Promise<ChaosReport> {
    const { world, o } = this;
    await world.connect();
    this.bridge = world.instance("bridge");
    await world.up(this.bridge);
    this.say(`chaos ${o.store}: seed ${o.seed}, ${o.operations} operations, ${o.kills} kills, bridge at ${this.bridge.url}`);

    const seed = o.seed;
    world.sandbox.partnerCenter.faults.update({ ...CHAOS_FAULTS, seed });
    world.sandbox.dataverse.faults.update({ ...CHAOS_FAULTS, seed: seed + 1 });

    // ---- operations, with SIGKILLs at evenly spaced points -------------------------------------
    const opsStarted = Date.now();
    const killAt = new Set(Array.from({ length: o.kills }, (_, k) => Math.floor(((k + 1) * o.operations) / (o.kills + 1))));
    // Crashes one after another: each restart completes before the next SIGKILL.
    let crashes: Promise<void> = Promise.resolve();
    let next = 0;
    const actor = async () => {
      for (;;) {
        const i = next++;
        if (i >= o.operations) return;
        if (killAt.has(i)) crashes = crashes.then(() => this.crashAndRestart(this.root.derive(1_000_000 + i)));
        await this.operation(i, this.root.derive(i));
        if (i % 250 === 249) this.say(`  ${i + 1} operations (${this.deals.length} deals), ${((Date.now() - opsStarted) / 1000).toFixed(0)} s`);
      }
    };
    await Promise.all(Array.from({ length: o.actors }, actor));
    await crashes;
    const operationsMs = Date.now() - opsStarted;
    // The faults the bridge met while the operations ran (after this, faults are off).
    const faultsDuringOperations = { partnerCenter: { ...this.pcFaults }, dataverse: { ...this.dvFaults } };

    // ---- quiescence: faults off, everything delivered and worked off ----------------------------
    const quiesceStarted = Date.now();
    world.sandbox.partnerCenter.faults.update({});
    world.sandbox.dataverse.faults.update({});
    this.say(`  operations done in ${(operationsMs / 1000).toFixed(0)} s; waiting for quiescence`);
    await world.settle(o.settleTimeoutMs ?? 300_000);
    // A graceful restart without the reconcile timer: from here on, exactly one reconcile runs.
    await world.down(this.bridge);
    await world.up(this.bridge, { RECONCILE_INTERVAL_SECONDS: "0" });
    this.restarts++;
    await world.settle(o.settleTimeoutMs ?? 300_000);
    const quiesceMs = Date.now() - quiesceStarted;

    // ---- one reconcile ----------------------------------------------------------------------
    const reconcileStarted = Date.now();
    const sweep = await world.admin<{ enqueued: number }>("POST", "/admin/reconcile");
    if (sweep.status !== 200) throw new Error(`reconcile: HTTP ${sweep.status} ${sweep.text}`);
    await world.settle(o.settleTimeoutMs ?? 300_000);
    const reconcileMs = Date.now() - reconcileStarted;
    this.say(`  quiet after ${(quiesceMs / 1000).toFixed(0)} s; reconcile enqueued ${sweep.body.enqueued}; checking`);

    const report = await this.judge({ operationsMs, quiesceMs, reconcileMs, totalMs: 0 }, sweep.body.enqueued, faultsDuringOperations);
    await world.down(this.bridge);
    // Secrets: every line every bridge process wrote during the run.
    const text = world.logText();
    const leaks = findSecrets(text, world.witness.secrets());
    const troubled = [...new Set(Object.values(report.problems).flat().map((p) => /^deal (\d+) /.exec(p)?.[1]).filter((x): x is string => !!x))].map(Number);
    let diagnostics: string | undefined;
    if (troubled.length > 0) {
      diagnostics = path.join(os.tmpdir(), `cosell-chaos-${o.store}-${o.seed}-${process.pid}.txt`);
      fs.writeFileSync(diagnostics, this.diagnose(troubled.slice(0, 8), text));
    }
    return {
      ...report,
      ...(diagnostics ? { diagnostics } : {}),
      durations: { ...report.durations, totalMs: Date.now() - this.started },
      integrity: integrity(world.storeConfig),
      secrets: { scanned: world.witness.size, lines: text.split("\n").length, leaks: leaks.length },
      problems: { ...report.problems, secrets: leaks.slice(0, 20).map((l) => `line ${l.line}: ${l.secret}: ${l.excerpt}`) },
    };
  }

  private async crashAndRestart(rng: Prng): Promise<void> {
    await this.world.crash(this.bridge);
    this.say(`  SIGKILL #${this.bridge.kills} (pid gone); restarting`);
    await pause(rng.between(200, 2_000)); // down for a while: webhooks fail meanwhile
    await this.world.up(this.bridge);
    this.restarts++;
  }

  // ---- operations ---------------------------------------------------------------------------

  private discover(): void {
    const unknownReferral = this.deals.filter((d) => d.origin === "seller" && !d.referralId && d.opportunityId);
    const unknownRecord = this.deals.filter((d) => d.origin === "microsoft" && d.referralId && !d.opportunityId);
    if (unknownReferral.length > 0) {
      for (const d of unknownReferral) {
        const id = this.world.row(Table.opportunity.logicalName, d.opportunityId as string)?.[OpportunityColumn.referralId];
        if (typeof id === "string" && id) d.referralId = id;
      }
    }
    if (unknownRecord.length > 0) {
      const byReferral = new Map<string, string>();
      for (const row of this.world.rows(Table.opportunity.logicalName)) {
        const rid = row[OpportunityColumn.referralId];
        if (typeof rid === "string") byReferral.set(rid, String(row[O.id]));
      }
      for (const d of unknownRecord) d.opportunityId = byReferral.get(d.referralId as string);
    }
  }

  private pc(d: Deal): Referral | undefined {
    return d.referralId ? this.world.referral(d.referralId) : undefined;
  }

  private crm(d: Deal): Record<string, unknown> | undefined {
    return d.opportunityId ? this.world.row(Table.opportunity.logicalName, d.opportunityId) : undefined;
  }

  private eligible(kind: OperationKind): Deal[] {
    return this.deals.filter((d) => {
      if (d.busy) return false;
      const ref = this.pc(d);
      const open = !isClosed(ref);
      switch (kind) {
        case "microsoft.create":
        case "seller.create":
          return false;
        case "seller.edit":
          return !!d.opportunityId && !d.closedInCrm && open;
        case "microsoft.edit":
        case "microsoft.expire":
          return !!ref && open;
        case "microsoft.respond":
          return d.origin === "seller" && !!ref && open && ref.type?.toLowerCase() === "shared";
        case "seller.accept":
        case "seller.decline": {
          const row = this.crm(d);
          return d.origin === "microsoft" && !!row && !d.closedInCrm && ref?.status === "New" && row[OpportunityColumn.referralAction] == null && !d.accepted;
        }
        case "seller.win":
        case "seller.lose":
          return !!d.opportunityId && !!ref && !d.closedInCrm;
        case "seller.editClosedReferral":
          return !!d.opportunityId && !d.closedInCrm && !!ref && !open;
      }
    });
  }

  private async operation(i: number, rng: Prng): Promise<void> {
    this.discover();
    let kind = rng.weighted(OPERATIONS);
    let deal: Deal | undefined;
    if (kind !== "microsoft.create" && kind !== "seller.create") {
      const candidates = this.eligible(kind);
      if (candidates.length === 0) {
        // Nothing to do this to yet: an edit somewhere, else a new deal.
        const fallback = (["seller.edit", "microsoft.edit"] as const).find((k) => this.eligible(k).length > 0);
        kind = fallback ?? (rng.chance(0.5) ? "microsoft.create" : "seller.create");
      }
      if (kind !== "microsoft.create" && kind !== "seller.create") deal = rng.pick(this.eligible(kind));
    }
    if (deal) deal.busy = true;
    try {
      const outcome = await this.execute(kind, deal, rng, i);
      this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
      if (outcome === true) this.done++;
      else {
        this.refused++;
        const key = `${kind}: ${outcome}`.slice(0, 160);
        this.refusals[key] = (this.refusals[key] ?? 0) + 1;
      }
    } finally {
      if (deal) deal.busy = false;
    }
  }

  /** true, or why the service refused. */
  private async execute(kind: OperationKind, deal: Deal | undefined, rng: Prng, i: number): Promise<true | string> {
    const w = this.world;
    switch (kind) {
      case "microsoft.create": {
        const tag = `m${i}${rng.tag(4)}`;
        const body = coSellReferral(tag);
        const id = await w.inboundReferral(body);
        this.deals.push(this.newDeal("microsoft", tag, { name: `Co-sell ${tag}`, dealValue: 42000, closeDate: "2027-03-31", notes: `Notes ${tag}` }, { referralId: id }));
        return true;
      }
      case "seller.create": {
        const tag = `s${i}${rng.tag(4)}`;
        const { opportunityId } = await w.createReadyOpportunity(tag);
        this.deals.push(this.newDeal("seller", tag, { name: `Deal ${tag}`, dealValue: 25000, closeDate: "2027-01-31", notes: `Deal notes ${tag}` }, { opportunityId }));
        return true;
      }
      case "seller.edit":
      case "seller.editClosedReferral":
        return this.edit(deal as Deal, "crm", rng, kind === "seller.editClosedReferral");
      case "microsoft.edit":
        return this.edit(deal as Deal, "pc", rng, false);
      case "microsoft.respond": {
        const d = deal as Deal;
        const crmId = `MSX-${d.tag}-${i}`;
        const r = await w.sandbox.partnerCenterControl("POST", `/_emulator/referrals/${d.referralId}/microsoft-response`, {
          decision: rng.chance(0.8) ? "accept" : "decline",
          microsoftSeller: { firstName: "Alex", lastName: "Wilber", email: "alex.wilber@microsoft.example" },
          microsoftCrmId: crmId,
          notes: `Microsoft notes ${i}`,
        });
        if (r.status >= 300) return `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 100)}`;
        d.microsoftCrmIds.push(crmId);
        return true;
      }
      case "seller.accept":
      case "seller.decline": {
        const d = deal as Deal;
        const accept = kind === "seller.accept";
        const r = await w.seller("PATCH", `/${Table.opportunity.entitySetName}(${d.opportunityId})`, accept ? { [OpportunityColumn.referralAction]: ReferralAction.Accept } : { [OpportunityColumn.referralAction]: ReferralAction.Decline, [OpportunityColumn.declineReason]: "Not a fit for us" }, { "if-match": "*" });
        if (r.status >= 300) return `HTTP ${r.status}`;
        if (accept) d.accepted = true;
        else d.terminal.push({ kind: "Declined", side: "crm", at: Date.now() });
        return true;
      }
      case "seller.win":
      case "seller.lose": {
        const d = deal as Deal;
        const win = kind === "seller.win";
        const r = await w.seller("POST", win ? "/WinOpportunity" : "/LoseOpportunity", {
          Status: win ? 3 : rng.pick([4, 5]),
          OpportunityClose: { subject: win ? "Won" : "Lost", "opportunityid@odata.bind": `/${Table.opportunity.entitySetName}(${d.opportunityId})` },
        });
        if (r.status >= 300) return `HTTP ${r.status}`;
        d.closedInCrm = win ? "won" : "lost";
        d.terminal.push({ kind: win ? "Won" : "Lost", side: "crm", at: Date.now() });
        return true;
      }
      case "microsoft.expire": {
        const d = deal as Deal;
        const r = await w.sandbox.partnerCenterControl("POST", `/_emulator/referrals/${d.referralId}/expire`);
        if (r.status >= 300) return `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 100)}`;
        d.terminal.push({ kind: "Expired", side: "pc", at: Date.now() });
        return true;
      }
    }
  }

  private newDeal(origin: Deal["origin"], tag: string, initial: Record<FieldName, Value>, ids: { referralId?: string; opportunityId?: string }): Deal {
    return {
      index: this.deals.length,
      origin,
      tag,
      ...ids,
      initial,
      edits: { name: [], dealValue: [], closeDate: [], notes: [] },
      terminal: [],
      accepted: false,
      microsoftCrmIds: [],
      editsToClosedReferral: 0,
      busy: false,
    };
  }

  /** Both sides' current value of a field (undefined: that side does not exist yet). */
  private sides(d: Deal, f: FieldName): { pc?: Value; crm?: Value } {
    const ref = this.pc(d);
    const row = this.crm(d);
    return { ...(ref ? { pc: pcField(ref, f) } : {}), ...(row ? { crm: crmField(row, f) } : {}) };
  }

  private async edit(d: Deal, side: Side, rng: Prng, toClosedReferral: boolean): Promise<true | string> {
    // Mostly fields whose last edit has arrived on both sides; sometimes one that has not (a conflict).
    const settled = FIELDS.filter((f) => {
      const s = this.sides(d, f);
      return s.pc === undefined || s.crm === undefined || s.pc === s.crm;
    });
    const f = settled.length > 0 && !rng.chance(0.15) ? rng.pick(settled) : rng.pick(FIELDS);
    const now = this.sides(d, f);
    // A conflict only when the other side holds an edit of its own that has not arrived here yet
    // (two edits in a row on one side are no conflict: the second simply flows after the first).
    const other: Side = side === "pc" ? "crm" : "pc";
    const othersLast = [...d.edits[f]].reverse().find((e) => e.side === other);
    const contested = now.pc !== undefined && now.crm !== undefined && now.pc !== now.crm && othersLast !== undefined && now[other] === othersLast.value;
    const seq = ++this.seq;
    let value: Value;
    switch (f) {
      case "name":
        value = `${side === "pc" ? "MS" : "Seller"} ${d.tag} #${seq}`;
        break;
      case "dealValue":
        value = rng.between(1_000, 5_000_000);
        break;
      case "closeDate":
        value = `2027-${String(rng.between(1, 12)).padStart(2, "0")}-${String(rng.between(1, 28)).padStart(2, "0")}`;
        break;
      case "notes":
        value = `${side === "pc" ? "Microsoft" : "Seller"} notes #${seq} ${rng.tag(8)}`;
        break;
    }
    if (value === (side === "pc" ? now.pc : now.crm)) return true; // the same value again: nothing to record
    if (side === "pc") {
      const path = { name: "/name", dealValue: "/details/dealValue", closeDate: "/details/closingDateTime", notes: "/details/notes" }[f];
      const r = await this.world.sandbox.partnerCenterControl("PATCH", `/_emulator/referrals/${d.referralId}`, [{ op: "replace", path, value: f === "closeDate" ? `${value}T00:00:00Z` : value }]);
      if (r.status >= 300) return `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 100)}`;
    } else {
      const column = { name: O.name, dealValue: O.estimatedValue, closeDate: O.estimatedCloseDate, notes: O.description }[f];
      const r = await this.world.seller("PATCH", `/${Table.opportunity.entitySetName}(${d.opportunityId})`, { [column]: value }, { "if-match": "*" });
      if (r.status >= 300) return `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 100)}`;
    }
    d.edits[f].push({ side, value, seq, contested, at: Date.now() });
    if (toClosedReferral) d.editsToClosedReferral++;
    return true;
  }

  /** What happened to these deals, in time order: the driver's operations, both records' commits, webhooks, the bridge's log. */
  private diagnose(indexes: readonly number[], logText: string): string {
    const w = this.world;
    const t0 = this.started;
    const time = (ms: number) => `${((ms - t0) / 1000).toFixed(3).padStart(8)} s`;
    const logs = logText.split("\n");
    const out: string[] = [`chaos ${this.o.store} seed ${this.o.seed}: timelines of ${indexes.length} deals (times from the start of the run)`];
    for (const i of indexes) {
      const d = this.deals[i];
      if (!d) continue;
      const events: Array<{ at: number; line: string }> = [];
      for (const f of FIELDS) for (const e of d.edits[f]) events.push({ at: e.at, line: `DRIVER   ${e.side} edit #${e.seq} ${f}=${JSON.stringify(e.value)}${e.contested ? " (contested)" : ""}` });
      for (const t of d.terminal) events.push({ at: t.at, line: `DRIVER   ${t.side} → ${t.kind}` });
      for (const c of d.opportunityId ? (this.history.get(d.opportunityId) ?? []) : []) events.push({ at: c.at, line: `DV       ${c.by}: ${c.what}` });
      for (const c of d.referralId ? (this.history.get(d.referralId) ?? []) : []) events.push({ at: c.at, line: `PC       ${c.by}: ${c.what}` });
      for (const dl of w.sandbox.dataverse.webhooks.deliveries.filter((x) => x.primaryEntityId.toLowerCase() === d.opportunityId))
        events.push({ at: Date.parse(dl.attempts[0]?.at ?? "") || 0, line: `DV-HOOK  ${dl.message} ${dl.outcome} (${dl.attempts.length} attempts) op ${dl.operationId}` });
      for (const dl of w.sandbox.partnerCenter.deliveries().filter((x) => x.resourceId === d.referralId))
        events.push({ at: Date.parse(dl.createdAt), line: `PC-HOOK  ${dl.eventName} ${dl.status} (${dl.attempts.length} attempts${dl.delayedMs ? `, delayed ${dl.delayedMs} ms` : ""})` });
      const ids = [d.opportunityId, d.referralId].filter((x): x is string => !!x);
      for (const l of logs) {
        if (!ids.some((id) => l.includes(id))) continue;
        try {
          const j = JSON.parse(l) as { time?: number; msg?: string; linkKey?: string; jobId?: number; wrote?: unknown; err?: { message?: string }; instance?: string; pid?: number };
          events.push({ at: j.time ?? 0, line: `BRIDGE   [${j.pid ?? ""} job ${j.jobId ?? ""}] ${j.msg ?? ""}${j.wrote ? ` wrote ${JSON.stringify(j.wrote)}` : ""}${j.err?.message ? ` — ${j.err.message.slice(0, 200)}` : ""}` });
        } catch {
          // not a log line of ours
        }
      }
      events.sort((a, b) => a.at - b.at);
      const row = this.crm(d);
      out.push("", `=== deal ${i} (${d.origin} ${d.tag}) referral ${d.referralId ?? "?"} opportunity ${d.opportunityId ?? "?"}`);
      out.push(...events.map((e) => `${time(e.at)}  ${e.line}`));
      out.push("  audit:", ...parseAudit((row?.[OpportunityColumn.audit] as string | null) ?? null).map((a) => `    ${a.at} ${a.direction} ${a.outcome} ${a.message}`));
    }
    return `${out.join("\n")}\n`;
  }

  // ---- the verdict -------------------------------------------------------------------------

  private async judge(durations: ChaosReport["durations"], reconcileEnqueued: number, faults: ChaosReport["faults"]): Promise<Omit<ChaosReport, "secrets" | "integrity">> {
    const w = this.world;
    this.discover();
    const problems: ChaosReport["problems"] = { duplicates: [], missing: [], unconverged: [], lostEdits: [], status: [], deadLetters: [], links: [], queue: [], secrets: [] };
    const referrals = w.referrals();
    const ours = referrals.filter((r) => r.organizationId?.toLowerCase() !== "msft");
    const microsoft = referrals.length - ours.length;
    const opportunities = w.rows(Table.opportunity.logicalName);
    const accounts = w.rows(Table.account.logicalName);
    const contacts = w.rows(Table.contact.logicalName);
    const store = await w.store();

    // Duplicates: one opportunity per referral, one referral per opportunity, one account per customer.
    const dupes = (what: string, keys: Array<string | null | undefined>) => {
      const seen = new Map<string, number>();
      for (const k of keys) if (k) seen.set(k, (seen.get(k) ?? 0) + 1);
      for (const [k, n] of seen) if (n > 1) problems.duplicates.push(`${n} ${what} for ${k}`);
    };
    dupes("opportunities", opportunities.map((r) => r[OpportunityColumn.referralId] as string | null));
    dupes("referrals", ours.map((r) => r.externalReferenceId));
    const A = SystemColumn.account;
    dupes("accounts", accounts.map((a) => `${String(a[A.name])}|${String(a[A.postalCode])}`));
    dupes("contacts", contacts.map((c) => (typeof c[SystemColumn.contact.email] === "string" ? String(c[SystemColumn.contact.email]).toLowerCase() : null)));
    if (opportunities.length !== this.deals.length) problems.duplicates.push(`${opportunities.length} opportunities for ${this.deals.length} deals`);
    if (ours.length !== this.deals.length) problems.duplicates.push(`${ours.length} partner referrals for ${this.deals.length} deals`);

    // Links, as the store holds them.
    const links: Link[] = [];
    for (let page = await store.listLinks({ limit: 500 }); page.length > 0; page = await store.listLinks({ limit: 500, afterKey: page[page.length - 1]?.key })) links.push(...page);
    const linkByReferral = new Map(links.map((l) => [l.referralId, l]));

    const deadLetters: Job[] = await store.listDeadLetters(100_000);
    const deadByReferral = new Map<string, Job[]>();
    const dealOf = (link: Link | undefined) => this.deals.find((d) => link && d.referralId === link.referralId);
    for (const job of deadLetters) {
      const link = (await store.getLink(job.linkKey)) ?? (job.linkKey.startsWith("referral:") ? await store.findLinkByReferralId(job.linkKey.slice("referral:".length)) : undefined);
      const ref = link ? w.referral(link.referralId) : undefined;
      const reason = job.lastError ?? "";
      const deal = dealOf(link);
      const who = `${deal ? `deal ${deal.index} ` : ""}(dead letter ${job.id}, ${job.linkKey}, referral ${ref?.status ?? "?"}/${ref?.substatus ?? "?"})`;
      if (!reason.trim()) problems.deadLetters.push(`${who}: no reason given`);
      else if (!link || !isClosed(ref) || !/can no longer be changed|terminal|read-only/i.test(reason)) problems.deadLetters.push(`${who}: unexpected: ${reason.slice(0, 300)}`);
      if (link) deadByReferral.set(link.referralId, [...(deadByReferral.get(link.referralId) ?? []), job]);
    }

    let fieldsChecked = 0;
    let contestedFields = 0;
    let heldFields = 0;
    let closedReferrals = 0;
    for (const d of this.deals) {
      const label = `deal ${d.index} (${d.origin} ${d.tag}, referral ${d.referralId ?? "?"}, opportunity ${d.opportunityId ?? "?"})`;
      const ref = this.pc(d);
      const row = this.crm(d);
      if (!ref || !row) {
        problems.missing.push(`${label}: ${!ref ? "no referral" : "no opportunity"}`);
        continue;
      }
      const link = linkByReferral.get(ref.id);
      if (!link || link.recordId.toLowerCase() !== (d.opportunityId as string).toLowerCase() || link.entity !== "opportunity")
        problems.links.push(`${label}: link ${link ? `${link.key} → ${link.entity} ${link.recordId}` : "missing"}`);
      const closed = isClosed(ref);
      if (closed) closedReferrals++;
      const audit = parseAudit(row[OpportunityColumn.audit] as string | null);
      const held = audit.some((a) => a.outcome === "skipped" && a.direction === "CRM→PC" && /can no longer be changed/i.test(a.message)) || (deadByReferral.get(ref.id)?.length ?? 0) > 0;

      for (const f of FIELDS) {
        fieldsChecked++;
        const pc = pcField(ref, f);
        const crm = crmField(row, f);
        const edits = d.edits[f];
        const last = edits[edits.length - 1];
        const expected = last ? last.value : d.initial[f];
        const lastOn = (side: Side) => [...edits].reverse().find((e) => e.side === side)?.value ?? d.initial[f];
        const show = `${label} ${f}: Partner Center ${JSON.stringify(pc)}, Dynamics ${JSON.stringify(crm)}, last edit ${last ? `${JSON.stringify(last.value)} on ${last.side} (#${last.seq}${last.contested ? ", contested" : ""})` : `none (initial ${JSON.stringify(d.initial[f])})`}`;
        if (last?.contested) {
          contestedFields++;
          const allowed = [lastOn("pc"), lastOn("crm")];
          if (!allowed.includes(crm)) problems.lostEdits.push(`${show}: Dynamics holds neither side's last value`);
          if (!closed && pc !== crm) problems.unconverged.push(show);
          if (!closed && !allowed.includes(pc)) problems.lostEdits.push(`${show}: Partner Center holds neither side's last value`);
          if (closed && pc !== crm) heldFields++;
          continue;
        }
        if (!closed) {
          if (pc !== crm) problems.unconverged.push(show);
          else if (pc !== expected) problems.lostEdits.push(show);
          continue;
        }
        // Closed referral: Partner Center is frozen, Dynamics keeps the seller's later edits.
        if (last?.side === "crm") {
          if (crm !== expected) problems.lostEdits.push(`${show}: the seller's last edit is gone from Dynamics`);
          if (pc !== crm) {
            heldFields++;
            if (!held) problems.deadLetters.push(`${show}: kept in Dynamics only, but no dead letter or audit line says why`);
          }
        } else if (pc !== expected || crm !== expected) problems.lostEdits.push(show);
      }

      // Status: Partner Center's flows to Dynamics; the seller's requests reach Partner Center.
      const S = { status: OpportunityColumn.referralStatus, sub: OpportunityColumn.referralSubstatus };
      if ((row[S.status] ?? null) !== (ref.status ?? null) || (row[S.sub] ?? null) !== (ref.substatus ?? null))
        problems.status.push(`${label}: Dynamics shows ${String(row[S.status])}/${String(row[S.sub])}, Partner Center ${ref.status}/${ref.substatus}`);
      if (row[OpportunityColumn.referralAction] != null) problems.status.push(`${label}: the seller's referral action was never cleared`);
      const first = d.terminal[0];
      if (!first) {
        if (closed) problems.status.push(`${label}: referral ${ref.status}/${ref.substatus} though nobody closed it`);
        else if (d.accepted && !(ref.status === "Active" && ref.substatus === "Accepted")) problems.status.push(`${label}: accepted by the seller, referral ${ref.status}/${ref.substatus}`);
      } else {
        const allowed = first.side === "pc" ? [first.kind] : d.terminal.map((t) => t.kind);
        if (!closed || !allowed.includes(ref.substatus as TerminalKind)) problems.status.push(`${label}: referral ${ref.status}/${ref.substatus}, expected Closed/${allowed.join(" or ")}`);
      }
      const state = row[O.stateCode];
      const expectedState = d.closedInCrm === "won" ? OpportunityState.Won : d.closedInCrm === "lost" ? OpportunityState.Lost : OpportunityState.Open;
      if (state !== expectedState) problems.status.push(`${label}: opportunity state ${String(state)}, expected ${expectedState}`);
      const msx = d.microsoftCrmIds[d.microsoftCrmIds.length - 1];
      if (msx && row[OpportunityColumn.microsoftCrmId] !== msx) problems.status.push(`${label}: Microsoft CRM id ${String(row[OpportunityColumn.microsoftCrmId])}, expected ${msx}`);
      if (row[OpportunityColumn.syncState] !== SyncState.Synced) problems.status.push(`${label}: sync state ${String(row[OpportunityColumn.syncState])}: ${String(row[OpportunityColumn.syncError] ?? "")}`);
    }
    if (links.length !== this.deals.length) problems.links.push(`${links.length} links for ${this.deals.length} deals`);

    const q = await store.queueStats();
    if (q.queued !== 0 || q.running !== 0) problems.queue.push(`queue not empty: ${JSON.stringify(q)}`);

    const reasons: Record<string, number> = {};
    for (const j of deadLetters) {
      const key = (j.lastError ?? "").replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, "<id>").replace(/: .*$/s, "").slice(0, 120);
      reasons[key] = (reasons[key] ?? 0) + 1;
    }
    const logs = this.world.logText()
      .split("\n")
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string };
        } catch {
          return undefined;
        }
      });
    const count = (msg: string) => logs.filter((l) => l?.msg === msg).length;
    return {
      seed: this.o.seed,
      store: this.o.store,
      operations: { planned: this.o.operations, done: this.done, refused: this.refused, byKind: this.byKind, refusals: this.refusals },
      kills: this.bridge.kills,
      restarts: this.restarts,
      faults,
      durations,
      counts: {
        deals: this.deals.length,
        referrals: ours.length,
        microsoftReferrals: microsoft,
        opportunities: opportunities.length,
        accounts: accounts.length,
        contacts: contacts.length,
        links: links.length,
        closedReferrals,
        fieldsChecked,
        contestedFields,
        heldFields,
        editsToClosedReferrals: this.deals.reduce((s, d) => s + d.editsToClosedReferral, 0),
        syncsDone: count("sync done"),
        syncRetries: count("sync failed; will try again"),
        leasesReaped: count("re-queued jobs whose worker stopped answering"),
        webhooksRefused: count("webhook refused"),
      },
      reconcile: { enqueued: reconcileEnqueued },
      deadLetters: { total: deadLetters.length, expected: deadLetters.length - problems.deadLetters.filter((p) => p.includes("unexpected:") || p.includes("no reason given")).length, reasons },
      problems,
    };
  }
}

/** The report as the suites print it. */
export function formatChaosReport(r: ChaosReport): string {
  const f = (c: FaultCounts) => `${c.requests} requests: ${c.errors} 5xx, ${c.throttles} 429, ${c.timeouts} timeouts; ${c.webhooks} webhooks: ${c.dropped} dropped, ${c.delayed} delayed`;
  const problems = Object.entries(r.problems).filter(([, v]) => v.length > 0);
  return [
    `chaos on ${r.store} — seed ${r.seed} (replay: COSELL_CHAOS_SEED=${r.seed})`,
    `  operations   ${r.operations.done + r.operations.refused} of ${r.operations.planned} (${r.operations.refused} refused by a service): ${Object.entries(r.operations.byKind).map(([k, n]) => `${k} ${n}`).join(", ")}`,
    ...(r.operations.refused > 0 ? [`  refusals     ${Object.entries(r.operations.refusals).map(([k, n]) => `${n}× ${k}`).join("; ")}`] : []),
    `  bridge       ${r.kills} SIGKILLs, ${r.restarts} restarts; ${r.counts.syncsDone} syncs, ${r.counts.syncRetries} retries, ${r.counts.leasesReaped} lease reaps, ${r.counts.webhooksRefused} webhooks refused`,
    `  faults PC    ${f(r.faults.partnerCenter)}`,
    `  faults DV    ${f(r.faults.dataverse)}`,
    `  end state    ${r.counts.deals} deals, ${r.counts.referrals} partner referrals (+${r.counts.microsoftReferrals} Microsoft's), ${r.counts.opportunities} opportunities, ${r.counts.accounts} accounts, ${r.counts.contacts} contacts, ${r.counts.links} links, ${r.counts.closedReferrals} closed referrals`,
    `  fields       ${r.counts.fieldsChecked} checked, ${r.counts.contestedFields} contested (settled by policy), ${r.counts.heldFields} kept in Dynamics only after ${r.counts.editsToClosedReferrals} edits to closed referrals`,
    `  reconcile    enqueued ${r.reconcile.enqueued}`,
    `  dead letters ${r.deadLetters.total} (${r.deadLetters.expected} expected): ${Object.entries(r.deadLetters.reasons).map(([k, n]) => `${n}× ${k}`).join("; ") || "none"}`,
    `  secrets      ${r.secrets.scanned} secrets searched in ${r.secrets.lines} log lines: ${r.secrets.leaks} found`,
    `  store        integrity ${r.integrity}`,
    `  durations    operations ${(r.durations.operationsMs / 1000).toFixed(1)} s, quiescence ${(r.durations.quiesceMs / 1000).toFixed(1)} s, reconcile ${(r.durations.reconcileMs / 1000).toFixed(1)} s, total ${(r.durations.totalMs / 1000).toFixed(1)} s`,
    ...(r.diagnostics ? [`  diagnostics  ${r.diagnostics}`] : []),
    problems.length === 0 ? "  problems     none" : `  PROBLEMS\n${problems.map(([k, v]) => `    ${k} (${v.length}):\n${v.slice(0, 15).map((p) => `      - ${p}`).join("\n")}`).join("\n")}`,
  ].join("\n");
}

/** Appends the report as one JSON line (the soak keeps a history of its runs). */
export function appendReport(file: string, r: ChaosReport): void {
  fs.appendFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), ...r })}\n`);
}
