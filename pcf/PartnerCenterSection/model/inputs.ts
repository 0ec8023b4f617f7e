/**
 * The control's inputs as plain data: what index.ts reads from the PCF context and hands to the view
 * model. Nothing here knows about ComponentFramework.
 */
import type { BoundPropertyName } from "../ManifestConstants";

export type FormKindValue = "opportunity" | "lead";
export type CheckmarkSettingValue = "environment" | "show" | "hide";

/** What the platform says about one bound property (field security, binding). */
export interface FieldAccess {
  /** The property is bound to a column on this form. */
  readonly bound: boolean;
  /** Field security lets the user read the column. */
  readonly readable: boolean;
  /** Field security lets the user change the column. */
  readonly editable: boolean;
}

/** The record's values, one per bound property; null when empty, unbound or unreadable. */
export interface SectionRecord {
  readonly syncWithPartnerCenter: boolean | null;
  readonly microsoftHelp: number | null;
  readonly shareWithMicrosoft: boolean | null;
  readonly products: string | null;
  readonly engagementId: string | null;
  readonly microsoftCrmId: string | null;
  readonly referralAction: number | null;
  readonly declineReason: string | null;
  readonly referralId: string | null;
  readonly referralLink: string | null;
  readonly referralStatus: string | null;
  readonly referralSubstatus: string | null;
  readonly syncState: number | null;
  readonly lastSyncedOn: Date | null;
  readonly syncError: string | null;
  readonly audit: string | null;
}

/** The changes the seller made in the control that the platform has not echoed back yet. */
export type PendingChanges = Partial<
  Pick<
    SectionRecord,
    "syncWithPartnerCenter" | "microsoftHelp" | "shareWithMicrosoft" | "products" | "referralAction" | "declineReason"
  >
>;

export interface ChoiceLabel {
  readonly value: number;
  readonly label: string;
}

export interface SectionInputs {
  readonly formKind: FormKindValue;
  readonly checkmarkSetting: CheckmarkSettingValue;
  readonly record: SectionRecord;
  readonly access: Readonly<Record<BoundPropertyName, FieldAccess>>;
  /** The whole control is read-only (form disabled, record inactive, no write privilege). */
  readonly controlDisabled: boolean;
  /** "How can Microsoft help?" labels from the column metadata (the user's language), if provided. */
  readonly helpOptions: readonly ChoiceLabel[] | null;
  /** context.mode.allocatedWidth; -1 or 0 when unknown. */
  readonly allocatedWidth: number;
  /** context.client.getFormFactor(): 0 unknown, 1 desktop, 2 tablet, 3 phone. */
  readonly formFactor: number;
}

export const EMPTY_RECORD: SectionRecord = {
  syncWithPartnerCenter: null,
  microsoftHelp: null,
  shareWithMicrosoft: null,
  products: null,
  engagementId: null,
  microsoftCrmId: null,
  referralAction: null,
  declineReason: null,
  referralId: null,
  referralLink: null,
  referralStatus: null,
  referralSubstatus: null,
  syncState: null,
  lastSyncedOn: null,
  syncError: null,
  audit: null,
};

/** The record as the seller sees it: platform values overlaid with the seller's unsaved changes. */
export function withPending(record: SectionRecord, pending: PendingChanges): SectionRecord {
  return { ...record, ...pending };
}

type PendingKey = keyof PendingChanges;
const PENDING_KEYS: readonly PendingKey[] = [
  "syncWithPartnerCenter",
  "microsoftHelp",
  "shareWithMicrosoft",
  "products",
  "referralAction",
  "declineReason",
];

/**
 * Drops the unsaved changes the platform has taken: those it reports as updated, and those whose
 * value it now echoes. From then on the record is authoritative again — e.g. the bridge clearing
 * `cosell_referralaction` after carrying it out must not be hidden by a stale local value.
 */
export function settlePending(
  pending: PendingChanges,
  record: SectionRecord,
  updatedProperties: readonly string[],
): PendingChanges {
  const next: Record<string, unknown> = {};
  for (const key of PENDING_KEYS) {
    if (!(key in pending)) continue;
    if (updatedProperties.includes(key) || record[key] === pending[key]) continue;
    next[key] = pending[key];
  }
  return next as PendingChanges;
}

/** What getOutputs hands the platform: only changed properties; a cleared value is `undefined`. */
export type ChangedOutputs = { [K in PendingKey]?: Exclude<SectionRecord[K], null> | undefined };

export function outputsFor(pending: PendingChanges): ChangedOutputs {
  const out: Record<string, unknown> = {};
  for (const key of PENDING_KEYS) if (key in pending) out[key] = pending[key] ?? undefined;
  return out as ChangedOutputs;
}
