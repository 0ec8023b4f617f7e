/**
 * The columns the bridge keeps on a linked record after each sync: sync state, last synced on,
 * sync error, audit trail, and the ✔/✖ name suffix (`cosell_Checkmark`). The suffix is never part
 * of a compared or sent value (the name field's transform strips it); only this writes it.
 */
import {
  type AuditEntry,
  appendAudit,
  OpportunityColumn,
  stripCheckmark,
  SyncState,
  type SyncStateValue,
  withCheckmark,
} from "@cosell/contract";
import { type CrmRecordSet, type DataverseValues, SystemColumn } from "../dataverse/model";
import type { CoSellSettings } from "../mapping/settings";

/**
 * The name to write so the suffix matches `state`, or undefined when the current name already
 * does. Opportunities only: the suffix is an opportunity-name convention (DESIGN §2).
 */
export function checkmarkedName(
  crm: Pick<CrmRecordSet, "kind" | "record">,
  state: SyncStateValue,
  settings: Pick<CoSellSettings, "checkmark">,
): string | undefined {
  if (crm.kind !== "opportunity") return undefined;
  const current = crm.record[SystemColumn.opportunity.name];
  if (typeof current !== "string" || stripCheckmark(current).trim() === "") return undefined;
  const wanted = withCheckmark(current, state, settings.checkmark);
  return wanted === current ? undefined : wanted;
}

export interface SyncOutcome {
  readonly state: SyncStateValue;
  /** Seller-facing error text for `cosell_syncerror`; cleared when the state is not Error. */
  readonly error?: string;
  readonly audit: readonly AuditEntry[];
  readonly now: Date;
}

const SYNC_ERROR_MAX = 2000;

/**
 * Column values recording a sync's outcome on the linked opportunity or lead (the lead columns
 * have the same names, DESIGN §2). `cosell_lastsyncedon` moves only on success.
 */
export function syncBookkeeping(
  crm: Pick<CrmRecordSet, "kind" | "record">,
  outcome: SyncOutcome,
  settings: Pick<CoSellSettings, "checkmark">,
): DataverseValues {
  const values: DataverseValues = { [OpportunityColumn.syncState]: outcome.state };
  if (outcome.state === SyncState.Synced) values[OpportunityColumn.lastSyncedOn] = outcome.now.toISOString();
  const error = outcome.state === SyncState.Error ? (outcome.error ?? "") : "";
  const clipped = error.length > SYNC_ERROR_MAX ? `${error.slice(0, SYNC_ERROR_MAX - 1)}…` : error;
  const currentError = crm.record[OpportunityColumn.syncError];
  if ((clipped || null) !== (typeof currentError === "string" && currentError ? currentError : null)) {
    values[OpportunityColumn.syncError] = clipped || null;
  }
  if (outcome.audit.length > 0) {
    const existing = crm.record[OpportunityColumn.audit];
    values[OpportunityColumn.audit] = appendAudit(typeof existing === "string" ? existing : null, outcome.audit);
  }
  const name = checkmarkedName(crm, outcome.state, settings);
  if (name !== undefined) values[SystemColumn.opportunity.name] = name;
  return values;
}
