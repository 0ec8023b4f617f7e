/**
 * Builders for the sync core's tests: a referral as the API returns it, an opportunity with its
 * related rows as the Web API returns them, and the default mapping. Each test overrides only what
 * it is about.
 */
import { HelpNeeded, OpportunityColumn, SyncState } from "@cosell/contract";
import type { CrmRecordSet, DataverseRow } from "../src/dataverse/model";
import { loadMapping, type Mapping } from "../src/mapping";
import type { EnvironmentValues } from "../src/mapping/settings";
import type { Referral } from "../src/partner-center/model";

export const OPPORTUNITY_ID = "0b7c9a52-6c1e-4f7a-9d5e-1a2b3c4d5e6f";
export const REFERRAL_ID = "5c1d3f9e-aaaa-4bbb-8ccc-0123456789ab";
export const ENGAGEMENT_ID = "65edc0b5-1111-4222-8333-444455556666";

export function referral(overrides: Partial<Referral> = {}): Referral {
  return {
    id: REFERRAL_ID,
    engagementId: ENGAGEMENT_ID,
    name: "Contoso Azure migration",
    externalReferenceId: OPPORTUNITY_ID,
    createdDateTime: "2026-11-01T09:00:00Z",
    updatedDateTime: "2026-11-20T09:00:00Z",
    status: "Active",
    substatus: "Accepted",
    type: "Shared",
    qualification: "SalesQualified",
    direction: "Outgoing",
    eTag: '"2500ec5a-0000-0000-0000-5bf4967d0000"',
    customerProfile: {
      name: "Contoso Ltd",
      address: { addressLine1: "One Microsoft Way", city: "Redmond", state: "WA", postalCode: "98052", country: "US" },
      team: [{ firstName: "Sue", lastName: "Smith", email: "sue@contoso.com", phoneNumber: "1234567890" }],
    },
    consent: { consentToShareReferralWithMicrosoftSellers: true },
    details: {
      notes: "Move 200 VMs to Azure",
      dealValue: 50000,
      currency: "USD",
      closingDateTime: "2026-12-31T00:00:00Z",
      requirements: { solutions: [{ type: "Name", id: "SOL-15974-MQF", name: "Fabrikam Migrate" }] },
    },
    team: [{ firstName: "Ann", lastName: "Seller", email: "ann@fabrikam.com" }],
    inviteContext: { assistanceRequestCode: "CustomerTechnicalArchitecture" },
    target: [{ type: "SolutionProfile", id: "SOL-15974-MQF" }],
    ...overrides,
  };
}

export function opportunityRow(overrides: Record<string, unknown> = {}): DataverseRow {
  return {
    "@odata.etag": 'W/"1001"',
    opportunityid: OPPORTUNITY_ID,
    name: "Contoso Azure migration ✔",
    estimatedvalue: 50000,
    estimatedclosedate: "2026-12-31",
    description: "Move 200 VMs to Azure",
    statecode: 0,
    statuscode: 1,
    modifiedon: "2026-11-20T08:00:00Z",
    _customerid_value: "acc-1",
    _parentcontactid_value: "con-1",
    _ownerid_value: "usr-1",
    _transactioncurrencyid_value: "cur-usd",
    [OpportunityColumn.syncWithPartnerCenter]: true,
    [OpportunityColumn.microsoftHelp]: HelpNeeded.CustomerTechnicalArchitecture,
    [OpportunityColumn.shareWithMicrosoft]: true,
    [OpportunityColumn.products]: "SOL-15974-MQF",
    [OpportunityColumn.referralId]: REFERRAL_ID,
    [OpportunityColumn.engagementId]: ENGAGEMENT_ID,
    [OpportunityColumn.referralLink]: `https://partner.microsoft.com/dashboard/referrals/v2/opportunities/${REFERRAL_ID}`,
    [OpportunityColumn.referralStatus]: "Active",
    [OpportunityColumn.referralSubstatus]: "Accepted",
    [OpportunityColumn.microsoftCrmId]: null,
    [OpportunityColumn.syncState]: SyncState.Synced,
    [OpportunityColumn.referralAction]: null,
    [OpportunityColumn.declineReason]: null,
    ...overrides,
  };
}

export function recordSet(overrides: Partial<CrmRecordSet> & { recordColumns?: Record<string, unknown> } = {}): CrmRecordSet {
  const { recordColumns, ...rest } = overrides;
  return {
    kind: "opportunity",
    record: opportunityRow(recordColumns),
    account: {
      accountid: "acc-1",
      name: "Contoso Ltd",
      address1_line1: "One Microsoft Way",
      address1_city: "Redmond",
      address1_stateorprovince: "WA",
      address1_postalcode: "98052",
      address1_country: "US",
    },
    contact: { contactid: "con-1", firstname: "Sue", lastname: "Smith", emailaddress1: "sue@contoso.com", telephone1: "1234567890" },
    owner: { systemuserid: "usr-1", firstname: "Ann", lastname: "Seller", internalemailaddress: "ann@fabrikam.com" },
    currency: { transactioncurrencyid: "cur-usd", isocurrencycode: "USD" },
    ...rest,
  };
}

export function defaultMapping(env: EnvironmentValues = {}, admin?: unknown): Mapping {
  return loadMapping(admin, env);
}

export const NOW = new Date("2026-11-25T10:15:00.000Z");
