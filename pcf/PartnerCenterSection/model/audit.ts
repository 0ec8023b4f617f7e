/** The audit column as a timeline: newest first, filterable by direction and outcome. */
import { parseAudit, type AuditDirection, type AuditEntry, type AuditOutcome } from "@cosell/contract";

export type DirectionFilter = "all" | AuditDirection;
export type OutcomeFilter = "all" | AuditOutcome;

export interface AuditFilter {
  readonly direction: DirectionFilter;
  readonly outcome: OutcomeFilter;
}

export const NO_AUDIT_FILTER: AuditFilter = { direction: "all", outcome: "all" };

export interface TimelineEntry extends AuditEntry {
  /** Stable React key: the entry's position in the stored (oldest-first) order. */
  readonly key: string;
}

/**
 * Entries newest first. The bridge appends, so the stored order is already chronological; sorting
 * by time as well keeps the order right if two writers' clocks disagree (ties keep stored order).
 */
export function auditTimeline(auditText: string | null): TimelineEntry[] {
  return parseAudit(auditText)
    .map((entry, index) => ({ ...entry, key: String(index), index }))
    .sort((a, b) => (a.at === b.at ? b.index - a.index : Date.parse(b.at) - Date.parse(a.at)))
    .map(({ index: _index, ...entry }) => entry);
}

export function filterTimeline(entries: readonly TimelineEntry[], filter: AuditFilter): TimelineEntry[] {
  return entries.filter(
    (e) =>
      (filter.direction === "all" || e.direction === filter.direction) &&
      (filter.outcome === "all" || e.outcome === filter.outcome),
  );
}

export function countOutcomes(entries: readonly AuditEntry[]): Record<AuditOutcome, number> {
  const counts: Record<AuditOutcome, number> = { ok: 0, skipped: 0, conflict: 0, error: 0 };
  for (const e of entries) counts[e.outcome] += 1;
  return counts;
}
