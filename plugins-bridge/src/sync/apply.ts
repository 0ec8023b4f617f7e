/**
 * Applying a merge result to in-memory copies of both sides: what each side will hold once the
 * caller's writes succeed. Used by `mapping test` (dry run) and by the tests that check the merge
 * leaves both sides agreeing.
 */
import type { CrmRecordSet, DataverseRow, DataverseValues } from "../dataverse/model";
import { isDataverseLookup, SystemColumn } from "../dataverse/model";
import { applyOps } from "../mapping/pointer";
import type { JsonPatchOp, Referral } from "../partner-center/model";
import type { DataverseWrites } from "./merge";

export function applyToReferral(referral: Referral, ops: readonly JsonPatchOp[]): Referral {
  return applyOps(referral, ops);
}

function applyRow(row: DataverseRow | null | undefined, values: DataverseValues): DataverseRow | null | undefined {
  const plain = Object.entries(values).filter(([, v]) => !isDataverseLookup(v));
  if (plain.length === 0) return row;
  return { ...(row ?? {}), ...Object.fromEntries(plain) };
}

/**
 * Lookups are applied as the caller would resolve them: the currency row becomes the one with that
 * ISO code, the owner the user with that e-mail (ids are placeholders).
 */
export function applyToRecordSet(crm: CrmRecordSet, writes: DataverseWrites): CrmRecordSet {
  let currency = crm.currency;
  let owner = crm.owner;
  for (const value of Object.values(writes.record)) {
    if (!isDataverseLookup(value)) continue;
    const { table, matchValue } = value.lookup;
    if (table === "transactioncurrency") {
      currency = { [SystemColumn.transactioncurrency.id]: `resolved:${matchValue}`, [SystemColumn.transactioncurrency.isoCode]: matchValue };
    } else {
      owner = owner && owner[SystemColumn.systemuser.email] === matchValue ? owner : { [SystemColumn.systemuser.id]: `resolved:${matchValue}`, [SystemColumn.systemuser.email]: matchValue };
    }
  }
  return {
    ...crm,
    record: applyRow(crm.record, writes.record) ?? {},
    account: Object.keys(writes.account).length > 0 ? applyRow(crm.account, writes.account) : crm.account,
    contact: Object.keys(writes.contact).length > 0 ? applyRow(crm.contact, writes.contact) : crm.contact,
    currency,
    owner,
  };
}
