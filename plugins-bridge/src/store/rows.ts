/** Table rows → domain values. Rows are checked, not trusted: a bad row is a loud StoreError. */
import { AUDIT_DIRECTIONS, AUDIT_OUTCOMES, type AuditDirection, type AuditOutcome } from "@cosell/contract";
import { StoreError } from "./errors";
import type { Row } from "./engine";
import type { Dialect } from "./migrations";
import type { EventSource, Job, JobState, JsonValue, Link, LinkEntity, StoredEvent, SyncRecord } from "./types";

export function num(row: Row, column: string): number {
  const v = row[column];
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  if (typeof v === "bigint") return Number(v);
  throw new StoreError(`column ${column}: expected a number, got ${v === null ? "null" : typeof v}`);
}

export function numOrNull(row: Row, column: string): number | null {
  return row[column] === null || row[column] === undefined ? null : num(row, column);
}

export function str(row: Row, column: string): string {
  const v = row[column];
  if (typeof v === "string") return v;
  throw new StoreError(`column ${column}: expected text, got ${v === null ? "null" : typeof v}`);
}

export function strOrNull(row: Row, column: string): string | null {
  return row[column] === null || row[column] === undefined ? null : str(row, column);
}

function oneOf<T extends string>(row: Row, column: string, allowed: readonly T[]): T {
  const v = str(row, column);
  if (!(allowed as readonly string[]).includes(v)) throw new StoreError(`column ${column}: unexpected value ${v}`);
  return v as T;
}

function date(row: Row, column: string): Date {
  return new Date(num(row, column));
}

function dateOrNull(row: Row, column: string): Date | null {
  const ms = numOrNull(row, column);
  return ms === null ? null : new Date(ms);
}

/** JSON for a parameter. SQLite stores the text; PostgreSQL casts it to jsonb. */
export function encodeJson(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not JSON-serializable`);
  return text;
}

/** pg already parses jsonb; SQLite gives the text back. */
export function decodeJson(dialect: Dialect, row: Row, column: string): JsonValue {
  const v = row[column];
  if (dialect === "postgres") return v as JsonValue;
  try {
    return JSON.parse(str(row, column)) as JsonValue;
  } catch (err) {
    throw new StoreError(`column ${column}: not JSON`, { cause: err });
  }
}

const JOB_STATES: readonly JobState[] = ["queued", "running", "dead"];
const SOURCES: readonly EventSource[] = ["partner-center", "dataverse"];
const ENTITIES: readonly LinkEntity[] = ["opportunity", "lead"];

export function toJob(dialect: Dialect, row: Row): Job {
  return {
    id: num(row, "id"),
    linkKey: str(row, "link_key"),
    kind: str(row, "kind"),
    payload: decodeJson(dialect, row, "payload"),
    state: oneOf(row, "state", JOB_STATES),
    runAt: date(row, "run_at"),
    attempts: num(row, "attempts"),
    coalesced: num(row, "coalesced"),
    lockedBy: strOrNull(row, "locked_by"),
    lockedUntil: dateOrNull(row, "locked_until"),
    lastError: strOrNull(row, "last_error"),
    createdAt: date(row, "created_at"),
    updatedAt: date(row, "updated_at"),
  };
}

export function toEvent(dialect: Dialect, row: Row): StoredEvent {
  return {
    id: num(row, "id"),
    source: oneOf(row, "source", SOURCES),
    dedupeKey: str(row, "dedupe_key"),
    linkKey: str(row, "link_key"),
    receivedAt: date(row, "received_at"),
    payload: decodeJson(dialect, row, "payload"),
  };
}

export function toLink(dialect: Dialect, row: Row): Link {
  return {
    key: str(row, "key"),
    referralId: str(row, "referral_id"),
    engagementId: strOrNull(row, "engagement_id"),
    entity: oneOf(row, "entity", ENTITIES),
    recordId: str(row, "record_id"),
    base: decodeJson(dialect, row, "base"),
    pcETag: strOrNull(row, "pc_etag"),
    crmETag: strOrNull(row, "crm_etag"),
    lastSyncedAt: dateOrNull(row, "last_synced_at"),
    state: str(row, "state"),
    version: num(row, "version"),
    createdAt: date(row, "created_at"),
    updatedAt: date(row, "updated_at"),
  };
}

export function toSyncRecord(row: Row): SyncRecord {
  return {
    id: num(row, "id"),
    linkKey: str(row, "link_key"),
    direction: oneOf<AuditDirection>(row, "direction", AUDIT_DIRECTIONS),
    outcome: oneOf<AuditOutcome>(row, "outcome", AUDIT_OUTCOMES),
    message: str(row, "message"),
    correlationId: strOrNull(row, "correlation_id"),
    at: date(row, "at"),
  };
}
