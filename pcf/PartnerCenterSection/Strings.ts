/**
 * Keys of the seller-facing strings in strings/PartnerCenterSection.<lcid>.resx (a test checks that
 * every key exists in every language). `{0}`, `{1}` are filled in by `Strings`.
 */
export const enum StringKey {
  Section_Label = "Section_Label",
  ReadOnly_controlDisabled = "ReadOnly_controlDisabled",
  ReadOnly_terminal = "ReadOnly_terminal",
  Sync_Label = "Sync_Label",
  Sync_Hint = "Sync_Hint",
  Lock_referralExists = "Lock_referralExists",
  Lock_fieldSecurity = "Lock_fieldSecurity",
  Lock_irreversible = "Lock_irreversible",
  Help_Label = "Help_Label",
  Help_Placeholder = "Help_Placeholder",
  Share_Label = "Share_Label",
  Share_Hint = "Share_Hint",
  ShareDialog_Title = "ShareDialog_Title",
  ShareDialog_Body = "ShareDialog_Body",
  ShareDialog_Confirm = "ShareDialog_Confirm",
  Common_Cancel = "Common_Cancel",
  Products_Label = "Products_Label",
  Products_Search = "Products_Search",
  Products_NoMatches = "Products_NoMatches",
  Products_AddTyped = "Products_AddTyped",
  Products_Loading = "Products_Loading",
  Products_LoadFailed = "Products_LoadFailed",
  Products_Missing = "Products_Missing",
  Products_Invalid = "Products_Invalid",
  Products_Remove = "Products_Remove",
  Products_NotInCatalogue = "Products_NotInCatalogue",
  Products_Chosen = "Products_Chosen",
  Products_None = "Products_None",
  Referral_Heading = "Referral_Heading",
  Referral_NotLinked = "Referral_NotLinked",
  Referral_Id = "Referral_Id",
  Referral_Open = "Referral_Open",
  Referral_OpensNewTab = "Referral_OpensNewTab",
  Referral_Status = "Referral_Status",
  Referral_Engagement = "Referral_Engagement",
  Referral_MicrosoftCrmId = "Referral_MicrosoftCrmId",
  Status_Heading = "Status_Heading",
  SyncState_notSynced = "SyncState_notSynced",
  SyncState_pending = "SyncState_pending",
  SyncState_synced = "SyncState_synced",
  SyncState_error = "SyncState_error",
  SyncState_unknown = "SyncState_unknown",
  Status_LastSynced = "Status_LastSynced",
  Status_NeverSynced = "Status_NeverSynced",
  Status_ErrorTitle = "Status_ErrorTitle",
  Incoming_Title = "Incoming_Title",
  Incoming_Body = "Incoming_Body",
  Incoming_Accept = "Incoming_Accept",
  Incoming_Decline = "Incoming_Decline",
  Incoming_Requested_accept = "Incoming_Requested_accept",
  Incoming_Requested_decline = "Incoming_Requested_decline",
  Incoming_Undo = "Incoming_Undo",
  DeclineDialog_Title = "DeclineDialog_Title",
  DeclineDialog_Reason = "DeclineDialog_Reason",
  DeclineDialog_ReasonHint = "DeclineDialog_ReasonHint",
  DeclineDialog_ReasonRequired = "DeclineDialog_ReasonRequired",
  DeclineDialog_Confirm = "DeclineDialog_Confirm",
  Audit_Heading = "Audit_Heading",
  Audit_Empty = "Audit_Empty",
  Audit_NoMatches = "Audit_NoMatches",
  Audit_FilterDirection = "Audit_FilterDirection",
  Audit_FilterOutcome = "Audit_FilterOutcome",
  Audit_All = "Audit_All",
  Audit_Count = "Audit_Count",
  Audit_ShowMore = "Audit_ShowMore",
  Direction_FromPartnerCenter = "Direction_FromPartnerCenter",
  Direction_ToPartnerCenter = "Direction_ToPartnerCenter",
  Outcome_ok = "Outcome_ok",
  Outcome_skipped = "Outcome_skipped",
  Outcome_conflict = "Outcome_conflict",
  Outcome_error = "Outcome_error",
}

/** Looks up a string and fills its `{n}` placeholders. */
export type Strings = (key: StringKey, ...args: readonly string[]) => string;

export function fillPlaceholders(template: string, args: readonly string[]): string {
  return template.replace(/\{(\d+)\}/g, (whole, n: string) => args[Number(n)] ?? whole);
}

/**
 * Strings from `context.resources`. The platform returns the key itself for a missing string; we
 * pass that through rather than show nothing.
 */
export function stringsFrom(resources: Pick<ComponentFramework.Resources, "getString">): Strings {
  return (key, ...args) => fillPlaceholders(resources.getString(key) || key, args);
}
