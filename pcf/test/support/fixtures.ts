/** Records in the states the section must handle, as raw column values. */
import { formatAuditEntry, HelpNeeded, ReferralAction, SyncState, type AuditEntry } from "@cosell/contract";
import type { RecordValues } from "../__mocks__/mockContext";
import { createMockContext, type MockContextOptions } from "../__mocks__/mockContext";
import { inputsFromContext } from "../../PartnerCenterSection/inputsFromContext";
import type { SectionInputs } from "../../PartnerCenterSection/model/inputs";

export function auditText(...entries: AuditEntry[]): string {
  return entries.map(formatAuditEntry).join("\n");
}

export const AUDIT_OUTGOING = auditText(
  { at: "2026-11-20T09:00:00.000Z", direction: "CRM→PC", outcome: "ok", message: "Referral created in Partner Center" },
  { at: "2026-11-21T10:30:00.000Z", direction: "PC→CRM", outcome: "ok", message: "Status changed to Active/Accepted" },
  { at: "2026-11-22T11:45:00.000Z", direction: "CRM→PC", outcome: "error", message: "Deal value must be above 0" },
  { at: "2026-11-23T08:15:00.000Z", direction: "CRM→PC", outcome: "conflict", message: "Close date changed on both sides; Partner Center kept" },
  { at: "2026-11-24T16:00:00.000Z", direction: "PC→CRM", outcome: "skipped", message: "No change" },
);

export const AUDIT_INCOMING = auditText({
  at: "2026-11-24T12:00:00.000Z",
  direction: "PC→CRM",
  outcome: "ok",
  message: "Opportunity created from an incoming referral",
});

export const REFERRAL_ID = "a1b2c3d4-0000-4000-8000-000000000001";
export const REFERRAL_LINK = `https://partner.microsoft.com/dashboard/referrals/v2/leads/${REFERRAL_ID}/details`;

/** The states of the issue: new, syncing, synced ✔, error ✖, incoming pending, terminal, lead. */
export const STATES = {
  newOpportunity: {} as RecordValues,
  syncing: {
    syncWithPartnerCenter: true,
    microsoftHelp: HelpNeeded.ProofOfConceptOrDemo,
    products: "SOL-15974-MQF",
    syncState: SyncState.Pending,
  } as RecordValues,
  synced: {
    syncWithPartnerCenter: true,
    microsoftHelp: HelpNeeded.CustomerTechnicalArchitecture,
    products: "SOL-15974-MQF, SOL-34104-EBB",
    referralId: REFERRAL_ID,
    engagementId: "e-7788",
    referralLink: REFERRAL_LINK,
    referralStatus: "Active",
    referralSubstatus: "Accepted",
    syncState: SyncState.Synced,
    lastSyncedOn: new Date("2026-11-24T16:00:00.000Z"),
    audit: AUDIT_OUTGOING,
  } as RecordValues,
  error: {
    syncWithPartnerCenter: true,
    products: "SOL-15974-MQF",
    referralId: REFERRAL_ID,
    referralLink: REFERRAL_LINK,
    referralStatus: "Active",
    referralSubstatus: "Accepted",
    syncState: SyncState.Error,
    lastSyncedOn: new Date("2026-11-21T10:30:00.000Z"),
    syncError: "Partner Center needs a deal value above 0. Enter the estimated revenue and save again.",
    audit: AUDIT_OUTGOING,
  } as RecordValues,
  incomingPending: {
    syncWithPartnerCenter: true,
    referralId: REFERRAL_ID,
    referralLink: REFERRAL_LINK,
    referralStatus: "New",
    referralSubstatus: "Pending",
    syncState: SyncState.Synced,
    lastSyncedOn: new Date("2026-11-24T12:00:00.000Z"),
    audit: AUDIT_INCOMING,
  } as RecordValues,
  incomingAccepted: {
    syncWithPartnerCenter: true,
    referralId: REFERRAL_ID,
    referralStatus: "New",
    referralSubstatus: "Pending",
    referralAction: ReferralAction.Accept,
    syncState: SyncState.Synced,
    audit: AUDIT_INCOMING,
  } as RecordValues,
  terminal: {
    syncWithPartnerCenter: true,
    shareWithMicrosoft: true,
    microsoftHelp: HelpNeeded.QuotesOrLicensing,
    products: "SOL-15974-MQF",
    referralId: REFERRAL_ID,
    referralLink: REFERRAL_LINK,
    referralStatus: "Closed",
    referralSubstatus: "Won",
    microsoftCrmId: "7-ABCDEF",
    syncState: SyncState.Synced,
    lastSyncedOn: new Date("2026-11-24T16:00:00.000Z"),
    audit: AUDIT_OUTGOING,
  } as RecordValues,
  lead: {
    referralId: REFERRAL_ID,
    referralLink: REFERRAL_LINK,
    referralStatus: "New",
    referralSubstatus: "Received",
    syncState: SyncState.Synced,
    lastSyncedOn: new Date("2026-11-24T12:00:00.000Z"),
    audit: AUDIT_INCOMING,
  } as RecordValues,
} as const;

export function sectionInputs(options: MockContextOptions = {}): SectionInputs {
  return inputsFromContext(createMockContext(options));
}
