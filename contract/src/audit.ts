/**
 * The `cosell_audit` format (DESIGN §2): one entry a line, newest last,
 * `ISO-8601 UTC<TAB>direction<TAB>outcome<TAB>message`; oldest lines dropped past the column limit.
 * The bridge writes it, the PCF control reads it.
 */
import { AUDIT_MAX_LENGTH } from "./schema";

export const AUDIT_DIRECTIONS = ["PC→CRM", "CRM→PC"] as const;
export type AuditDirection = (typeof AUDIT_DIRECTIONS)[number];

export const AUDIT_OUTCOMES = ["ok", "skipped", "conflict", "error"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  /** ISO-8601 UTC, e.g. 2026-11-25T10:15:00.000Z */
  readonly at: string;
  readonly direction: AuditDirection;
  readonly outcome: AuditOutcome;
  readonly message: string;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$/;

function isDirection(s: string): s is AuditDirection {
  return (AUDIT_DIRECTIONS as readonly string[]).includes(s);
}
function isOutcome(s: string): s is AuditOutcome {
  return (AUDIT_OUTCOMES as readonly string[]).includes(s);
}

/** Tabs and line breaks would break the line format; they become single spaces. */
function flatten(message: string): string {
  return message.replace(/[\t\r\n]+/g, " ").trim();
}

export function formatAuditEntry(entry: AuditEntry): string {
  if (!ISO_UTC.test(entry.at)) throw new RangeError(`audit time must be ISO-8601 UTC: ${entry.at}`);
  return [entry.at, entry.direction, entry.outcome, flatten(entry.message)].join("\t");
}

/** Parses one line; returns undefined for a line that is not an audit entry (kept as-is elsewhere). */
export function parseAuditLine(line: string): AuditEntry | undefined {
  const parts = line.split("\t");
  if (parts.length < 4) return undefined;
  const [at, direction, outcome, ...rest] = parts as [string, string, string, ...string[]];
  if (!ISO_UTC.test(at) || !isDirection(direction) || !isOutcome(outcome)) return undefined;
  return { at, direction, outcome, message: rest.join(" ") };
}

/** Every well-formed entry of an audit column, oldest first (the stored order). */
export function parseAudit(text: string | null | undefined): AuditEntry[] {
  if (!text) return [];
  const entries: AuditEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const entry = parseAuditLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

/**
 * Appends entries to an audit column value and drops the oldest lines until it fits `maxLength`.
 * A single entry longer than the limit is truncated rather than lost.
 */
export function appendAudit(
  existing: string | null | undefined,
  entries: readonly AuditEntry[],
  maxLength: number = AUDIT_MAX_LENGTH,
): string {
  const lines = existing ? existing.split(/\r?\n/).filter((l) => l.length > 0) : [];
  for (const e of entries) lines.push(formatAuditEntry(e));
  let total = lines.reduce((n, l) => n + l.length, 0) + Math.max(0, lines.length - 1);
  while (total > maxLength && lines.length > 1) {
    const dropped = lines.shift() as string;
    total -= dropped.length + 1;
  }
  const out = lines.join("\n");
  return out.length > maxLength ? out.slice(0, maxLength) : out;
}
