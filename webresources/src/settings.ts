/**
 * The co-sell settings the form rules depend on, read from Dataverse environment variables the
 * documented way (dataverse.md §2.6): a definition's current value wins over its default value, and
 * the contract's default applies when neither is set.
 */
import { EnvironmentVariable, type EnvironmentVariableName } from "@cosell/contract";
import { ENVIRONMENT_DEFAULTS } from "./contract-view";
import { EnvironmentVariableTable as T } from "./dataverse-names";
import type { DataverseReader, DataverseRecord } from "./dataverse";
import { DataverseReadError } from "./dataverse";

export interface FormSettings {
  /** Opportunity column holding the deal value (`cosell_DealValueField`). */
  readonly dealValueColumn: string;
  /** Account column holding the ISO 3166 two-letter country code (`cosell_CountryCodeField`). */
  readonly countryCodeColumn: string;
}

/** The environment variables the form reads. */
export const FORM_ENVIRONMENT_VARIABLES = [
  EnvironmentVariable.dealValueField,
  EnvironmentVariable.countryCodeField,
] as const satisfies readonly EnvironmentVariableName[];

export function contractDefault(name: EnvironmentVariableName): string {
  return ENVIRONMENT_DEFAULTS[name] ?? "";
}

export const DEFAULT_FORM_SETTINGS: FormSettings = {
  dealValueColumn: contractDefault(EnvironmentVariable.dealValueField),
  countryCodeColumn: contractDefault(EnvironmentVariable.countryCodeField),
};

/** `$filter`/`$select`/`$expand` options for one query that returns every definition named. */
export function environmentVariableQuery(names: readonly EnvironmentVariableName[]): string {
  const filter = names.map((n) => `${T.schemaName} eq '${n}'`).join(" or ");
  return (
    `?$filter=${filter}` +
    `&$select=${T.schemaName},${T.defaultValue}` +
    `&$expand=${T.values}($select=${T.value})`
  );
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * The effective value of each named variable in the query result: current value, else the
 * definition's default, else the contract's default. Unknown or malformed rows are ignored.
 */
export function effectiveEnvironmentValues(
  records: readonly DataverseRecord[],
  names: readonly EnvironmentVariableName[],
): Map<EnvironmentVariableName, string> {
  const result = new Map<EnvironmentVariableName, string>();
  for (const name of names) {
    // Schema names are case-insensitive in Dataverse.
    const row = records.find((r) => typeof r[T.schemaName] === "string" && (r[T.schemaName] as string).toLowerCase() === name.toLowerCase());
    const values = row?.[T.values];
    const current = Array.isArray(values)
      ? values.map((v: unknown) => (typeof v === "object" && v !== null ? nonEmptyString((v as DataverseRecord)[T.value]) : undefined)).find((v) => v !== undefined)
      : undefined;
    result.set(name, current ?? nonEmptyString(row?.[T.defaultValue]) ?? contractDefault(name));
  }
  return result;
}

/** An environment variable holds something the form cannot use; an administrator must fix it. */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
  constructor(
    message: string,
    /** Words for the seller (and the administrator they will forward it to). */
    readonly reason: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** A logical column name: what the Web API accepts in `$select`, and nothing that could bend the query. */
const LOGICAL_NAME = /^[a-z][a-z0-9_]{0,99}$/;

function columnName(name: EnvironmentVariableName, value: string): string {
  const column = value.trim().toLowerCase();
  if (!LOGICAL_NAME.test(column)) {
    throw new SettingsError(
      `${name} holds "${value}", not a column logical name`,
      `the setting ${name} holds "${value}", which is not a column name`,
    );
  }
  return column;
}

export function parseFormSettings(values: ReadonlyMap<EnvironmentVariableName, string>): FormSettings {
  const dealValue = values.get(EnvironmentVariable.dealValueField) ?? DEFAULT_FORM_SETTINGS.dealValueColumn;
  const country = values.get(EnvironmentVariable.countryCodeField) ?? DEFAULT_FORM_SETTINGS.countryCodeColumn;
  return {
    dealValueColumn: columnName(EnvironmentVariable.dealValueField, dealValue),
    countryCodeColumn: columnName(EnvironmentVariable.countryCodeField, country),
  };
}

export async function loadFormSettings(reader: DataverseReader): Promise<FormSettings> {
  let records: readonly DataverseRecord[];
  try {
    records = await reader.retrieveMultipleRecords(T.definition, environmentVariableQuery(FORM_ENVIRONMENT_VARIABLES));
  } catch (cause) {
    const reason = cause instanceof DataverseReadError ? cause.reason : "the request to Dataverse failed";
    throw new SettingsError("reading the co-sell environment variables failed", reason, { cause });
  }
  return parseFormSettings(effectiveEnvironmentValues(records, FORM_ENVIRONMENT_VARIABLES));
}
