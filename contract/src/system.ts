/**
 * Standard Dataverse names the parts use beside our own columns: system columns of the tables we
 * touch, their state/status values, and the environment variable tables. Microsoft's names, not
 * ours — collected here so that no part spells them on its own.
 */

/**
 * System columns of the tables the bridge touches. The contract (DESIGN §2) names only our own
 * columns; these are Dataverse's, listed once here so no other file spells them.
 */
export const SystemColumn = {
  opportunity: {
    id: "opportunityid",
    name: "name",
    estimatedValue: "estimatedvalue",
    estimatedCloseDate: "estimatedclosedate",
    description: "description",
    stateCode: "statecode",
    statusCode: "statuscode",
    /** Customer lookup (account or contact); `customerid_account@odata.bind` to set an account. */
    customer: "customerid",
    parentAccount: "parentaccountid",
    parentContact: "parentcontactid",
    owner: "ownerid",
    transactionCurrency: "transactioncurrencyid",
    modifiedOn: "modifiedon",
  },
  lead: {
    id: "leadid",
    subject: "subject",
    firstName: "firstname",
    lastName: "lastname",
    companyName: "companyname",
    email: "emailaddress1",
    telephone: "telephone1",
    description: "description",
    estimatedAmount: "estimatedamount",
    estimatedCloseDate: "estimatedclosedate",
    stateCode: "statecode",
    statusCode: "statuscode",
    owner: "ownerid",
    transactionCurrency: "transactioncurrencyid",
    /** Set by QualifyLead: the opportunity the link moves to. */
    qualifyingOpportunity: "qualifyingopportunityid",
    modifiedOn: "modifiedon",
  },
  account: {
    id: "accountid",
    name: "name",
    line1: "address1_line1",
    line2: "address1_line2",
    city: "address1_city",
    state: "address1_stateorprovince",
    postalCode: "address1_postalcode",
    country: "address1_country",
  },
  contact: {
    id: "contactid",
    firstName: "firstname",
    lastName: "lastname",
    email: "emailaddress1",
    telephone: "telephone1",
    /** Customer lookup (account or contact): `parentcustomerid_account@odata.bind` to set an account. */
    parentCustomer: "parentcustomerid",
  },
  systemuser: {
    id: "systemuserid",
    firstName: "firstname",
    lastName: "lastname",
    fullName: "fullname",
    email: "internalemailaddress",
    telephone: "address1_telephone1",
  },
  transactioncurrency: {
    id: "transactioncurrencyid",
    isoCode: "isocurrencycode",
  },
} as const;


/** opportunity.statecode (§4.2). */
export const OpportunityState = { Open: 0, Won: 1, Lost: 2 } as const;
/** opportunity.statuscode labels for the closed states, used as the referral's statusReason. */
export const OpportunityStatusReason: Readonly<Record<number, string>> = {
  3: "Won",
  4: "Canceled",
  5: "Out-sold",
};
/** lead.statecode. */
export const LeadState = { Open: 0, Qualified: 1, Disqualified: 2 } as const;
/** lead.statuscode labels for the disqualified state, used as the decline reason. */
export const LeadStatusReason: Readonly<Record<number, string>> = {
  4: "Lost",
  5: "Cannot contact",
  6: "No longer interested",
  7: "Canceled",
};

/** The environment variable tables as the Web API exposes them (dataverse.md §2.6). */
export const EnvironmentVariableTable = {
  definitionEntitySet: "environmentvariabledefinitions",
  definition: "environmentvariabledefinition",
  schemaName: "schemaname",
  defaultValue: "defaultvalue",
  /** Navigation from a definition to its current values. */
  values: "environmentvariabledefinition_environmentvariablevalue",
  value: "value",
} as const;
