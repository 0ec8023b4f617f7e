/**
 * Snapshots: the mapping's view of one side of a link, field id → normalized value. The base
 * snapshot (what both sides agreed on after the last sync) is what the store keeps per link.
 */
import type { CrmRecordSet } from "../dataverse/model";
import type { FieldMapping, Mapping } from "../mapping/load";
import { fieldsForLink } from "../mapping/load";
import type { JsonValue } from "../mapping/json";
import { getAt } from "../mapping/pointer";
import type { CoSellSettings } from "../mapping/settings";
import { transformFor } from "../mapping/transforms";
import type { Referral } from "../partner-center/model";

export type Snapshot = Record<string, JsonValue>;

/** The Partner Center side of a link: our referral, and Microsoft's related one when there is one. */
export interface PartnerCenterSide {
  readonly referral: Referral;
  readonly microsoft?: Referral | null;
}

export function readPartnerCenter(
  field: FieldMapping,
  side: PartnerCenterSide,
  linkKind: "opportunity" | "lead",
  settings: CoSellSettings,
): JsonValue {
  const impl = transformFor(field.transform);
  for (const path of field.partnerCenter) {
    const doc = path.source === "microsoft" ? side.microsoft : side.referral;
    if (!doc) continue;
    const value = impl.fromPartnerCenter(getAt(doc, path.segments), { referral: doc, linkKind, settings });
    if (value !== null) return value;
  }
  return field.default ?? null;
}

export function rowFor(field: FieldMapping, crm: CrmRecordSet) {
  if (field.kind === "account") return crm.account;
  if (field.kind === "contact") return crm.contact;
  return crm.record;
}

export function readDataverse(field: FieldMapping, crm: CrmRecordSet, settings: CoSellSettings): JsonValue {
  const row = rowFor(field, crm);
  const value = transformFor(field.transform).fromDataverse(row?.[field.dataverse], { set: crm, row, settings });
  return value ?? field.default ?? null;
}

export type SnapshotScope = "update" | "create";

function inScope(field: FieldMapping, scope: SnapshotScope): boolean {
  return scope === "update" ? field.onUpdate : field.onCreate;
}

export function snapshotFromReferral(
  side: PartnerCenterSide,
  mapping: Mapping,
  linkKind: "opportunity" | "lead",
  scope: SnapshotScope = "update",
): Snapshot {
  const out: Snapshot = {};
  for (const field of fieldsForLink(mapping, linkKind)) {
    if (inScope(field, scope)) out[field.id] = readPartnerCenter(field, side, linkKind, mapping.settings);
  }
  return out;
}

export function snapshotFromRecord(crm: CrmRecordSet, mapping: Mapping, scope: SnapshotScope = "update"): Snapshot {
  const out: Snapshot = {};
  for (const field of fieldsForLink(mapping, crm.kind)) {
    if (inScope(field, scope)) out[field.id] = readDataverse(field, crm, mapping.settings);
  }
  return out;
}
