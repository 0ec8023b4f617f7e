/** Whether the customer account carries the ISO country code Partner Center requires. */
import { Table, isCountryCode } from "@cosell/contract";
import type { DataverseReader } from "./dataverse";
import { DataverseReadError } from "./dataverse";

/** What the form knows about the customer account's country code. */
export type AccountCountry =
  | { readonly state: "checking" }
  | { readonly state: "valid"; readonly code: string }
  /** `found` is what the column holds (null when empty), shown to the seller. */
  | { readonly state: "invalid"; readonly found: string | null }
  | { readonly state: "failed"; readonly reason: string };

/** Reads the account's country column; never rejects: a failed read is a `failed` result. */
export async function checkAccountCountry(
  reader: DataverseReader,
  accountId: string,
  countryCodeColumn: string,
): Promise<AccountCountry> {
  try {
    const account = await reader.retrieveRecord(Table.account.logicalName, accountId, `?$select=${countryCodeColumn}`);
    const value = account[countryCodeColumn];
    if (typeof value === "string" && isCountryCode(value)) return { state: "valid", code: value.trim().toUpperCase() };
    if (value === null || value === undefined || (typeof value === "string" && value.trim() === "")) {
      return { state: "invalid", found: null };
    }
    return { state: "invalid", found: String(value) };
  } catch (error) {
    return { state: "failed", reason: error instanceof DataverseReadError ? error.reason : "the request to Dataverse failed" };
  }
}
