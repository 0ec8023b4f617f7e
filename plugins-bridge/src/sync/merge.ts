/**
 * The three-way merge of one link (DESIGN §3): base snapshot × Partner Center × Dynamics 365.
 * Rules per field, in README.md beside this file. Pure: everything it needs is passed in, and the
 * result says what to write where; the caller writes (with If-Match) and stores `newBase`.
 */
import { type AuditEntry, OpportunityColumn, ReferralAction } from "@cosell/contract";
import type { CrmRecordSet, DataverseValues } from "../dataverse/model";
import { type FieldMapping, fieldsForLink, type Mapping } from "../mapping/load";
import { canonicalJson, isJsonObject, jsonEquals, type JsonValue } from "../mapping/json";
import { applyOps, opToSet } from "../mapping/pointer";
import type { ConflictPolicy } from "../mapping/schema";
import { transformFor, transitionOps } from "../mapping/transforms";
import type { JsonPatchOp } from "../partner-center/model";
import { microsoftActivity } from "./microsoft";
import { type PartnerCenterSide, readDataverse, readPartnerCenter, rowFor, type Snapshot } from "./snapshot";
import { isTerminal, nextForAccept, nextForDecline } from "./transitions";

/** Where a field stopped because it could not (or should not) be carried over. */
interface Hold {
  readonly pc: JsonValue;
  readonly crm: JsonValue;
  readonly reason: "conflict" | "not-copied";
}

/** Base-snapshot key of a field's hold: the values each side showed when the field was held back. */
export function holdKey(fieldId: string): string {
  return `${fieldId}#held`;
}

function readHold(base: Snapshot | undefined, fieldId: string): Hold | undefined {
  const raw = base?.[holdKey(fieldId)];
  if (!isJsonObject(raw) || !("pc" in raw) || !("crm" in raw)) return undefined;
  const pc = raw.pc as JsonValue;
  const crm = raw.crm as JsonValue;
  return { pc, crm, reason: raw.reason === "conflict" ? "conflict" : "not-copied" };
}

export interface FieldConflict {
  readonly field: string;
  readonly label: string;
  readonly base: JsonValue | undefined;
  readonly partnerCenter: JsonValue;
  readonly dynamics: JsonValue;
  readonly policy: ConflictPolicy["policy"];
  /** Whose value now stands on both sides; `none` when the policy keeps both (manual). */
  readonly winner: "partner-center" | "dynamics" | "none";
}

export interface DataverseWrites {
  /** The linked opportunity or lead. */
  readonly record: DataverseValues;
  readonly account: DataverseValues;
  readonly contact: DataverseValues;
}

export interface MergeResult {
  /** JSON Patch for the referral: field changes first, status transitions last. */
  readonly toPartnerCenter: JsonPatchOp[];
  /** Set when the referral is terminal and changes meant for it were not sent. */
  readonly partnerCenterSkipped: { readonly reason: "read-only"; readonly fields: readonly string[]; readonly message: string } | undefined;
  readonly toDataverse: DataverseWrites;
  readonly newBase: Snapshot;
  readonly conflicts: readonly FieldConflict[];
  /** Audit lines describing the writes above (the caller appends them with appendAudit). */
  readonly audit: readonly AuditEntry[];
  /** No write, no audit line, no new conflict: the event was an echo or a duplicate. */
  readonly nothingToDo: boolean;
  /** `newBase` differs from the base passed in: store it even when there is nothing to write. */
  readonly baseChanged: boolean;
}

type Winner = "pc" | "crm";

const HELP_PATH = "inviteContext/assistanceRequestCode";
const SHARE_PATH = "consent/consentToShareReferralWithMicrosoftSellers";

function describeValue(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return "(empty)";
  const text = typeof value === "string" ? `"${value}"` : Array.isArray(value) ? value.join(", ") : canonicalJson(value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

const POLICY_WORDS: Record<ConflictPolicy["policy"], string> = {
  "pc-wins": "Partner Center wins",
  "crm-wins": "Dynamics 365 wins",
  "latest-wins": "the latest change wins",
  manual: "settle it by hand",
};

function timestamp(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Whose change is the latest. Timestamps are per record (referral updatedDateTime, Dynamics
 * modifiedon), not per field; ties go to Partner Center, the system the referral belongs to.
 * Without both timestamps nobody can tell, and the conflict is kept for a person (manual).
 */
function latest(pc: PartnerCenterSide, crm: CrmRecordSet): Winner | undefined {
  const pcAt = timestamp(pc.referral.updatedDateTime);
  const crmAt = timestamp(crm.record.modifiedon);
  if (pcAt === undefined || crmAt === undefined) return undefined;
  return crmAt > pcAt ? "crm" : "pc";
}

function settle(policy: ConflictPolicy, pc: PartnerCenterSide, crm: CrmRecordSet): Winner | undefined {
  switch (policy.policy) {
    case "pc-wins":
      return "pc";
    case "crm-wins":
      return "crm";
    case "latest-wins":
      return latest(pc, crm);
    case "manual":
      return undefined;
  }
}

function listLabels(labels: readonly string[]): string {
  return labels.join(", ");
}

export function merge(
  base: Snapshot | undefined,
  pc: PartnerCenterSide,
  crm: CrmRecordSet,
  mapping: Mapping,
  now: Date,
): MergeResult {
  const at = now.toISOString();
  const settings = mapping.settings;
  const linkKind = crm.kind;
  const original = pc.referral;
  const terminal = isTerminal(original);

  const audit: AuditEntry[] = [];
  const conflicts: FieldConflict[] = [];
  const newBase: Snapshot = {};
  const fieldOps: JsonPatchOp[] = [];
  const statusOps: JsonPatchOp[] = [];
  const writes = { record: {} as DataverseValues, account: {} as DataverseValues, contact: {} as DataverseValues };
  const sentToPc: string[] = [];
  const copiedToCrm: string[] = [];
  const readOnlySkipped: string[] = [];

  // 1. The seller's request on an incoming referral: a command, carried out once and cleared.
  let working = original;
  const action = linkKind === "opportunity" ? crm.record[OpportunityColumn.referralAction] : undefined;
  if (action !== null && action !== undefined) {
    writes.record[OpportunityColumn.referralAction] = null;
    const accept = action === ReferralAction.Accept;
    const decline = action === ReferralAction.Decline;
    if (!accept && !decline) {
      audit.push({ at, direction: "CRM→PC", outcome: "skipped", message: `Unknown referral action ${String(action)}; cleared.` });
    } else {
      const reason = crm.record[OpportunityColumn.declineReason];
      const plan = accept ? nextForAccept(original) : nextForDecline(original, typeof reason === "string" ? reason : null);
      const result = transitionOps(plan, working);
      if (result.ok && result.value.length > 0) {
        statusOps.push(...result.value);
        working = applyOps(working, result.value);
        const why = decline && typeof reason === "string" && reason.trim() ? ` (${reason.trim()})` : "";
        audit.push({ at, direction: "CRM→PC", outcome: "ok", message: accept ? "Referral accepted." : `Referral declined${why}.` });
      } else if (plan.kind === "already") {
        // Partner Center shows what the seller asked for: done (typically by an earlier attempt of
        // this sync whose clean-up in Dynamics 365 failed). Nothing refused, nothing to retry.
        audit.push({ at, direction: "CRM→PC", outcome: "ok", message: accept ? "Referral accepted in Partner Center." : "Referral declined in Partner Center." });
      } else {
        const message = result.ok ? "Nothing to do." : result.reason;
        audit.push({ at, direction: "CRM→PC", outcome: "skipped", message });
      }
    }
  }

  // 2. Field by field.
  const fields = fieldsForLink(mapping, linkKind).filter((f) => f.onUpdate);
  const hold = (field: FieldMapping, pcValue: JsonValue, crmValue: JsonValue, reason: Hold["reason"]) => {
    if (base && field.id in base) newBase[field.id] = base[field.id] as JsonValue;
    newBase[holdKey(field.id)] = { pc: pcValue, crm: crmValue, reason };
  };

  const toDynamics = (field: FieldMapping, pcValue: JsonValue, crmValue: JsonValue): void => {
    const row = rowFor(field, crm);
    const result = transformFor(field.transform).toDataverse(pcValue, { set: crm, row, settings });
    if (!result.ok) {
      hold(field, pcValue, crmValue, "not-copied");
      audit.push({ at, direction: "PC→CRM", outcome: "skipped", message: `${field.label} not copied: ${result.reason}` });
      return;
    }
    const target = field.kind === "account" ? writes.account : field.kind === "contact" ? writes.contact : writes.record;
    target[field.dataverse] = result.value;
    newBase[field.id] = pcValue;
    copiedToCrm.push(field.label);
  };

  const toPartnerCenter = (field: FieldMapping, pcValue: JsonValue, crmValue: JsonValue): void => {
    if (terminal) {
      hold(field, pcValue, crmValue, "not-copied");
      readOnlySkipped.push(field.label);
      return;
    }
    const segments = field.partnerCenter[0]?.segments ?? [];
    const result = transformFor(field.transform).toPartnerCenter(crmValue, {
      referral: working,
      linkKind,
      settings,
      segments,
      crm,
    });
    if (!result.ok) {
      hold(field, pcValue, crmValue, "not-copied");
      audit.push({ at, direction: "CRM→PC", outcome: "skipped", message: `${field.label} not sent: ${result.reason}` });
      return;
    }
    if (result.value.length > 0) {
      (field.transform.type === "status" ? statusOps : fieldOps).push(...result.value);
      working = applyOps(working, result.value);
      sentToPc.push(field.label);
    }
    newBase[field.id] = crmValue;
  };

  function shareWhenHelpIsAsked(): void {
    const help = fields.find((f) => f.partnerCenter[0]?.text === HELP_PATH);
    const share = fields.find((f) => f.partnerCenter[0]?.text === SHARE_PATH);
    if (!help || !share || terminal || !sentToPc.includes(help.label)) return;
    const side: PartnerCenterSide = { referral: working, microsoft: pc.microsoft ?? null };
    if (readPartnerCenter(help, side, linkKind, settings) === null) return;
    if (readPartnerCenter(share, side, linkKind, settings) === true) return;
    const op = opToSet(working, share.partnerCenter[0]?.segments ?? [], true);
    fieldOps.push(op);
    working = applyOps(working, [op]);
    if (readDataverse(share, crm, settings) !== true) writes.record[share.dataverse] = true;
    newBase[share.id] = true;
    delete newBase[holdKey(share.id)];
    sentToPc.push(share.label);
  }

  // Status transitions change what Partner Center reads; apply the action first (done above).
  const ordered = [...fields.filter((f) => f.transform.type === "status"), ...fields.filter((f) => f.transform.type !== "status")];
  for (const field of ordered) {
    const held = readHold(base, field.id);
    const hasBase = base !== undefined && field.id in base;
    const baseValue = hasBase ? (base[field.id] as JsonValue) : undefined;
    if ((field.kind === "account" || field.kind === "contact") && !rowFor(field, crm)) {
      // No account/contact on the opportunity: its fields are unknown, not empty. Nothing flows
      // either way (an empty value would blank the referral's customer), and the base stays.
      if (hasBase) newBase[field.id] = baseValue as JsonValue;
      if (held) newBase[holdKey(field.id)] = { pc: held.pc, crm: held.crm, reason: held.reason };
      continue;
    }
    const side: PartnerCenterSide = { referral: working, microsoft: pc.microsoft ?? null };
    const pcValue = readPartnerCenter(field, side, linkKind, settings);
    const crmValue = readDataverse(field, crm, settings);

    if (jsonEquals(pcValue, crmValue)) {
      newBase[field.id] = pcValue;
      continue;
    }

    const pcChanged = held ? !jsonEquals(pcValue, held.pc) : !hasBase || !jsonEquals(pcValue, baseValue);
    const crmChanged = held ? !jsonEquals(crmValue, held.crm) : !hasBase || !jsonEquals(crmValue, baseValue);

    let winner: Winner | "keep" | "conflict";
    if (field.direction === "pc-to-crm") winner = pcChanged ? "pc" : "keep";
    else if (field.direction === "crm-to-pc") winner = crmChanged ? "crm" : "keep";
    else if (pcChanged && crmChanged) winner = "conflict";
    else if (pcChanged) winner = "pc";
    else if (crmChanged) winner = "crm";
    else winner = "keep";

    if (winner === "keep") {
      if (hasBase) newBase[field.id] = baseValue as JsonValue;
      if (held) newBase[holdKey(field.id)] = { pc: held.pc, crm: held.crm, reason: held.reason };
      continue;
    }

    if (winner === "conflict") {
      const settled = settle(field.conflict, pc, crm);
      conflicts.push({
        field: field.id,
        label: field.label,
        base: baseValue,
        partnerCenter: pcValue,
        dynamics: crmValue,
        policy: field.conflict.policy,
        winner: settled === "pc" ? "partner-center" : settled === "crm" ? "dynamics" : "none",
      });
      const both = `Partner Center ${describeValue(pcValue)}, Dynamics 365 ${describeValue(crmValue)}`;
      if (settled === undefined) {
        hold(field, pcValue, crmValue, "conflict");
        audit.push({
          at,
          direction: "PC→CRM",
          outcome: "conflict",
          message: `${field.label} was changed on both sides (${both}); both kept, nothing copied. Change it on one side to settle it (policy: ${POLICY_WORDS[field.conflict.policy]}).`,
        });
        continue;
      }
      audit.push({
        at,
        direction: settled === "pc" ? "PC→CRM" : "CRM→PC",
        outcome: "conflict",
        message: `${field.label} was changed on both sides (${both}); kept the ${settled === "pc" ? "Partner Center" : "Dynamics 365"} value (policy: ${POLICY_WORDS[field.conflict.policy]}).`,
      });
      winner = settled;
    }

    if (winner === "pc") toDynamics(field, pcValue, crmValue);
    else toPartnerCenter(field, pcValue, crmValue);
  }

  // Asking Microsoft for help shares the deal with Microsoft sellers (connector behaviour, CD:
  // visibility is the default when help is requested), as on create.
  shareWhenHelpIsAsked();

  // 3. Microsoft's side of a shared engagement: reported, not mapped to columns.
  if (pc.microsoft) {
    const activity = microsoftActivity(base, pc.microsoft, at);
    audit.push(...activity.entries);
    Object.assign(newBase, activity.snapshot);
  }

  const readOnlyMessage =
    readOnlySkipped.length > 0
      ? `The referral is ${original.status ?? ""}/${original.substatus ?? ""} in Partner Center and can no longer be changed; kept in Dynamics 365 only: ${listLabels(readOnlySkipped)}.`
      : undefined;
  if (readOnlyMessage) audit.push({ at, direction: "CRM→PC", outcome: "skipped", message: readOnlyMessage });
  if (copiedToCrm.length > 0) {
    audit.unshift({ at, direction: "PC→CRM", outcome: "ok", message: `Updated from Partner Center: ${listLabels(copiedToCrm)}.` });
  }
  if (sentToPc.length > 0) {
    audit.unshift({ at, direction: "CRM→PC", outcome: "ok", message: `Sent to Partner Center: ${listLabels(sentToPc)}.` });
  }

  const toPartnerCenterOps = [...fieldOps, ...statusOps];
  const anyWrite =
    toPartnerCenterOps.length > 0 ||
    Object.keys(writes.record).length > 0 ||
    Object.keys(writes.account).length > 0 ||
    Object.keys(writes.contact).length > 0;
  return {
    toPartnerCenter: toPartnerCenterOps,
    partnerCenterSkipped: readOnlyMessage ? { reason: "read-only", fields: readOnlySkipped, message: readOnlyMessage } : undefined,
    toDataverse: writes,
    newBase,
    conflicts,
    audit,
    nothingToDo: !anyWrite && audit.length === 0 && conflicts.length === 0,
    baseChanged: canonicalJson(base ?? {}) !== canonicalJson(newBase),
  };
}
