/**
 * The data contract of DESIGN §2 as typed constants: publisher, solution, tables, columns, choices,
 * keys, environment variables and component names. The solution packer generates the package from
 * these definitions, the sandbox provisions its schema from them, and the bridge, the form scripts
 * and the PCF control import the names from here. Nothing else spells a column name.
 */

export const PUBLISHER = {
  uniqueName: "cosellconnector",
  friendlyName: "Co-sell Connector",
  customizationPrefix: "cosell",
  /** Option values are `optionValuePrefix * 10_000 + n`: 174200000, 174200001, … */
  optionValuePrefix: 17420,
} as const;

export const SOLUTION = {
  uniqueName: "PartnerCenterCoSell",
  friendlyName: "Partner Center Co-sell",
  description:
    "Co-sell with Microsoft from the Dynamics 365 opportunity form: Partner Center referrals synced both ways by the cosell-bridge service.",
} as const;

/** The lowest and highest option value the publisher may use. */
export const OPTION_VALUE_RANGE = {
  min: PUBLISHER.optionValuePrefix * 10_000,
  max: PUBLISHER.optionValuePrefix * 10_000 + 9_999,
} as const;

export function optionValue(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 9_999) throw new RangeError(`option index out of range: ${n}`);
  return OPTION_VALUE_RANGE.min + n;
}

// ---------------------------------------------------------------------------------------------
// Global choices
// ---------------------------------------------------------------------------------------------

export interface ChoiceOption<TApi extends string = string> {
  readonly value: number;
  readonly label: string;
  /** The value Partner Center uses for this option, where one exists. */
  readonly api?: TApi;
}

export interface GlobalChoice {
  readonly name: string;
  readonly displayName: string;
  readonly description: string;
  readonly options: readonly ChoiceOption[];
}

export const HelpNeeded = {
  NoHelpNeeded: optionValue(0),
  WorkloadSpecificValueProposition: optionValue(1),
  CustomerTechnicalArchitecture: optionValue(2),
  ProofOfConceptOrDemo: optionValue(3),
  QuotesOrLicensing: optionValue(4),
  PostSalesCustomerSuccess: optionValue(5),
  GeneralOrOther: optionValue(6),
} as const;
export type HelpNeededValue = (typeof HelpNeeded)[keyof typeof HelpNeeded];

export const SyncState = {
  NotSynced: optionValue(0),
  Pending: optionValue(1),
  Synced: optionValue(2),
  Error: optionValue(3),
} as const;
export type SyncStateValue = (typeof SyncState)[keyof typeof SyncState];

export const ReferralAction = {
  Accept: optionValue(0),
  Decline: optionValue(1),
} as const;
export type ReferralActionValue = (typeof ReferralAction)[keyof typeof ReferralAction];

/** What a catalogue solution is: Partner Center co-sells IP solutions and Services solutions. */
export const SolutionType = {
  IP: optionValue(0),
  Services: optionValue(1),
} as const;
export type SolutionTypeValue = (typeof SolutionType)[keyof typeof SolutionType];

/** The "How can Microsoft help?" options with Partner Center's assistanceRequestCode values. */
export const HELP_NEEDED_OPTIONS: readonly ChoiceOption[] = [
      { value: HelpNeeded.NoHelpNeeded, label: "No help needed" },
      {
        value: HelpNeeded.WorkloadSpecificValueProposition,
        label: "Workload-specific value proposition",
        api: "WorkloadSpecificValueProposition",
      },
      {
        value: HelpNeeded.CustomerTechnicalArchitecture,
        label: "Customer technical architecture",
        api: "CustomerTechnicalArchitecture",
      },
      { value: HelpNeeded.ProofOfConceptOrDemo, label: "Proof of concept or demo", api: "ProofOfConceptOrDemo" },
      { value: HelpNeeded.QuotesOrLicensing, label: "Quotes and licensing", api: "QuotesOrLicensing" },
      {
        value: HelpNeeded.PostSalesCustomerSuccess,
        label: "Post-sales customer success",
        api: "PostSalesCustomerSuccess",
      },
      { value: HelpNeeded.GeneralOrOther, label: "General or other", api: "GeneralOrOther" },
];

export const GLOBAL_CHOICES = {
  helpNeeded: {
    name: "cosell_helpneeded",
    displayName: "How can Microsoft help?",
    description: "The help a partner asks of Microsoft on a co-sell referral (Partner Center assistanceRequestCode).",
    options: HELP_NEEDED_OPTIONS,
  },
  syncState: {
    name: "cosell_syncstate",
    displayName: "Partner Center sync state",
    description: "Where this record stands in the sync with Partner Center.",
    options: [
      { value: SyncState.NotSynced, label: "Not synced" },
      { value: SyncState.Pending, label: "Pending" },
      { value: SyncState.Synced, label: "Synced" },
      { value: SyncState.Error, label: "Error" },
    ],
  },
  referralAction: {
    name: "cosell_referralaction",
    displayName: "Referral action",
    description: "A seller's request on an incoming referral; the bridge carries it out and clears it.",
    options: [
      { value: ReferralAction.Accept, label: "Accept" },
      { value: ReferralAction.Decline, label: "Decline" },
    ],
  },
  solutionType: {
    name: "cosell_solutiontype",
    displayName: "Solution type",
    description: "Whether a co-sell solution is an IP solution or a Services solution.",
    options: [
      { value: SolutionType.IP, label: "IP" },
      { value: SolutionType.Services, label: "Services" },
    ],
  },
} as const satisfies Record<string, GlobalChoice>;

// ---------------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------------

export type ColumnType =
  | { readonly kind: "boolean"; readonly default: boolean; readonly trueLabel: string; readonly falseLabel: string }
  | { readonly kind: "choice"; readonly globalChoice: keyof typeof GLOBAL_CHOICES }
  | { readonly kind: "text"; readonly maxLength: number; readonly format: "text" | "url" }
  | { readonly kind: "memo"; readonly maxLength: number }
  | { readonly kind: "datetime" };

export interface ColumnDefinition {
  readonly logicalName: string;
  /** The schema (physical) name, as Dataverse keeps it in exports: prefix + PascalCase. */
  readonly schemaName: string;
  readonly displayName: string;
  readonly description: string;
  readonly type: ColumnType;
  /** Locked on the form; only the bridge writes it. */
  readonly readOnlyOnForm: boolean;
}

function column(
  schemaName: string,
  displayName: string,
  type: ColumnType,
  description: string,
  readOnlyOnForm = false,
): ColumnDefinition {
  return { logicalName: schemaName.toLowerCase(), schemaName, displayName, description, type, readOnlyOnForm };
}

const yesNo = (defaultValue: boolean): ColumnType => ({
  kind: "boolean",
  default: defaultValue,
  trueLabel: "Yes",
  falseLabel: "No",
});
const text = (maxLength: number): ColumnType => ({ kind: "text", maxLength, format: "text" });

/** Logical names of the opportunity columns (DESIGN §2). */
export const OpportunityColumn = {
  syncWithPartnerCenter: "cosell_syncwithpartnercenter",
  microsoftHelp: "cosell_microsofthelp",
  shareWithMicrosoft: "cosell_sharewithmicrosoft",
  products: "cosell_products",
  referralId: "cosell_referralid",
  engagementId: "cosell_engagementid",
  referralLink: "cosell_referrallink",
  referralStatus: "cosell_referralstatus",
  referralSubstatus: "cosell_referralsubstatus",
  microsoftCrmId: "cosell_microsoftcrmid",
  syncState: "cosell_syncstate",
  lastSyncedOn: "cosell_lastsyncedon",
  syncError: "cosell_syncerror",
  audit: "cosell_audit",
  referralAction: "cosell_referralaction",
  declineReason: "cosell_declinereason",
} as const;
export type OpportunityColumnName = (typeof OpportunityColumn)[keyof typeof OpportunityColumn];

/** Logical names of the lead columns (DESIGN §2): the same types and meanings as on opportunity. */
export const LeadColumn = {
  referralId: "cosell_referralid",
  referralLink: "cosell_referrallink",
  referralStatus: "cosell_referralstatus",
  referralSubstatus: "cosell_referralsubstatus",
  syncState: "cosell_syncstate",
  lastSyncedOn: "cosell_lastsyncedon",
  syncError: "cosell_syncerror",
  audit: "cosell_audit",
} as const;
export type LeadColumnName = (typeof LeadColumn)[keyof typeof LeadColumn];

export const AUDIT_MAX_LENGTH = 100_000;

/** Maximum lengths of the text columns a seller types into (the definitions below use them). */
export const TextLimit = {
  products: 4000,
  declineReason: 500,
} as const;

const REFERRAL_COLUMNS = {
  referralId: /* @__PURE__ */ column("cosell_ReferralId", "Referral identifier", /* @__PURE__ */ text(100), "Partner Center referral id.", true),
  referralLink: /* @__PURE__ */ column(
    "cosell_ReferralLink",
    "Referral link",
    { kind: "text", maxLength: 500, format: "url" },
    "Opens the referral in Partner Center.",
    true,
  ),
  referralStatus: /* @__PURE__ */ column(
    "cosell_ReferralStatus",
    "Partner Center status",
    /* @__PURE__ */ text(20),
    "Referral status as Partner Center reports it.",
    true,
  ),
  referralSubstatus: /* @__PURE__ */ column(
    "cosell_ReferralSubstatus",
    "Partner Center substatus",
    /* @__PURE__ */ text(20),
    "Referral substatus as Partner Center reports it.",
    true,
  ),
  syncState: /* @__PURE__ */ column(
    "cosell_SyncState",
    "Partner Center sync state",
    { kind: "choice", globalChoice: "syncState" },
    "Where this record stands in the sync with Partner Center.",
    true,
  ),
  lastSyncedOn: /* @__PURE__ */ column(
    "cosell_LastSyncedOn",
    "Last synced on",
    { kind: "datetime" },
    "When the bridge last synced this record successfully.",
    true,
  ),
  syncError: /* @__PURE__ */ column(
    "cosell_SyncError",
    "Sync error",
    /* @__PURE__ */ text(2000),
    "The last sync error, in words a seller can act on.",
    true,
  ),
  audit: /* @__PURE__ */ column(
    "cosell_Audit",
    "Partner Center audit",
    { kind: "memo", maxLength: AUDIT_MAX_LENGTH },
    "Sync audit trail, one entry a line, newest last.",
    true,
  ),
} as const;

export const OPPORTUNITY_COLUMNS: readonly ColumnDefinition[] = [
  /* @__PURE__ */ column(
    "cosell_SyncWithPartnerCenter",
    "Sync with Partner Center",
    /* @__PURE__ */ yesNo(false),
    "Share this opportunity with Microsoft Partner Center as a co-sell referral.",
  ),
  /* @__PURE__ */ column(
    "cosell_MicrosoftHelp",
    "How can Microsoft help?",
    { kind: "choice", globalChoice: "helpNeeded" },
    "The help requested from Microsoft; any value other than No help needed makes this a co-sell request.",
  ),
  /* @__PURE__ */ column(
    "cosell_ShareWithMicrosoft",
    "Share with Microsoft sellers",
    /* @__PURE__ */ yesNo(false),
    "Make the referral visible to Microsoft sellers. Once Yes it cannot be turned back.",
  ),
  /* @__PURE__ */ column(
    "cosell_Products",
    "Microsoft Partner Center solutions",
    { kind: "memo", maxLength: TextLimit.products },
    "Solution IDs (SOL-…), comma separated.",
  ),
  REFERRAL_COLUMNS.referralId,
  /* @__PURE__ */ column("cosell_EngagementId", "Engagement identifier", /* @__PURE__ */ text(100), "Partner Center engagement id.", true),
  REFERRAL_COLUMNS.referralLink,
  REFERRAL_COLUMNS.referralStatus,
  REFERRAL_COLUMNS.referralSubstatus,
  /* @__PURE__ */ column(
    "cosell_MicrosoftCrmId",
    "Microsoft CRM identifier",
    /* @__PURE__ */ text(100),
    "Microsoft's CRM id once a Microsoft seller engages.",
    true,
  ),
  REFERRAL_COLUMNS.syncState,
  REFERRAL_COLUMNS.lastSyncedOn,
  REFERRAL_COLUMNS.syncError,
  REFERRAL_COLUMNS.audit,
  /* @__PURE__ */ column(
    "cosell_ReferralAction",
    "Referral action",
    { kind: "choice", globalChoice: "referralAction" },
    "Accept or decline an incoming referral; the bridge carries it out and clears it.",
  ),
  /* @__PURE__ */ column("cosell_DeclineReason", "Decline reason", /* @__PURE__ */ text(TextLimit.declineReason), "Why the referral is declined."),
];

export const LEAD_COLUMNS: readonly ColumnDefinition[] = [
  REFERRAL_COLUMNS.referralId,
  REFERRAL_COLUMNS.referralLink,
  REFERRAL_COLUMNS.referralStatus,
  REFERRAL_COLUMNS.referralSubstatus,
  REFERRAL_COLUMNS.syncState,
  REFERRAL_COLUMNS.lastSyncedOn,
  REFERRAL_COLUMNS.syncError,
  REFERRAL_COLUMNS.audit,
];

// ---------------------------------------------------------------------------------------------
// The solution catalogue table
// ---------------------------------------------------------------------------------------------

export const SolutionCatalogColumn = {
  name: "cosell_name",
  solutionCode: "cosell_solutioncode",
  solutionType: "cosell_solutiontype",
  publisher: "cosell_publisher",
  isActive: "cosell_isactive",
} as const;

export const SOLUTION_CATALOG_TABLE = {
  logicalName: "cosell_solution",
  schemaName: "cosell_Solution",
  entitySetName: "cosell_solutions",
  /**
   * The GUID Dataverse gives every table as `<table>id` (DESIGN §2); no column may take this name.
   * Until 2026-12 the SOL-… text column was called `cosell_solutionid` and collided with it; it is
   * now `cosell_solutioncode` (docs/upgrade.md says what an existing environment must do).
   */
  primaryIdAttribute: "cosell_solutionid",
  displayName: "Co-sell solution",
  displayCollectionName: "Co-sell solutions",
  description: "Catalogue of Partner Center co-sell solutions (SOL-… ids) that sellers pick from.",
  primaryName: /* @__PURE__ */ column("cosell_Name", "Name", /* @__PURE__ */ text(200), "Solution name."),
  columns: [
    /* @__PURE__ */ column("cosell_SolutionCode", "Solution code", /* @__PURE__ */ text(50), "Partner Center solution id, e.g. SOL-15974-MQF."),
    /* @__PURE__ */ column("cosell_SolutionType", "Solution type", { kind: "choice", globalChoice: "solutionType" }, "IP or Services solution."),
    /* @__PURE__ */ column("cosell_Publisher", "Publisher", /* @__PURE__ */ text(200), "Who publishes the solution."),
    /* @__PURE__ */ column("cosell_IsActive", "Active", /* @__PURE__ */ yesNo(true), "Offered to sellers in the picker."),
  ] as readonly ColumnDefinition[],
} as const;

// ---------------------------------------------------------------------------------------------
// Tables touched and alternate keys
// ---------------------------------------------------------------------------------------------

export const Table = {
  opportunity: { logicalName: "opportunity", entitySetName: "opportunities", primaryIdAttribute: "opportunityid" },
  lead: { logicalName: "lead", entitySetName: "leads", primaryIdAttribute: "leadid" },
  account: { logicalName: "account", entitySetName: "accounts", primaryIdAttribute: "accountid" },
  contact: { logicalName: "contact", entitySetName: "contacts", primaryIdAttribute: "contactid" },
  systemuser: { logicalName: "systemuser", entitySetName: "systemusers", primaryIdAttribute: "systemuserid" },
  transactioncurrency: {
    logicalName: "transactioncurrency",
    entitySetName: "transactioncurrencies",
    primaryIdAttribute: "transactioncurrencyid",
  },
  solution: {
    logicalName: SOLUTION_CATALOG_TABLE.logicalName,
    entitySetName: SOLUTION_CATALOG_TABLE.entitySetName,
    primaryIdAttribute: SOLUTION_CATALOG_TABLE.primaryIdAttribute,
  },
} as const;

export interface AlternateKeyDefinition {
  readonly table: string;
  readonly logicalName: string;
  readonly displayName: string;
  readonly attributes: readonly string[];
}

export const ALTERNATE_KEYS = {
  opportunityReferralId: {
    table: "opportunity",
    logicalName: "cosell_opportunity_referralid",
    displayName: "Referral identifier",
    attributes: [OpportunityColumn.referralId],
  },
  leadReferralId: {
    table: "lead",
    logicalName: "cosell_lead_referralid",
    displayName: "Referral identifier",
    attributes: [LeadColumn.referralId],
  },
  solutionCode: {
    table: SOLUTION_CATALOG_TABLE.logicalName,
    logicalName: "cosell_solution_solutioncode",
    displayName: "Solution code",
    attributes: [SolutionCatalogColumn.solutionCode],
  },
} as const satisfies Record<string, AlternateKeyDefinition>;

// ---------------------------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------------------------

/** Dataverse environmentvariabledefinition.type values. */
export const EnvironmentVariableType = {
  String: 100000000,
  Number: 100000001,
  Boolean: 100000002,
  Json: 100000003,
  DataSource: 100000004,
  Secret: 100000005,
} as const;

export interface EnvironmentVariableDefinition {
  readonly schemaName: string;
  readonly displayName: string;
  readonly description: string;
  readonly type: (typeof EnvironmentVariableType)["String" | "Boolean"];
  /** As Dataverse stores it: Booleans are the strings `yes` / `no`. */
  readonly defaultValue: string;
}

export const EnvironmentVariable = {
  checkmark: "cosell_Checkmark",
  syncCoSellOnly: "cosell_SyncCoSellOnly",
  dealValueField: "cosell_DealValueField",
  countryCodeField: "cosell_CountryCodeField",
  bridgeUrl: "cosell_BridgeUrl",
} as const;
export type EnvironmentVariableName = (typeof EnvironmentVariable)[keyof typeof EnvironmentVariable];

/** Default value of each environment variable, as Dataverse stores it (Booleans are `yes` / `no`). */
export const EnvironmentVariableDefault = {
  [EnvironmentVariable.checkmark]: "yes",
  [EnvironmentVariable.syncCoSellOnly]: "no",
  [EnvironmentVariable.dealValueField]: "estimatedvalue",
  [EnvironmentVariable.countryCodeField]: "address1_country",
  [EnvironmentVariable.bridgeUrl]: "",
} as const satisfies Record<EnvironmentVariableName, string>;

export const ENVIRONMENT_VARIABLES: readonly EnvironmentVariableDefinition[] = [
  {
    schemaName: EnvironmentVariable.checkmark,
    displayName: "Display check mark in the opportunity name",
    description: "Yes: show ✔ beside synced opportunities and ✖ beside failed ones, in the control and in the name.",
    type: EnvironmentVariableType.Boolean,
    defaultValue: EnvironmentVariableDefault[EnvironmentVariable.checkmark],
  },
  {
    schemaName: EnvironmentVariable.syncCoSellOnly,
    displayName: "Sync co-sell opportunities only",
    description: "Yes: sync only co-sell referrals from Partner Center, not marketplace or qualified leads.",
    type: EnvironmentVariableType.Boolean,
    defaultValue: EnvironmentVariableDefault[EnvironmentVariable.syncCoSellOnly],
  },
  {
    schemaName: EnvironmentVariable.dealValueField,
    displayName: "Deal value column",
    description: "Logical name of the opportunity column that holds the deal value.",
    type: EnvironmentVariableType.String,
    defaultValue: EnvironmentVariableDefault[EnvironmentVariable.dealValueField],
  },
  {
    schemaName: EnvironmentVariable.countryCodeField,
    displayName: "Customer account country code column",
    description: "Logical name of the account column that holds the ISO 3166 two-letter country code.",
    type: EnvironmentVariableType.String,
    defaultValue: EnvironmentVariableDefault[EnvironmentVariable.countryCodeField],
  },
  {
    schemaName: EnvironmentVariable.bridgeUrl,
    displayName: "Bridge URL",
    description: "Base URL of the cosell-bridge service (its status page).",
    type: EnvironmentVariableType.String,
    defaultValue: EnvironmentVariableDefault[EnvironmentVariable.bridgeUrl],
  },
];

/** Reads a Boolean environment variable value the way Dataverse stores it. */
export function parseEnvironmentBoolean(value: string | null | undefined, fallback: boolean): boolean {
  if (value === null || value === undefined || value.trim() === "") return fallback;
  const v = value.trim().toLowerCase();
  if (v === "yes" || v === "true" || v === "1") return true;
  if (v === "no" || v === "false" || v === "0") return false;
  return fallback;
}

// ---------------------------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------------------------

export const WEB_RESOURCE = {
  name: "cosell_/opportunityform.js",
  displayName: "Partner Center co-sell: opportunity form",
  /** Handlers live under this global: CoSell.OpportunityForm.onLoad etc. */
  handlerNamespace: "CoSell.OpportunityForm",
} as const;

export const PCF_CONTROL = {
  namespace: "CoSell",
  constructor: "PartnerCenterSection",
  /** `<prefix>_<namespace>.<constructor>` as the solution registers it. */
  fullName: "cosell_CoSell.PartnerCenterSection",
} as const;

export const FORM_SECTION = {
  opportunity: { name: "cosell_partnercenter", label: "Microsoft Partner Center" },
  lead: { name: "cosell_partnercenter", label: "Microsoft Partner Center" },
} as const;

export const SECURITY_ROLES = {
  bridge: { name: "Co-sell Bridge Service", description: "Least privileges the cosell-bridge application user needs." },
  seller: { name: "Co-sell Seller", description: "Read the co-sell solution catalogue and use the Partner Center section." },
} as const;
