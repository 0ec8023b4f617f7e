/**
 * The co-sell rules of the opportunity form as pure functions over plain facts read from the form.
 * No Xrm here: the shell (form.ts) reads the facts, these decide, the shell shows the result.
 */
import { HelpNeeded, OpportunityColumn, SyncState, Table, isSolutionId, parseProducts } from "@cosell/contract";
import type { AccountCountry } from "./account";
import { StandardOpportunityColumn } from "./dataverse-names";
import { Messages } from "./messages";

export interface CustomerRef {
  readonly entityType: string;
  readonly id: string;
  readonly name: string | null;
}

export type SettingsFact =
  | { readonly state: "loading" }
  | { readonly state: "ready" }
  | { readonly state: "failed"; readonly reason: string };

export type DealValueFact =
  /** Settings not read yet: the column is not known. */
  | { readonly state: "unknown" }
  | { readonly state: "missingColumn"; readonly column: string }
  | { readonly state: "notNumeric"; readonly column: string }
  | { readonly state: "value"; readonly column: string; readonly value: number | null };

/** Everything the rules look at, as plain values. */
export interface CoSellFacts {
  readonly settings: SettingsFact;
  readonly customer: CustomerRef | null;
  /** The country check of `customer` when it is an account; null when none has started. */
  readonly accountCountry: AccountCountry | null;
  readonly countryCodeColumn: string;
  readonly dealValue: DealValueFact;
  readonly closeDate: Date | null;
  readonly products: string | null;
  readonly microsoftHelp: number | null;
  readonly hasCustomerContact: boolean;
}

/** One thing Partner Center needs; each has one notification id. */
export type Requirement = "settings" | "customer" | "dealValue" | "closeDate" | "products" | "customerContact";

export const REQUIREMENTS: readonly Requirement[] = [
  "settings",
  "customer",
  "dealValue",
  "closeDate",
  "products",
  "customerContact",
];

export interface MissingDetail {
  readonly requirement: Requirement;
  /** The opportunity column whose control shows the message; null: a form-level message. */
  readonly column: string | null;
  readonly message: string;
}

/**
 * `live`: while the seller edits; a check still running is not a problem yet.
 * `save`: the save decision; anything not known to be fine blocks the save.
 */
export type ValidationMode = "live" | "save";

/** Any answer to "How can Microsoft help?" other than No help needed (or none) is a request for help. */
export function isHelpRequested(value: number | null): boolean {
  return value !== null && value !== HelpNeeded.NoHelpNeeded;
}

/** The invalid entries of `cosell_products`, as the seller will see them. */
export function invalidSolutionIds(products: string | null): string[] {
  return parseProducts(products).filter((id) => !isSolutionId(id));
}

function customerDetail(facts: CoSellFacts, mode: ValidationMode): MissingDetail | null {
  const column = StandardOpportunityColumn.customer;
  const { customer } = facts;
  if (!customer) return { requirement: "customer", column, message: Messages.customerMissing() };
  if (customer.entityType !== Table.account.logicalName) {
    return { requirement: "customer", column, message: Messages.customerNotAccount(customer.name) };
  }
  if (facts.settings.state !== "ready") return null; // the country column is not known yet: see "settings"
  const country = facts.accountCountry;
  if (country === null || country.state === "checking") {
    return mode === "save" ? { requirement: "customer", column, message: Messages.accountCountryChecking() } : null;
  }
  switch (country.state) {
    case "valid":
      return null;
    case "invalid":
      return {
        requirement: "customer",
        column,
        message: Messages.accountCountryInvalid(customer.name, country.found, facts.countryCodeColumn),
      };
    case "failed":
      return { requirement: "customer", column, message: Messages.accountCountryFailed(country.reason) };
  }
}

function dealValueDetail(facts: CoSellFacts): MissingDetail | null {
  const deal = facts.dealValue;
  switch (deal.state) {
    case "unknown":
      return null; // see "settings"
    case "missingColumn":
      return { requirement: "dealValue", column: null, message: Messages.dealValueColumnMissing(deal.column) };
    case "notNumeric":
      return { requirement: "dealValue", column: null, message: Messages.dealValueColumnNotNumeric(deal.column) };
    case "value":
      return deal.value !== null && Number.isFinite(deal.value) && deal.value > 0
        ? null
        : { requirement: "dealValue", column: deal.column, message: Messages.dealValueMissing() };
  }
}

function settingsDetail(facts: CoSellFacts, mode: ValidationMode): MissingDetail | null {
  switch (facts.settings.state) {
    case "ready":
      return null;
    case "loading":
      return mode === "save" ? { requirement: "settings", column: null, message: Messages.settingsLoading() } : null;
    case "failed":
      return { requirement: "settings", column: null, message: Messages.settingsFailed(facts.settings.reason) };
  }
}

function productsDetail(facts: CoSellFacts): MissingDetail | null {
  const column = OpportunityColumn.products;
  if (parseProducts(facts.products).length === 0) {
    return { requirement: "products", column, message: Messages.productsMissing() };
  }
  const invalid = invalidSolutionIds(facts.products);
  return invalid.length > 0 ? { requirement: "products", column, message: Messages.productsInvalid(invalid) } : null;
}

/**
 * What Partner Center would reject, given the facts; empty when the opportunity can be shared.
 * Only meaningful while sync with Partner Center is on.
 */
export function findMissingDetails(facts: CoSellFacts, mode: ValidationMode): MissingDetail[] {
  const details: (MissingDetail | null)[] = [
    settingsDetail(facts, mode),
    customerDetail(facts, mode),
    dealValueDetail(facts),
    facts.closeDate === null
      ? { requirement: "closeDate", column: StandardOpportunityColumn.estimatedCloseDate, message: Messages.closeDateMissing() }
      : null,
    productsDetail(facts),
    isHelpRequested(facts.microsoftHelp) && !facts.hasCustomerContact
      ? { requirement: "customerContact", column: StandardOpportunityColumn.customerContact, message: Messages.customerContactMissing() }
      : null,
  ];
  return details.filter((d): d is MissingDetail => d !== null);
}

/** Sync may not be switched off while the opportunity is linked to a referral. */
export function mustKeepSyncOn(sync: boolean | null, referralId: string | null): boolean {
  return sync !== true && referralId !== null && referralId.trim() !== "";
}

/** Sharing with Microsoft sellers, once saved as Yes, cannot go back. */
export function mustKeepSharing(share: boolean | null, savedShare: boolean): boolean {
  return savedShare && share !== true;
}

export interface FormNotice {
  readonly level: "INFO" | "WARNING" | "ERROR";
  readonly message: string;
}

/** The form notification for the sync state, or null when there is nothing to say. */
export function syncStateNotice(state: number | null, syncError: string | null, referralId: string | null): FormNotice | null {
  switch (state) {
    case SyncState.Pending:
      return { level: "INFO", message: Messages.syncPending() };
    case SyncState.Error:
      return { level: "ERROR", message: Messages.syncFailed(syncError?.trim() ? syncError.trim() : null) };
    case SyncState.Synced:
      return { level: "INFO", message: Messages.synced(referralId?.trim() ? referralId.trim() : null) };
    default:
      return null;
  }
}
