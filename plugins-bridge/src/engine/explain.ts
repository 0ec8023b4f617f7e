/**
 * `cosell-bridge mapping test <id>`: what a sync of one record or referral would write on each
 * side, computed exactly as the sync does (same reads, same core functions), and written nowhere.
 */
import { OpportunityColumn } from "@cosell/contract";
import type { Mapping } from "../mapping";
import type { JsonPatchOp, Referral } from "../partner-center/model";
import type { Store } from "../store";
import {
  buildRecordFromReferral,
  buildReferralCreate,
  merge,
  type MergeResult,
  validateForCreate,
  type ValidationProblem,
} from "../sync";
import type { CrmGateway, CrmSet } from "./crm";
import type { RecordKind } from "./keys";
import type { PartnerCenterGateway } from "./partner-center";
import { isMicrosoftReferral } from "./partner-center";
import type { SyncSettings } from "./settings";

export type Explanation =
  | { readonly kind: "not-found"; readonly id: string }
  | {
      readonly kind: "linked";
      readonly linkKey: string;
      readonly referralId: string;
      readonly record: { readonly kind: RecordKind; readonly id: string };
      readonly toPartnerCenter: readonly JsonPatchOp[];
      readonly toDataverse: MergeResult["toDataverse"];
      readonly audit: MergeResult["audit"];
      readonly conflicts: MergeResult["conflicts"];
      readonly partnerCenterSkipped: MergeResult["partnerCenterSkipped"];
    }
  | { readonly kind: "would-create-referral"; readonly opportunityId: string; readonly problems: readonly ValidationProblem[]; readonly body?: unknown; readonly existingReferral?: string }
  | { readonly kind: "not-synced"; readonly record: { readonly kind: RecordKind; readonly id: string }; readonly reason: string }
  | { readonly kind: "would-create-record"; readonly referralId: string; readonly plan: ReturnType<typeof buildRecordFromReferral> };

export interface ExplainDeps {
  readonly store: Store;
  readonly crm: CrmGateway;
  readonly partnerCenter: PartnerCenterGateway;
  readonly settings: SyncSettings;
  readonly now?: () => Date;
}

async function linked(d: ExplainDeps, mapping: Mapping, linkKey: string): Promise<Explanation | undefined> {
  const link = await d.store.getLink(linkKey);
  if (!link) return undefined;
  const referral = await d.partnerCenter.read(link.referralId);
  const crm = await d.crm.readSet(link.entity, link.recordId);
  if (!referral || !crm) return { kind: "not-found", id: !referral ? link.referralId : link.recordId };
  const side = await d.partnerCenter.side(referral);
  const base = link.base && typeof link.base === "object" && !Array.isArray(link.base) ? (link.base as Record<string, never>) : undefined;
  const result = merge(base, side, crm, mapping, (d.now ?? (() => new Date()))());
  return {
    kind: "linked",
    linkKey: link.key,
    referralId: link.referralId,
    record: { kind: link.entity, id: link.recordId },
    toPartnerCenter: result.toPartnerCenter,
    toDataverse: result.toDataverse,
    audit: result.audit,
    conflicts: result.conflicts,
    partnerCenterSkipped: result.partnerCenterSkipped,
  };
}

async function fromRecord(d: ExplainDeps, mapping: Mapping, crm: CrmSet): Promise<Explanation> {
  if (crm.kind === "lead") return { kind: "not-synced", record: { kind: crm.kind, id: crm.id }, reason: "leads are created from Partner Center, never sent to it" };
  if (crm.record[OpportunityColumn.syncWithPartnerCenter] !== true)
    return { kind: "not-synced", record: { kind: crm.kind, id: crm.id }, reason: "Sync with Partner Center is No" };
  const problems = validateForCreate(crm, mapping, { catalogue: await d.settings.catalogue() });
  const existing = await d.partnerCenter.findByExternalReference(crm.id);
  if (existing) return { kind: "would-create-referral", opportunityId: crm.id, problems, existingReferral: existing.id };
  return { kind: "would-create-referral", opportunityId: crm.id, problems, ...(problems.length === 0 ? { body: buildReferralCreate(crm, mapping).body } : {}) };
}

async function fromReferral(d: ExplainDeps, mapping: Mapping, referral: Referral): Promise<Explanation> {
  let own = referral;
  if (isMicrosoftReferral(referral)) own = (await d.partnerCenter.partnerReferralOf(referral)) ?? referral;
  const side = await d.partnerCenter.side(own);
  return { kind: "would-create-record", referralId: own.id, plan: buildRecordFromReferral(side, mapping) };
}

/** Explains an opportunity id, a lead id or a referral id (tried in that order). */
export async function explain(d: ExplainDeps, id: string): Promise<Explanation> {
  const mapping = await d.settings.mapping();
  const key = id.trim();
  for (const kind of ["opportunity", "lead"] as const) {
    const link = /^[0-9a-f-]{36}$/i.test(key) ? await d.store.findLinkByRecord(kind, key.toLowerCase()) : undefined;
    if (link) return (await linked(d, mapping, link.key)) ?? { kind: "not-found", id };
  }
  const byReferral = await d.store.findLinkByReferralId(key);
  if (byReferral) return (await linked(d, mapping, byReferral.key)) ?? { kind: "not-found", id };
  if (/^[0-9a-f-]{36}$/i.test(key)) {
    for (const kind of ["opportunity", "lead"] as const) {
      const crm = await d.crm.readSet(kind, key.toLowerCase());
      if (crm) return fromRecord(d, mapping, crm);
    }
  }
  const referral = await d.partnerCenter.read(key);
  if (referral) return fromReferral(d, mapping, referral);
  return { kind: "not-found", id };
}

/** The explanation as text for a terminal. */
export function formatExplanation(x: Explanation): string {
  const json = (v: unknown) => JSON.stringify(v, null, 2);
  switch (x.kind) {
    case "not-found":
      return `Nothing found for ${x.id}: no link, opportunity, lead or referral has that id.`;
    case "not-synced":
      return `The ${x.record.kind} ${x.record.id} is not synced: ${x.reason}.`;
    case "would-create-referral":
      if (x.existingReferral) return `Opportunity ${x.opportunityId} is not linked yet; referral ${x.existingReferral} already names it as externalReferenceId, so the sync would link the two (no new referral).`;
      if (x.problems.length > 0)
        return `Opportunity ${x.opportunityId} would NOT be sent to Partner Center. Dynamics 365 would show sync state Error with:\n${x.problems.map((p) => `  - ${p.message} (${p.table}.${p.column})`).join("\n")}`;
      return `Opportunity ${x.opportunityId} would become a new referral in Partner Center:\n${json(x.body)}`;
    case "would-create-record":
      if (x.plan.kind === "skip") return `Referral ${x.referralId} would not be synced: ${x.plan.reason}`;
      return `Referral ${x.referralId} (${x.plan.category}) would become a new ${x.plan.kind} in Dynamics 365:\n${json({ record: x.plan.record, account: x.plan.account, contact: x.plan.contact })}`;
    case "linked": {
      const lines = [`Link ${x.linkKey}: referral ${x.referralId} ⇄ ${x.record.kind} ${x.record.id}`];
      lines.push(x.toPartnerCenter.length ? `Partner Center would receive (JSON Patch):\n${json(x.toPartnerCenter)}` : "Partner Center: nothing to write.");
      const dv = Object.entries(x.toDataverse).filter(([, v]) => Object.keys(v).length > 0);
      lines.push(dv.length ? `Dynamics 365 would receive:\n${json(Object.fromEntries(dv))}` : "Dynamics 365: nothing to write.");
      if (x.conflicts.length) lines.push(`Conflicts:\n${x.conflicts.map((c) => `  - ${c.label}: Partner Center ${json(c.partnerCenter)}, Dynamics 365 ${json(c.dynamics)} → ${c.winner} (${c.policy})`).join("\n")}`);
      if (x.partnerCenterSkipped) lines.push(`Not sent (the referral is read-only): ${x.partnerCenterSkipped.fields.join(", ")}`);
      if (x.audit.length) lines.push(`Audit lines:\n${x.audit.map((a) => `  ${a.direction} ${a.outcome} ${a.message}`).join("\n")}`);
      return lines.join("\n");
    }
  }
}

