/**
 * Names from ControlManifest.Input.xml, in one place (a test checks them against the manifest).
 * The bound properties are named after what their column means; PROPERTY_COLUMNS says which
 * contract column each one is bound to on the form.
 */
import { OpportunityColumn, type OpportunityColumnName } from "@cosell/contract";
import type { IInputs } from "./generated/ManifestTypes";

export const enum ManifestPropertyNames {
  syncWithPartnerCenter = "syncWithPartnerCenter",
  microsoftHelp = "microsoftHelp",
  shareWithMicrosoft = "shareWithMicrosoft",
  products = "products",
  engagementId = "engagementId",
  microsoftCrmId = "microsoftCrmId",
  referralAction = "referralAction",
  declineReason = "declineReason",
  referralId = "referralId",
  referralLink = "referralLink",
  referralStatus = "referralStatus",
  referralSubstatus = "referralSubstatus",
  syncState = "syncState",
  lastSyncedOn = "lastSyncedOn",
  syncError = "syncError",
  audit = "audit",
  formKind = "formKind",
  checkmarks = "checkmarks",
}

/** The `formKind` input: which form the control sits on. */
export const enum FormKind {
  Opportunity = "opportunity",
  Lead = "lead",
}

/** The `checkmarks` input: follow the `cosell_Checkmark` environment variable, or override it. */
export const enum CheckmarkSetting {
  Environment = "environment",
  Show = "show",
  Hide = "hide",
}

/** Every property bound to a column: the manifest's properties minus the two static inputs. */
export type BoundPropertyName = Exclude<keyof IInputs, "formKind" | "checkmarks">;

/** The column each bound property is bound to (the form binding the solution ships). */
export const PROPERTY_COLUMNS: Readonly<Record<BoundPropertyName, OpportunityColumnName>> = {
  syncWithPartnerCenter: OpportunityColumn.syncWithPartnerCenter,
  microsoftHelp: OpportunityColumn.microsoftHelp,
  shareWithMicrosoft: OpportunityColumn.shareWithMicrosoft,
  products: OpportunityColumn.products,
  engagementId: OpportunityColumn.engagementId,
  microsoftCrmId: OpportunityColumn.microsoftCrmId,
  referralAction: OpportunityColumn.referralAction,
  declineReason: OpportunityColumn.declineReason,
  referralId: OpportunityColumn.referralId,
  referralLink: OpportunityColumn.referralLink,
  referralStatus: OpportunityColumn.referralStatus,
  referralSubstatus: OpportunityColumn.referralSubstatus,
  syncState: OpportunityColumn.syncState,
  lastSyncedOn: OpportunityColumn.lastSyncedOn,
  syncError: OpportunityColumn.syncError,
  audit: OpportunityColumn.audit,
};

/** Properties that exist on the lead form too (contract LeadColumn); the rest are opportunity-only. */
export const LEAD_PROPERTIES: readonly BoundPropertyName[] = [
  "referralId",
  "referralLink",
  "referralStatus",
  "referralSubstatus",
  "syncState",
  "lastSyncedOn",
  "syncError",
  "audit",
];

/** Properties the control writes back (everything else is written by the bridge only). */
export const WRITABLE_PROPERTIES: readonly BoundPropertyName[] = [
  "syncWithPartnerCenter",
  "microsoftHelp",
  "shareWithMicrosoft",
  "products",
  "referralAction",
  "declineReason",
];
