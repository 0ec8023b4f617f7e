/**
 * What Partner Center would reject, said before anything is sent and in a seller's words (flow 2,
 * connector troubleshooting §4.8: solution id, two-letter country code, customer contact when
 * Microsoft's help is asked, a deal value that is not 0). Each problem names the column to fix.
 */
import { isCountryCode, isSolutionId, OpportunityColumn, parseProducts } from "@cosell/contract";
import { type CrmRecordSet, SystemColumn } from "../dataverse/model";
import { type FieldMapping, fieldsForLink, type Mapping } from "../mapping/load";
import type { JsonValue } from "../mapping/json";
import { readDataverse } from "./snapshot";

export type ProblemCode =
  | "name-missing"
  | "deal-value-missing"
  | "deal-value-not-positive"
  | "close-date-missing"
  | "currency-missing"
  | "account-missing"
  | "account-name-missing"
  | "country-code-missing"
  | "country-code-invalid"
  | "solution-missing"
  | "solution-id-invalid"
  | "solution-not-in-catalogue"
  | "contact-missing";

export interface ValidationProblem {
  readonly code: ProblemCode;
  /** The table whose column the seller should fix. */
  readonly table: "opportunity" | "account" | "contact";
  readonly column: string;
  readonly message: string;
}

export interface ValidationOptions {
  /** Active solution ids of the cosell_solution catalogue; when given, ids must be in it. */
  readonly catalogue?: ReadonlySet<string>;
}

function fieldAt(fields: readonly FieldMapping[], path: string): FieldMapping | undefined {
  return fields.find((f) => f.onCreate && f.direction !== "pc-to-crm" && f.partnerCenter[0]?.text === path);
}

function quoteList(ids: readonly string[]): string {
  return ids.join(", ");
}

/**
 * Problems that would stop `crm` (an opportunity with its account, contact, owner and currency)
 * from becoming a referral. Empty = ready to send.
 */
export function validateForCreate(crm: CrmRecordSet, mapping: Mapping, options: ValidationOptions = {}): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const fields = fieldsForLink(mapping, "opportunity");
  const value = (f: FieldMapping | undefined): JsonValue => (f ? readDataverse(f, crm, mapping.settings) : null);
  const add = (code: ProblemCode, field: FieldMapping | undefined, fallback: { table: ValidationProblem["table"]; column: string }, message: string) =>
    problems.push({
      code,
      table: field && field.kind !== "lead" ? field.kind : fallback.table,
      column: field?.dataverse ?? fallback.column,
      message,
    });

  const name = fieldAt(fields, "name");
  if (value(name) === null) {
    add("name-missing", name, { table: "opportunity", column: SystemColumn.opportunity.name }, `Give the opportunity a name in ${name?.label ?? "Topic"}.`);
  }

  const dealValue = fieldAt(fields, "details/dealValue");
  const amount = value(dealValue);
  const dealLabel = dealValue?.label ?? "Deal value";
  const dealColumn = { table: "opportunity" as const, column: mapping.settings.dealValueField };
  if (amount === null) {
    add("deal-value-missing", dealValue, dealColumn, `Enter the deal value in ${dealLabel}; Partner Center needs an amount greater than 0.`);
  } else if (typeof amount === "number" && amount <= 0) {
    add("deal-value-not-positive", dealValue, dealColumn, `${dealLabel} must be greater than 0 for Partner Center.`);
  }

  const closeDate = fieldAt(fields, "details/closingDateTime");
  if (value(closeDate) === null) {
    add("close-date-missing", closeDate, { table: "opportunity", column: SystemColumn.opportunity.estimatedCloseDate }, `Enter the ${closeDate?.label ?? "estimated close date"} of the deal.`);
  }

  const currency = fieldAt(fields, "details/currency");
  if (value(currency) === null) {
    add("currency-missing", currency, { table: "opportunity", column: SystemColumn.opportunity.transactionCurrency }, `Choose the ${currency?.label ?? "currency"} of the deal.`);
  }

  const solutions = fieldAt(fields, "details/requirements/solutions");
  const productsColumn = { table: "opportunity" as const, column: OpportunityColumn.products };
  const productsLabel = solutions?.label ?? "Microsoft Partner Center solutions";
  const rawProducts = crm.record[solutions?.dataverse ?? OpportunityColumn.products];
  const ids = parseProducts(typeof rawProducts === "string" ? rawProducts : null);
  if (ids.length === 0) {
    add("solution-missing", solutions, productsColumn, `Add at least one solution ID (for example SOL-15974-MQF) in ${productsLabel}; Partner Center needs the solution you co-sell.`);
  } else {
    const invalid = ids.filter((id) => !isSolutionId(id));
    if (invalid.length > 0) {
      add("solution-id-invalid", solutions, productsColumn, `${productsLabel}: ${quoteList(invalid)} ${invalid.length === 1 ? "is not a solution ID" : "are not solution IDs"}. A solution ID looks like SOL-15974-MQF; separate several with commas.`);
    }
    const unknown = options.catalogue ? ids.filter((id) => isSolutionId(id) && !options.catalogue?.has(id)) : [];
    if (unknown.length > 0) {
      add("solution-not-in-catalogue", solutions, productsColumn, `${productsLabel}: ${quoteList(unknown)} ${unknown.length === 1 ? "is" : "are"} not in the co-sell solution catalogue. Pick an active solution, or ask your admin to add it.`);
    }
  }

  if (!crm.account) {
    add("account-missing", undefined, { table: "opportunity", column: SystemColumn.opportunity.customer }, "Choose the customer account in Potential Customer; Partner Center needs the customer's name and country.");
  } else {
    const accountName = fieldAt(fields, "customerProfile/name");
    if (value(accountName) === null) {
      add("account-name-missing", accountName, { table: "account", column: SystemColumn.account.name }, `Give the customer account a name in ${accountName?.label ?? "Account Name"}.`);
    }
    const country = fieldAt(fields, "customerProfile/address/country");
    const code = value(country);
    const countryLabel = country?.label ?? "Country/Region";
    const countryColumn = { table: "account" as const, column: mapping.settings.countryCodeField };
    if (code === null) {
      add("country-code-missing", country, countryColumn, `Add the customer's two-letter country code (for example US) to the account's ${countryLabel} field.`);
    } else if (typeof code !== "string" || !isCountryCode(code)) {
      add("country-code-invalid", country, countryColumn, `The account's ${countryLabel} field says "${String(code)}"; Partner Center needs the two-letter country code instead (for example US or DE).`);
    }
  }

  const help = fieldAt(fields, "inviteContext/assistanceRequestCode");
  if (value(help) !== null && !crm.contact) {
    add("contact-missing", undefined, { table: "opportunity", column: SystemColumn.opportunity.parentContact }, `${help?.label ?? "How can Microsoft help?"} is set, so Microsoft needs someone to talk to: choose the customer contact in Contact.`);
  }
  return problems;
}

/** The problems as one `cosell_syncerror` text (2000 characters at most). */
export function syncErrorText(problems: readonly ValidationProblem[], maxLength = 2000): string {
  const text = problems.map((p) => p.message).join(" ");
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
