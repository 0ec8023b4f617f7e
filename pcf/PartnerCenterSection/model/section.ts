/**
 * The view model of the whole section: which parts show on this form, what each shows, and what
 * the seller may change. Pure: inputs in, model out; the components only render it.
 */
import {
  CHECKMARK_FAILED,
  CHECKMARK_SYNCED,
  HELP_NEEDED_OPTIONS,
  ReferralAction,
  SyncState,
  parseAudit,
  parseProducts,
} from "@cosell/contract";
import { LEAD_PROPERTIES, type BoundPropertyName } from "../ManifestConstants";
import { auditTimeline, type TimelineEntry } from "./audit";
import type { ChoiceLabel, FormKindValue, SectionInputs } from "./inputs";
import { layoutFor, type Layout } from "./layout";
import { isAwaitingResponse, isTerminalReferral, safeReferralLink } from "./referral";

/** Why a part cannot be changed; each has its own explanation for the seller. */
export type LockReason =
  | "controlDisabled" // the form or record is read-only
  | "fieldSecurity" // column-level security denies the change
  | "terminal" // the referral is closed in Partner Center
  | "referralExists" // sync cannot be switched off once a referral exists
  | "irreversible"; // shared with Microsoft sellers cannot be undone

export type SyncStatusKind = "notSynced" | "pending" | "synced" | "error" | "unknown";
export type Checkmark = typeof CHECKMARK_SYNCED | typeof CHECKMARK_FAILED;
export type RequestedAction = "accept" | "decline";

export interface ToggleModel {
  readonly visible: boolean;
  readonly checked: boolean;
  readonly lockReason: LockReason | null;
}

export interface ChoiceModel {
  readonly visible: boolean;
  readonly value: number | null;
  readonly options: readonly ChoiceLabel[];
  readonly lockReason: LockReason | null;
}

export interface ProductsModel {
  readonly visible: boolean;
  /** The column value (comma-separated ids). */
  readonly value: string | null;
  readonly lockReason: LockReason | null;
  /** Sync is on, no referral yet and no solution chosen: Partner Center needs one to create it. */
  readonly missing: boolean;
}

export interface ReferralModel {
  /** A referral exists (the record is linked to Partner Center). */
  readonly linked: boolean;
  readonly id: string | null;
  readonly link: string | null;
  readonly status: string | null;
  readonly substatus: string | null;
  readonly engagementId: string | null;
  readonly microsoftCrmId: string | null;
  readonly terminal: boolean;
}

export interface SyncStatusModel {
  readonly visible: boolean;
  readonly kind: SyncStatusKind;
  readonly checkmark: Checkmark | null;
  readonly lastSyncedOn: Date | null;
  /** The last error in the bridge's words for sellers; only while it is still current. */
  readonly error: string | null;
}

export interface IncomingModel {
  /** An incoming referral waits for the partner's answer. */
  readonly visible: boolean;
  readonly requested: RequestedAction | null;
  readonly declineReason: string | null;
  readonly lockReason: LockReason | null;
  /** Declining needs a reason, so it needs the decline reason column. */
  readonly canDecline: boolean;
}

export interface AuditModel {
  readonly visible: boolean;
  readonly entries: readonly TimelineEntry[];
}

export interface SectionModel {
  readonly formKind: FormKindValue;
  readonly layout: Layout;
  /** Why the whole section is read-only, if it is (shown once, at the top). */
  readonly readOnlyReason: "controlDisabled" | "terminal" | null;
  readonly sync: ToggleModel;
  readonly help: ChoiceModel;
  readonly share: ToggleModel;
  readonly products: ProductsModel;
  readonly referral: ReferralModel;
  readonly status: SyncStatusModel;
  readonly incoming: IncomingModel;
  readonly audit: AuditModel;
}

const DEFAULT_HELP_OPTIONS: readonly ChoiceLabel[] = HELP_NEEDED_OPTIONS.map((o) => ({
  value: o.value,
  label: o.label,
}));

function syncStatusKind(value: number | null): SyncStatusKind {
  switch (value) {
    case null:
    case SyncState.NotSynced:
      return "notSynced";
    case SyncState.Pending:
      return "pending";
    case SyncState.Synced:
      return "synced";
    case SyncState.Error:
      return "error";
    default:
      return "unknown";
  }
}

function requestedAction(value: number | null): RequestedAction | null {
  if (value === ReferralAction.Accept) return "accept";
  if (value === ReferralAction.Decline) return "decline";
  return null;
}

const text = (s: string | null): string | null => (s && s.trim() ? s.trim() : null);

export function deriveSection(inputs: SectionInputs, checkmarksEnabled: boolean): SectionModel {
  const { record: r, access, formKind } = inputs;

  const visible = (p: BoundPropertyName): boolean =>
    access[p].bound && access[p].readable && (formKind === "opportunity" || LEAD_PROPERTIES.includes(p));
  /** The value if the seller may see it on this form, else null. */
  const shown = <T>(p: BoundPropertyName, value: T | null): T | null => (visible(p) ? value : null);
  const baseLock = (p: BoundPropertyName): LockReason | null =>
    inputs.controlDisabled ? "controlDisabled" : access[p].editable ? null : "fieldSecurity";

  const referralId = text(shown("referralId", r.referralId));
  const status = text(shown("referralStatus", r.referralStatus));
  const substatus = text(shown("referralSubstatus", r.referralSubstatus));
  const terminal = referralId !== null && isTerminalReferral(status, substatus);
  const partnerCenterLock = (p: BoundPropertyName): LockReason | null =>
    baseLock(p) ?? (terminal ? "terminal" : null);

  const syncOn = r.syncWithPartnerCenter === true;
  const sync: ToggleModel = {
    visible: visible("syncWithPartnerCenter"),
    checked: syncOn,
    lockReason: partnerCenterLock("syncWithPartnerCenter") ?? (syncOn && referralId ? "referralExists" : null),
  };

  const shared = r.shareWithMicrosoft === true;
  const share: ToggleModel = {
    visible: visible("shareWithMicrosoft"),
    checked: shared,
    lockReason: partnerCenterLock("shareWithMicrosoft") ?? (shared ? "irreversible" : null),
  };

  const help: ChoiceModel = {
    visible: visible("microsoftHelp"),
    value: r.microsoftHelp,
    options: inputs.helpOptions && inputs.helpOptions.length ? inputs.helpOptions : DEFAULT_HELP_OPTIONS,
    lockReason: partnerCenterLock("microsoftHelp"),
  };

  const products: ProductsModel = {
    visible: visible("products"),
    value: r.products,
    lockReason: partnerCenterLock("products"),
    // Once a referral exists (ours, or an incoming one) Partner Center has it; nothing to ask for.
    missing: syncOn && referralId === null && parseProducts(r.products).length === 0,
  };

  const kind = syncStatusKind(shown("syncState", r.syncState));
  const statusModel: SyncStatusModel = {
    visible: visible("syncState") || visible("lastSyncedOn") || visible("syncError"),
    kind,
    checkmark: !checkmarksEnabled
      ? null
      : kind === "synced"
        ? CHECKMARK_SYNCED
        : kind === "error"
          ? CHECKMARK_FAILED
          : null,
    lastSyncedOn: shown("lastSyncedOn", r.lastSyncedOn),
    error: kind === "synced" ? null : text(shown("syncError", r.syncError)),
  };

  const auditText = shown("audit", r.audit);
  const awaiting =
    formKind === "opportunity" &&
    visible("referralAction") &&
    isAwaitingResponse(referralId, status, substatus, parseAudit(auditText));
  const incoming: IncomingModel = {
    visible: awaiting,
    requested: requestedAction(r.referralAction),
    declineReason: text(shown("declineReason", r.declineReason)),
    lockReason: baseLock("referralAction"),
    canDecline: visible("declineReason") && baseLock("declineReason") === null,
  };

  return {
    formKind,
    layout: layoutFor(inputs.allocatedWidth, inputs.formFactor),
    readOnlyReason: inputs.controlDisabled ? "controlDisabled" : terminal ? "terminal" : null,
    sync,
    help,
    share,
    products,
    referral: {
      linked: referralId !== null,
      id: referralId,
      link: safeReferralLink(shown("referralLink", r.referralLink)),
      status,
      substatus,
      engagementId: text(shown("engagementId", r.engagementId)),
      microsoftCrmId: text(shown("microsoftCrmId", r.microsoftCrmId)),
      terminal,
    },
    status: statusModel,
    incoming,
    audit: { visible: visible("audit"), entries: auditTimeline(auditText) },
  };
}
