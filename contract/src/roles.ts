/**
 * The two security roles' privileges, as data: every privilege with the reason the role needs it, so
 * a review of least privilege reads this table rather than XML. The solution packer emits them as
 * role XML, the Dataverse emulator grants exactly these (so a test fails when the bridge needs one
 * more), and `cosell-bridge connect` checks the application user holds them before it changes
 * anything. Privilege names follow Dataverse's `prv<Action><Table schema name>` (custom tables keep
 * their schema-name casing, as exports show; activities share `prv<Action>Activity`).
 */
import { SECURITY_ROLES, SOLUTION_CATALOG_TABLE } from "./schema";

export type PrivilegeDepth = "Basic" | "Local" | "Deep" | "Global";

export interface PrivilegeGrant {
  readonly name: string;
  readonly level: PrivilegeDepth;
  readonly why: string;
}


const catalogue = SOLUTION_CATALOG_TABLE.schemaName;
const g = (name: string, why: string): PrivilegeGrant => ({ name, level: "Global", why });

/**
 * The bridge acts for the whole organization (any seller's opportunity may be shared), so its grants
 * are Global. No Delete anywhere: the bridge never deletes; a declined or lost referral closes the
 * record instead. No Assign: records the bridge creates stay with the bridge's user until a seller
 * takes them (an admin may add prvAssign* if they route incoming referrals automatically).
 */
export const BRIDGE_PRIVILEGES: readonly PrivilegeGrant[] = [
  g("prvCreateOpportunity", "incoming co-sell referrals become opportunities"),
  g("prvReadOpportunity", "re-read an opportunity before every sync; reconcile sweep"),
  g("prvWriteOpportunity", "write Partner Center fields, sync state and audit back"),
  g("prvAppendOpportunity", "link an opportunity to its account and contact"),
  g("prvAppendToOpportunity", "a qualified lead and the close activity point at the opportunity"),
  g("prvCreateLead", "marketplace and Microsoft-qualified leads arrive as leads"),
  g("prvReadLead", "re-read a lead before every sync; reconcile sweep"),
  g("prvWriteLead", "write Partner Center fields back; QualifyLead updates the lead"),
  g("prvAppendLead", "link a lead to its account and contact"),
  g("prvAppendToLead", "the opportunity created by qualification points at its lead"),
  g("prvCreateAccount", "the customer of an incoming referral may not exist yet"),
  g("prvReadAccount", "customer name, address and country code sent to Partner Center"),
  g("prvWriteAccount", "keep the customer's details in step with the referral"),
  g("prvAppendAccount", "an account is linked to its primary contact"),
  g("prvAppendToAccount", "opportunities and leads point at their account"),
  g("prvCreateContact", "the customer contact of an incoming referral may not exist yet"),
  g("prvReadContact", "customer contact sent to Partner Center"),
  g("prvWriteContact", "keep the contact's details in step with the referral"),
  g("prvAppendContact", "a contact is linked to its account"),
  g("prvAppendToContact", "opportunities and leads point at their contact"),
  g("prvCreateActivity", "WinOpportunity / LoseOpportunity create the opportunity close activity"),
  g("prvReadActivity", "read back the close activity of a won or lost opportunity"),
  g("prvAppendActivity", "the close activity is attached to its opportunity"),
  g("prvReadUser", "map the opportunity owner to a seller name and e-mail for Partner Center"),
  g("prvReadTransactionCurrency", "deal value currency sent to Partner Center"),
  g(`prvRead${catalogue}`, "check solution ids (SOL-…) against the catalogue"),
  g("prvReadEnvironmentVariableDefinition", "read cosell_* settings (check marks, co-sell only, field names)"),
  g("prvReadEnvironmentVariableValue", "read the environment's values of those settings"),
  g("prvCreateEnvironmentVariableValue", "connect: set cosell_BridgeUrl (where sellers find the status page) the first time"),
  g("prvWriteEnvironmentVariableValue", "connect: update cosell_BridgeUrl when the bridge moves"),
  g("prvAppendEnvironmentVariableValue", "connect: the cosell_BridgeUrl value is linked to its definition"),
  g("prvAppendToEnvironmentVariableDefinition", "connect: the cosell_BridgeUrl definition receives its value"),
  // `cosell-bridge connect` runs as the same application user and registers the Dataverse webhook:
  g("prvCreateServiceEndpoint", "connect: register the bridge's webhook endpoint"),
  g("prvReadServiceEndpoint", "connect: find an endpoint registered before (idempotent connect)"),
  g("prvWriteServiceEndpoint", "connect: update the URL or key when the bridge moves"),
  g("prvCreateSdkMessageProcessingStep", "connect: register the Create/Update steps on opportunity and lead"),
  g("prvReadSdkMessageProcessingStep", "connect: find steps registered before"),
  g("prvWriteSdkMessageProcessingStep", "connect: update filtering attributes of a step"),
  g("prvReadSdkMessage", "connect: look up the Create/Update messages and their filters"),
];

/** What a seller adds to their usual Salesperson role: the catalogue and the settings the section reads. */
export const SELLER_PRIVILEGES: readonly PrivilegeGrant[] = [
  g(`prvRead${catalogue}`, "pick co-sell solutions from the catalogue"),
  g("prvReadEnvironmentVariableDefinition", "the control reads the check mark setting"),
  g("prvReadEnvironmentVariableValue", "the control reads the check mark setting's value"),
];

export const ROLE_PRIVILEGES = {
  bridge: BRIDGE_PRIVILEGES,
  seller: SELLER_PRIVILEGES,
} as const satisfies Record<keyof typeof SECURITY_ROLES, readonly PrivilegeGrant[]>;
