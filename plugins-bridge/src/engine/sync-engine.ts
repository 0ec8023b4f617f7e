/**
 * One sync of one link: the shell around the pure sync core (src/sync). It reads both sides fresh
 * (a webhook is only a hint), decides with the core what to write, writes with If-Match on both
 * sides, and stores the new base snapshot only once both writes have succeeded.
 *
 * What a job key leads to:
 *   link known                → the linked sync (three-way merge, seller actions, lead qualification)
 *   opportunity, no link      → create a referral when "Sync with Partner Center" is Yes
 *   referral, no link         → create the opportunity or lead (or find the one a crash left behind)
 *   key not the link's own    → forward the work to the canonical key (serialized there)
 *
 * Errors are thrown as the typed API errors; the worker decides about retries from their class.
 */
import {
  type AuditDirection,
  type AuditEntry,
  type AuditOutcome,
  appendAudit,
  LeadColumn,
  OpportunityColumn,
  SyncState,
  Table,
} from "@cosell/contract";
import { ConcurrencyError, ValidationError } from "../http/errors";
import { lookupValueProperty, LeadState, SystemColumn, type DataverseValues } from "../dataverse/model";
import type { Mapping } from "../mapping";
import { fieldsForLink } from "../mapping";
import { canonicalJson, isJsonObject, jsonEquals, type JsonValue } from "../mapping/json";
import { applyOps } from "../mapping/pointer";
import { transitionOps } from "../mapping/transforms";
import type { Referral } from "../partner-center/model";
import type { Link, Store } from "../store";
import { CREATE_INTENT_PREFIX, LinkConflictError, StaleLinkError } from "../store";
import {
  buildRecordFromReferral,
  buildReferralCreate,
  holdKey,
  isTerminal,
  merge,
  nextForAccept,
  type PartnerCenterSide,
  type Snapshot,
  snapshotFromRecord,
  snapshotFromReferral,
  syncBookkeeping,
  syncErrorText,
  validateForCreate,
} from "../sync";
import type { CrmGateway, CrmSet } from "./crm";
import { isGuid, parseKey, type RecordKind, recordKey, referralKey } from "./keys";
import { isMicrosoftReferral, type PartnerCenterGateway } from "./partner-center";
import type { SyncSettings } from "./settings";

/** What a sync did, as one line of the status page's history. */
export interface SyncReport {
  readonly direction: AuditDirection;
  readonly outcome: AuditOutcome;
  readonly message: string;
}

export type SyncOutcome =
  /** Finished. `followUp`: a key to enqueue next (the canonical key after a create). */
  | { readonly kind: "done"; readonly reports: readonly SyncReport[]; readonly followUp?: string; readonly wrote: WriteCount }
  /** The work belongs to another key: enqueue it there and finish this job. */
  | { readonly kind: "forward"; readonly to: string; readonly reason: string }
  /** Cannot be applied and must not be retried automatically (it stays visible with its reason). */
  | { readonly kind: "dead-letter"; readonly reason: string; readonly reports: readonly SyncReport[]; readonly wrote: WriteCount };

export interface WriteCount {
  readonly partnerCenter: number;
  readonly dataverse: number;
}

export interface SyncContext {
  readonly correlationId: string;
}

export interface SyncEngineOptions {
  readonly store: Store;
  readonly partnerCenter: PartnerCenterGateway;
  readonly crm: CrmGateway;
  readonly settings: SyncSettings;
  readonly now?: () => Date;
  /** Rounds of read → merge → write after a 412 before the job is retried later. Default 4. */
  readonly maxMergeRounds?: number;
}

const LINK_ACTIVE = "active";
const LINK_CLOSED = "closed";

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

function reportsFrom(audit: readonly AuditEntry[]): SyncReport[] {
  return audit.map((a) => ({ direction: a.direction, outcome: a.outcome, message: a.message }));
}

const NO_WRITES: WriteCount = { partnerCenter: 0, dataverse: 0 };

/**
 * A base where both sides agree: for each field both sides now hold the same value, that value;
 * elsewhere the old base. Sound at any moment (an agreed value is a valid common ancestor), and what
 * a retry after a half-done sync (Partner Center written, Dataverse 412) must merge against.
 */
export function agreedBase(base: Snapshot | undefined, pc: Snapshot, crm: Snapshot): Snapshot {
  const out: Snapshot = { ...(base ?? {}) };
  for (const key of Object.keys(pc)) {
    const value = pc[key] as JsonValue;
    if (key in crm && canonicalJson(value) === canonicalJson(crm[key] as JsonValue)) out[key] = value;
  }
  return out;
}

/** Base-snapshot key of the writes in flight (saved before them, gone with the next base). */
export const PENDING_KEY = "#pending";

/**
 * One field of a write in flight: the side written (`pc`, the default, or `crm`), what that side
 * showed before the write, and what both sides hold once it lands.
 */
export interface PendingWrite {
  readonly side?: "pc" | "crm";
  readonly before: JsonValue;
  readonly after: JsonValue;
}

/**
 * The fields a sync is about to write, as `before`/`after` snapshot values per side written: a
 * field Partner Center changes to (`pcAfter`, what it will show after the PATCH) that Dynamics 365
 * already holds, and a field Dynamics 365 changes to (`target`, the new base) that Partner Center
 * will hold. Where the write lands, both sides agree on `after`. A field both sides still have to
 * receive, or neither, is left out: its base stays.
 */
export function pendingWrites(pc: Snapshot, crm: Snapshot, pcAfter: Snapshot, target: Snapshot): Record<string, PendingWrite> {
  const out: Record<string, PendingWrite> = {};
  for (const key of Object.keys(pcAfter)) {
    const was = pc[key] ?? null;
    const will = pcAfter[key] ?? null;
    if (!jsonEquals(was, will) && key in crm && jsonEquals(crm[key] ?? null, will)) out[key] = { side: "pc", before: was, after: will };
  }
  for (const key of Object.keys(crm)) {
    if (key in out || !(key in target) || !(key in pcAfter)) continue;
    const was = crm[key] ?? null;
    const will = target[key] ?? null;
    if (!jsonEquals(was, will) && jsonEquals(pcAfter[key] ?? null, will)) out[key] = { side: "crm", before: was, after: will };
  }
  return out;
}

/** The entries of a pending record written to one side. */
function pendingOn(pending: Record<string, PendingWrite>, side: "pc" | "crm"): Record<string, PendingWrite> {
  return Object.fromEntries(Object.entries(pending).filter(([, w]) => (w.side ?? "pc") === side));
}

/**
 * A base saved with writes in flight (the bridge stopped before it knew their outcome): per field,
 * where the side written still shows the value from before the write, the write did not land and
 * the base stays; anywhere else it landed — that side shows our value, or a later one someone set
 * there after we read it — and our value becomes the base, so a later edit there is seen as one
 * rather than as a conflict with our own write.
 */
export function settlePending(base: Snapshot, pc: Snapshot, crm: Snapshot): Snapshot {
  const { [PENDING_KEY]: raw, ...out } = base;
  if (!isJsonObject(raw)) return out;
  for (const [key, value] of Object.entries(raw)) {
    if (!isJsonObject(value) || !("before" in value) || !("after" in value)) continue;
    const now = (value.side === "crm" ? crm[key] : pc[key]) ?? null;
    const before = value.before as JsonValue;
    const after = value.after as JsonValue;
    if (jsonEquals(now, before) && !jsonEquals(now, after)) continue;
    out[key] = after;
    delete out[holdKey(key)];
  }
  return out;
}

/**
 * The base right after a referral was created from an opportunity: the referral's values for every
 * field the two share (both sides hold them now), and Dynamics' current values for the fields only
 * Partner Center fills (referral id, status, link…) so the first merge copies those over.
 */
export function baseAfterReferralCreated(mapping: Mapping, pc: Snapshot, crm: Snapshot): Snapshot {
  const base: Snapshot = {};
  for (const f of fieldsForLink(mapping, "opportunity")) {
    if (!f.onUpdate) continue;
    base[f.id] = (f.direction === "pc-to-crm" ? crm[f.id] : pc[f.id]) ?? null;
  }
  return base;
}

/**
 * The base of a record newly attached to an existing referral (the opportunity a qualified lead
 * became): no common history exists. A field the record has no value for gets an empty base, so
 * Partner Center's value fills it; a field both hold is left out of the base, so a disagreement is
 * settled by the field's conflict policy (and audited) rather than by whoever happens to be empty.
 */
export function baseForAttachedRecord(crm: Snapshot): Snapshot {
  const base: Snapshot = {};
  for (const [key, value] of Object.entries(crm)) if (value === null) base[key] = null;
  return base;
}

/** Store entry (a named value, like the reconcile cursors) naming the referral version a record is being created from. */
export function createIntentName(referralId: string): string {
  return `${CREATE_INTENT_PREFIX}${referralId}`;
}

function parseCreateIntent(raw: string | undefined): Snapshot | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return isJsonObject(parsed) && isJsonObject(parsed.copied) ? parsed.copied : undefined;
  } catch {
    return undefined;
  }
}

/** The snapshot values a record created from this plan starts with, for the fields it copies from Partner Center. */
export function copiedByCreate(mapping: Mapping, kind: RecordKind, record: Record<string, unknown>, pc: Snapshot): Snapshot {
  const out: Snapshot = {};
  for (const f of fieldsForLink(mapping, kind)) {
    if (f.onUpdate && f.kind === kind && f.dataverse in record && f.id in pc) out[f.id] = pc[f.id] as JsonValue;
  }
  return out;
}

/**
 * The base of a record an earlier attempt created but could not link (the bridge stopped in
 * between): it may have been edited since, so it is new to the link (baseForAttachedRecord), except
 * for the fields the create copied from Partner Center, whose values then (`copied`, kept before the
 * create) are the base: a seller's edit of them since is an edit, a Microsoft edit since is one too.
 */
export function baseForFoundRecord(copied: Snapshot | undefined, crm: Snapshot): Snapshot {
  return { ...baseForAttachedRecord(crm), ...(copied ?? {}) };
}

export class SyncEngine {
  private readonly now: () => Date;
  private readonly maxRounds: number;

  constructor(private readonly o: SyncEngineOptions) {
    this.now = o.now ?? (() => new Date());
    this.maxRounds = o.maxMergeRounds ?? 4;
  }

  async run(key: string, ctx: SyncContext): Promise<SyncOutcome> {
    const parsed = parseKey(key);
    if (!parsed) return { kind: "dead-letter", reason: `'${key}' is not a job key the bridge makes`, reports: [], wrote: NO_WRITES };
    if (parsed.kind === "referral") return this.syncReferralKey(parsed.id, ctx);
    return this.syncRecordKey(parsed.kind, parsed.id, key, ctx);
  }

  // ---- keys without a link ---------------------------------------------------------------

  private async syncRecordKey(kind: RecordKind, id: string, key: string, ctx: SyncContext): Promise<SyncOutcome> {
    const { store } = this.o;
    const link = (await store.getLink(key)) ?? (await store.findLinkByRecord(kind, id));
    if (link && link.key !== key) return { kind: "forward", to: link.key, reason: `the ${kind} belongs to link ${link.key}` };
    if (link) return this.syncLinked(link, ctx);

    const crm = await this.o.crm.readSet(kind, id);
    if (!crm) return { kind: "done", reports: [], wrote: NO_WRITES };
    const referralId = str(crm.record[OpportunityColumn.referralId]);
    if (referralId) {
      const other = await store.findLinkByReferralId(referralId);
      // A record that holds a referral id without a link: a create that stopped half-way. The
      // referral's key knows how to finish it (it finds this record by its alternate key).
      return { kind: "forward", to: other?.key ?? referralKey(referralId), reason: `the ${kind} holds referral ${referralId}` };
    }
    if (kind === "lead") return { kind: "done", reports: [], wrote: NO_WRITES };
    if (crm.record[OpportunityColumn.syncWithPartnerCenter] !== true) return { kind: "done", reports: [], wrote: NO_WRITES };
    return this.createReferral(crm, key, ctx);
  }

  private async syncReferralKey(referralId: string, ctx: SyncContext): Promise<SyncOutcome> {
    const { store, partnerCenter: pc } = this.o;
    const link = await store.findLinkByReferralId(referralId);
    if (link) return { kind: "forward", to: link.key, reason: `referral ${referralId} belongs to link ${link.key}` };
    const referral = await pc.read(referralId, ctx.correlationId);
    if (!referral) return { kind: "done", reports: [], wrote: NO_WRITES };

    if (isMicrosoftReferral(referral)) {
      // A related-referral event names Microsoft's referral; the work is on the partner's one.
      const ours = await pc.partnerReferralOf(referral, ctx.correlationId);
      if (!ours) return { kind: "done", reports: [], wrote: NO_WRITES };
      const ourLink = await store.findLinkByReferralId(ours.id);
      return { kind: "forward", to: ourLink?.key ?? referralKey(ours.id), reason: `Microsoft's referral ${referralId} is on the engagement of ${ours.id}` };
    }

    const external = referral.externalReferenceId;
    if (isGuid(external)) {
      // Created from one of our opportunities (a crash may have kept the link from being saved):
      // that opportunity's key finishes the job by looking before it creates.
      const opportunity = await this.o.crm.readSet("opportunity", external);
      if (opportunity && !str(opportunity.record[OpportunityColumn.referralId]) && opportunity.record[OpportunityColumn.syncWithPartnerCenter] === true)
        return { kind: "forward", to: recordKey("opportunity", opportunity.id), reason: `referral ${referralId} was created for opportunity ${opportunity.id}` };
    }
    return this.createFromReferral(referral, ctx);
  }

  // ---- Dynamics 365 → Partner Center: a new referral ---------------------------------------

  private async createReferral(crm: CrmSet, key: string, ctx: SyncContext): Promise<SyncOutcome> {
    const { settings, partnerCenter: pc, store } = this.o;
    const mapping = await settings.mapping();
    const problems = validateForCreate(crm, mapping, { catalogue: await settings.catalogue() });
    if (problems.length > 0) {
      const message = syncErrorText(problems);
      const wrote = await this.markError(crm, message, mapping, "CRM→PC");
      return { kind: "done", reports: [{ direction: "CRM→PC", outcome: "error", message }], wrote: { partnerCenter: 0, dataverse: wrote ? 1 : 0 } };
    }

    let referral = await pc.findByExternalReference(crm.id, ctx.correlationId);
    const created = !referral;
    if (!referral) {
      const plan = buildReferralCreate(crm, mapping);
      try {
        referral = await pc.create(plan.body as Record<string, unknown>, ctx.correlationId);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const message = `Partner Center refused the new referral: ${partnerCenterReason(err)}`;
        await this.markError(crm, message, mapping, "CRM→PC");
        return { kind: "dead-letter", reason: message, reports: [{ direction: "CRM→PC", outcome: "error", message }], wrote: NO_WRITES };
      }
    }
    const side = await pc.side(referral, ctx.correlationId);
    const base = baseAfterReferralCreated(mapping, snapshotFromReferral(side, mapping, "opportunity"), snapshotFromRecord(crm, mapping));
    let link: Link;
    try {
      link = await store.saveLink({
        key,
        referralId: referral.id,
        engagementId: referral.engagementId ?? null,
        entity: "opportunity",
        recordId: crm.id,
        base,
        pcETag: referral.eTag ?? null,
        crmETag: crm.etag,
        lastSyncedAt: null,
        state: LINK_ACTIVE,
        expectedVersion: null,
      });
    } catch (err) {
      if (err instanceof LinkConflictError && err.otherKey) return { kind: "forward", to: err.otherKey, reason: err.message };
      throw err;
    }
    const at = this.now().toISOString();
    const first: AuditEntry = {
      at,
      direction: "CRM→PC",
      outcome: "ok",
      message: created ? `Shared with Partner Center as referral ${referral.id}.` : `Linked to referral ${referral.id}, created earlier in Partner Center.`,
    };
    const out = await this.syncLinked(link, ctx, [first]);
    return created && out.kind !== "forward" ? { ...out, wrote: { ...out.wrote, partnerCenter: out.wrote.partnerCenter + 1 } } : out;
  }

  // ---- Partner Center → Dynamics 365: a new opportunity or lead -----------------------------

  private async createFromReferral(referral: Referral, ctx: SyncContext): Promise<SyncOutcome> {
    const { settings, crm, store, partnerCenter: pc } = this.o;
    const mapping = await settings.mapping();
    const side = await pc.side(referral, ctx.correlationId);
    const plan = buildRecordFromReferral(side, mapping);
    if (plan.kind === "skip") return { kind: "done", reports: [{ direction: "PC→CRM", outcome: "skipped", message: plan.reason }], wrote: NO_WRITES };
    const kind = plan.kind;

    // Customer account (name + postal code) and contact (e-mail): matched, else created with the record.
    const { accountId, contactId } = await crm.matchCustomer(
      plan.account?.match.name ? { name: plan.account.match.name, postalCode: plan.account.match.postalCode } : undefined,
      plan.contact?.match.email ?? undefined,
    );
    const now = this.now();
    const { body } = await crm.resolve(plan.record);
    const keyColumn = kind === "opportunity" ? OpportunityColumn.referralId : LeadColumn.referralId;
    delete body[keyColumn]; // it is the key in the URL
    const what = plan.category === "co-sell-opportunity" ? "co-sell opportunity" : plan.category === "marketplace-lead" ? "marketplace lead" : "qualified lead";
    const audit: AuditEntry = { at: now.toISOString(), direction: "PC→CRM", outcome: "ok", message: `Created from Partner Center referral ${referral.id} (${what}).` };
    body[OpportunityColumn.syncState] = SyncState.Synced;
    body[OpportunityColumn.lastSyncedOn] = now.toISOString();
    body[OpportunityColumn.audit] = appendAudit(null, [audit]);

    const account = accountId ? { id: accountId } : plan.account?.match.name ? { values: plan.account.values } : undefined;
    const contact = contactId ? { id: contactId } : plan.contact ? { values: plan.contact.values } : undefined;
    // What the create copies from Partner Center, kept before it: should the bridge stop between the
    // create and the link, the retry finds the record and needs to know which of its values came
    // from Partner Center and which a seller set since (baseForFoundRecord). The first attempt's wins.
    const intentName = createIntentName(referral.id);
    let intent = parseCreateIntent(await store.getCursor(intentName));
    if (!intent) {
      intent = copiedByCreate(mapping, kind, plan.record, snapshotFromReferral(side, mapping, kind));
      await store.setCursor(intentName, JSON.stringify({ copied: intent }));
    }
    const { id, created, row } = await crm.createWithCustomer(kind, referral.id, body, { ...(account ? { account } : {}), ...(contact ? { contact } : {}) });
    const writes = created ? 1 : 0;
    // The create answered with the new row; the account and contact are read only when the mapping
    // syncs some of their columns on update (their values are then part of the base).
    const relatedInBase = fieldsForLink(mapping, kind).some((f) => f.onUpdate && (f.kind === "account" || f.kind === "contact"));
    const set = row && created && !relatedInBase ? await crm.setFromRow(kind, row) : await crm.readSet(kind, id);
    if (!set) throw new ConcurrencyError(`the ${kind} ${id} vanished right after it was created`, { service: "dataverse", method: "GET", path: `/${crm.entitySet(kind)}` });
    const key = recordKey(kind, id);
    try {
      await store.saveLink({
        key,
        referralId: referral.id,
        engagementId: referral.engagementId ?? null,
        entity: kind,
        recordId: id,
        // Just created: from here on Partner Center's values win wherever the new record differs (a
        // value that could not be copied, an unresolved currency): the follow-up merge copies or holds
        // them. Found instead (a create whose link a crash kept from being saved): the record may
        // have been edited since, so it is new to the link, as a qualified lead's opportunity is —
        // taking it as the base would make a seller's edit (or win) look like ours and undo it.
        base: created ? snapshotFromRecord(set, mapping) : baseForFoundRecord(intent, snapshotFromRecord(set, mapping)),
        pcETag: referral.eTag ?? null,
        crmETag: set.etag,
        lastSyncedAt: now,
        state: isTerminal(referral) ? LINK_CLOSED : LINK_ACTIVE,
        expectedVersion: null,
      });
    } catch (err) {
      if (err instanceof StaleLinkError) return { kind: "forward", to: key, reason: `link ${key} exists already` };
      if (err instanceof LinkConflictError && err.otherKey) return { kind: "forward", to: err.otherKey, reason: err.message };
      throw err;
    }
    // A follow-up sync under the new key settles what the create could not carry (a value nothing in
    // Dynamics matched, Microsoft's side) — needless when both sides already agree field by field.
    const agree = !side.microsoft && canonicalJson(snapshotFromReferral(side, mapping, kind)) === canonicalJson(snapshotFromRecord(set, mapping));
    return {
      kind: "done",
      reports: created ? [{ direction: "PC→CRM", outcome: "ok", message: `${kind === "opportunity" ? "Opportunity" : "Lead"} ${id} created from referral ${referral.id}.` }] : [],
      ...(agree && created ? {} : { followUp: key }),
      wrote: { partnerCenter: 0, dataverse: writes },
    };
  }

  // ---- a link: the three-way merge -----------------------------------------------------------

  private async syncLinked(link: Link, ctx: SyncContext, extraAudit: readonly AuditEntry[] = []): Promise<SyncOutcome> {
    const { partnerCenter: pc, crm: gateway, settings, store } = this.o;
    let base = (link.base && typeof link.base === "object" && !Array.isArray(link.base) ? link.base : undefined) as Snapshot | undefined;
    let pcWrites = 0;
    let dvWrites = 0;
    // Audit lines of writes already made whose Dataverse write is still to come (carried across rounds).
    let carried: AuditEntry[] = [...extraAudit];

    for (let round = 1; round <= this.maxRounds; round++) {
      // The link's last sync is when both sides were read: anything changed later is news to reconcile.
      const readAt = this.now();
      const referral = await pc.read(link.referralId, ctx.correlationId);
      if (!referral) {
        await this.saveLinkState(link, "referral-missing");
        return { kind: "done", reports: [{ direction: "PC→CRM", outcome: "skipped", message: `Referral ${link.referralId} no longer exists in Partner Center.` }], wrote: { partnerCenter: pcWrites, dataverse: dvWrites } };
      }
      const crm = await gateway.readSet(link.entity, link.recordId);
      if (!crm) {
        await this.saveLinkState(link, "record-missing");
        return { kind: "done", reports: [{ direction: "CRM→PC", outcome: "skipped", message: `The ${link.entity} ${link.recordId} no longer exists in Dynamics 365.` }], wrote: { partnerCenter: pcWrites, dataverse: dvWrites } };
      }
      const side = await pc.side(referral, ctx.correlationId);

      if (link.entity === "lead" && crm.record[SystemColumn.lead.stateCode] === LeadState.Qualified) {
        const opportunityId = str(crm.record[lookupValueProperty(SystemColumn.lead.qualifyingOpportunity)]);
        if (opportunityId) return this.followQualification(link, side, crm, opportunityId.toLowerCase(), ctx);
      }

      const mapping = await settings.mapping();
      const now = this.now();
      // Both sides as read this round, in snapshot form (what the base is compared with).
      const pcSnap = snapshotFromReferral(side, mapping, link.entity);
      const crmSnap = snapshotFromRecord(crm, mapping);
      if (base && PENDING_KEY in base) base = settlePending(base, pcSnap, crmSnap);
      // A link that moved to an opportunity but still holds its lead's base (a crash right after the
      // move): the opportunity is new to the link, as right after a move.
      if (base && link.entity === "opportunity" && !Object.keys(base).some((k) => k.startsWith("opportunity."))) base = baseForAttachedRecord(crmSnap);
      const result = merge(base, side, crm, mapping, now);
      const newBase: Snapshot = { ...result.newBase };
      const audit: AuditEntry[] = [...carried, ...result.audit];

      // Lookups the core described by value (currency, owner) become binds; what matches nothing is held back.
      const { body, unresolved } = await gateway.resolve(result.toDataverse.record);
      if (unresolved.length > 0) {
        for (const u of unresolved) {
          const field = fieldsForLink(mapping, link.entity).find((f) => f.kind === link.entity && f.dataverse === u.column);
          if (!field) continue;
          if (base && field.id in base) newBase[field.id] = base[field.id] as JsonValue;
          else delete newBase[field.id];
          newBase[holdKey(field.id)] = { pc: pcSnap[field.id] ?? null, crm: crmSnap[field.id] ?? null, reason: "not-copied" };
          audit.push({ at: now.toISOString(), direction: "PC→CRM", outcome: "skipped", message: `${field.label} not copied: nothing in Dynamics 365 matches "${u.value}".` });
        }
      }

      // 0. What is about to be written, saved first: should the bridge stop before it learns the
      // outcome of a write, the next sync can tell from that side whether it landed (settlePending).
      const pcAfter =
        result.toPartnerCenter.length > 0
          ? snapshotFromReferral({ referral: applyOps(referral, result.toPartnerCenter), microsoft: side.microsoft ?? null }, mapping, link.entity)
          : pcSnap;
      const pending = pendingWrites(pcSnap, crmSnap, pcAfter, newBase);
      if (Object.keys(pending).length > 0) link = await store.saveLink({ ...link, base: { ...(base ?? {}), [PENDING_KEY]: pending }, expectedVersion: link.version });

      // 1. Partner Center, with the eTag read above.
      let referralAfter = referral;
      if (result.toPartnerCenter.length > 0) {
        try {
          referralAfter = await pc.patch(referral, result.toPartnerCenter, ctx.correlationId);
          pcWrites++;
          // Partner Center holds our change now: keep what both sides agree on before Dynamics 365 is
          // written. Should that write (or anything after it) fail, the retry must not take our own
          // change for an edit made in Partner Center: that would be a conflict where there is none,
          // and the policy could settle it against a real edit made there in the meantime.
          base = agreedBase(base, snapshotFromReferral({ referral: referralAfter, microsoft: side.microsoft ?? null }, mapping, link.entity), crmSnap);
          const crmPending = pendingOn(pending, "crm");
          link = await store.saveLink({
            ...link,
            base: Object.keys(crmPending).length > 0 ? { ...base, [PENDING_KEY]: crmPending } : base,
            pcETag: referralAfter.eTag ?? null,
            expectedVersion: link.version,
          });
        } catch (err) {
          if (err instanceof ConcurrencyError) continue; // changed since read: read again, merge again
          if (!(err instanceof ValidationError)) throw err;
          const message = `Partner Center refused the update: ${partnerCenterReason(err)}`;
          const wrote = await this.markError(crm, message, mapping, "CRM→PC");
          return { kind: "dead-letter", reason: message, reports: [{ direction: "CRM→PC", outcome: "error", message }], wrote: { partnerCenter: pcWrites, dataverse: dvWrites + (wrote ? 1 : 0) } };
        }
      }

      // 2. Dynamics 365, only when something changes (else our own echo would start it all again).
      const settingsNow = mapping.settings;
      const bookkeeping = syncBookkeeping(crm, { state: SyncState.Synced, audit, now }, settingsNow);
      const values: Record<string, unknown> = { ...bookkeeping, ...body };
      const needsWrite =
        Object.keys(body).length > 0 ||
        audit.length > 0 ||
        crm.record[OpportunityColumn.syncState] !== SyncState.Synced ||
        OpportunityColumn.syncError in bookkeeping ||
        SystemColumn.opportunity.name in bookkeeping;
      let crmETagAfter = crm.etag;
      if (needsWrite) {
        try {
          crmETagAfter = (await gateway.update(link.entity, crm.id, values, crm.etag)) ?? crm.etag;
          dvWrites++;
        } catch (err) {
          if (!(err instanceof ConcurrencyError)) throw err;
          // Partner Center may already hold our change: merge the next round against what both agree on.
          if (referralAfter !== referral) {
            base = agreedBase(base, snapshotFromReferral({ referral: referralAfter, microsoft: side.microsoft ?? null }, mapping, link.entity), crmSnap);
            // What was sent stays sent: its audit line goes with the next round's Dataverse write.
            carried = [...carried, ...result.audit.filter((a) => a.direction === "CRM→PC" && a.outcome !== "skipped")];
          }
          continue;
        }
      }
      await this.writeRelatedRows(crm, result.toDataverse.account, result.toDataverse.contact);

      // 3. The new base, only now that both sides hold it.
      try {
        await store.saveLink({
          key: link.key,
          referralId: link.referralId,
          engagementId: referralAfter.engagementId ?? link.engagementId,
          entity: link.entity,
          recordId: link.recordId,
          base: newBase,
          pcETag: referralAfter.eTag ?? null,
          crmETag: crmETagAfter,
          lastSyncedAt: readAt,
          state: isTerminal(referralAfter) ? LINK_CLOSED : LINK_ACTIVE,
          expectedVersion: link.version,
        });
      } catch (err) {
        if (err instanceof StaleLinkError) throw new ConcurrencyError(`link ${link.key} changed during the sync`, { service: "dataverse", method: "PATCH", path: link.key, cause: err });
        throw err;
      }
      const reports = reportsFrom(audit);
      const wrote = { partnerCenter: pcWrites, dataverse: dvWrites };
      if (result.partnerCenterSkipped) return { kind: "dead-letter", reason: result.partnerCenterSkipped.message, reports, wrote };
      return { kind: "done", reports, wrote };
    }
    throw new ConcurrencyError(`link ${link.key} kept changing on both sides during ${this.maxRounds} rounds; trying again later`, {
      service: "dataverse",
      method: "PATCH",
      path: link.key,
    });
  }

  /** A qualified lead: accept the referral, move the link to the new opportunity, sync that next. */
  private async followQualification(link: Link, side: PartnerCenterSide, lead: CrmSet, opportunityId: string, ctx: SyncContext): Promise<SyncOutcome> {
    const { partnerCenter: pc, crm, store, settings } = this.o;
    const mapping = await settings.mapping();
    const now = this.now();
    const at = now.toISOString();
    const audit: AuditEntry[] = [];
    let referral = side.referral;
    let pcWrites = 0;
    let dvWrites = 0;

    // Accept first: if the move happened first and the accept failed, the retry would no longer see a lead.
    const plan = nextForAccept(referral);
    const ops = transitionOps(plan, referral);
    if (ops.ok && ops.value.length > 0) {
      referral = await pc.patch(referral, ops.value, ctx.correlationId);
      pcWrites++;
      audit.push({ at, direction: "CRM→PC", outcome: "ok", message: "Lead qualified: referral accepted in Partner Center." });
    } else if (!ops.ok) {
      audit.push({ at, direction: "CRM→PC", outcome: "skipped", message: ops.reason });
    }
    audit.push({ at, direction: "CRM→PC", outcome: "ok", message: `The referral now follows opportunity ${opportunityId}.` });
    const leadValues = syncBookkeeping(lead, { state: SyncState.Synced, audit, now }, mapping.settings);
    await crm.update("lead", lead.id, { ...leadValues, [LeadColumn.referralStatus]: referral.status ?? null, [LeadColumn.referralSubstatus]: referral.substatus ?? null }, "*");
    dvWrites++;
    await crm.update("opportunity", opportunityId, { [OpportunityColumn.syncWithPartnerCenter]: true }, "*");
    dvWrites++;

    let moved: Link;
    try {
      moved = await store.moveLink(link.key, { entity: "opportunity", recordId: opportunityId, expectedVersion: link.version });
    } catch (err) {
      if (err instanceof LinkConflictError) return { kind: "dead-letter", reason: `Cannot follow the qualified lead: ${err.message}`, reports: reportsFrom(audit), wrote: { partnerCenter: pcWrites, dataverse: dvWrites } };
      throw err;
    }
    const opportunity = await crm.readSet("opportunity", opportunityId);
    if (opportunity) {
      await store.saveLink({
        key: moved.key,
        referralId: moved.referralId,
        engagementId: moved.engagementId,
        entity: "opportunity",
        recordId: opportunityId,
        base: baseForAttachedRecord(snapshotFromRecord(opportunity, mapping)),
        pcETag: referral.eTag ?? null,
        crmETag: opportunity.etag,
        lastSyncedAt: now,
        state: LINK_ACTIVE,
        expectedVersion: moved.version,
      });
    }
    return { kind: "done", reports: reportsFrom(audit), followUp: moved.key, wrote: { partnerCenter: pcWrites, dataverse: dvWrites } };
  }

  /** Columns of the customer account / contact an admin's mapping syncs on update. */
  private async writeRelatedRows(crm: CrmSet, account: DataverseValues, contact: DataverseValues): Promise<void> {
    const accountId = str(crm.account?.[SystemColumn.account.id]);
    if (accountId && Object.keys(account).length > 0) {
      const { body } = await this.o.crm.resolve(account);
      await this.o.crm.updateRow(Table.account.entitySetName, accountId, body);
    }
    const contactId = str(crm.contact?.[SystemColumn.contact.id]);
    if (contactId && Object.keys(contact).length > 0) {
      const { body } = await this.o.crm.resolve(contact);
      await this.o.crm.updateRow(Table.contact.entitySetName, contactId, body);
    }
  }

  private async saveLinkState(link: Link, state: string): Promise<void> {
    if (link.state === state) return;
    await this.o.store.saveLink({ ...link, expectedVersion: link.version, state });
  }

  /**
   * Sync state Error with a message a seller can act on (and ✖ on the name). Written only when it
   * says something new, so a record that keeps failing the same way is not rewritten (and its
   * webhook does not come back) again and again. Returns whether it wrote.
   */
  private async markError(crm: CrmSet, message: string, mapping: Mapping, direction: AuditDirection): Promise<boolean> {
    if (crm.record[OpportunityColumn.syncState] === SyncState.Error && crm.record[OpportunityColumn.syncError] === message.slice(0, 2000)) return false;
    const now = this.now();
    const values = syncBookkeeping(crm, { state: SyncState.Error, error: message, audit: [{ at: now.toISOString(), direction, outcome: "error", message }], now }, mapping.settings);
    await this.o.crm.update(crm.kind, crm.id, values, "*");
    return true;
  }

  /**
   * Marks the record of a job key as failed (the worker calls this when a job is given up), best
   * effort: the failure that led here may well stop this write too.
   */
  async markKeyFailed(key: string, message: string): Promise<void> {
    const parsed = parseKey(key);
    let target: { kind: RecordKind; id: string } | undefined;
    if (parsed?.kind === "opportunity" || parsed?.kind === "lead") {
      const link = await this.o.store.getLink(key);
      target = link ? { kind: link.entity, id: link.recordId } : { kind: parsed.kind, id: parsed.id };
    } else if (parsed?.kind === "referral") {
      const link = await this.o.store.findLinkByReferralId(parsed.id);
      if (link) target = { kind: link.entity, id: link.recordId };
    }
    if (!target) return;
    const crm = await this.o.crm.readSet(target.kind, target.id);
    if (!crm) return;
    await this.markError(crm, message, await this.o.settings.mapping(), "CRM→PC");
  }
}

/** Partner Center's own words from an error, without our "service METHOD path: status" prefix. */
function partnerCenterReason(err: ValidationError): string {
  const m = /^\S+ \S+ \S+: \d{3} (.*)$/s.exec(err.message);
  return (m?.[1] ?? err.message).slice(0, 500);
}
