/**
 * Job keys: one canonical key per link, so that every piece of work on one referral ↔ record pair
 * runs in order, one at a time (the store serializes jobs by key).
 *
 *   opportunity:<id> / lead:<id>   once the Dynamics record is known (the link's own key; a lead's
 *                                  key stays when qualification moves the link to an opportunity)
 *   referral:<id>                  only until the referral has a record (a new referral, or a
 *                                  related referral of Microsoft's whose partner referral is unknown)
 *
 * Intake resolves a webhook to the link's key through the store; a job re-resolves its key when it
 * starts and forwards the work when the canonical key turned out to be another one.
 */
export type RecordKind = "opportunity" | "lead";
export type KeyKind = RecordKind | "referral";

export interface ParsedKey {
  readonly kind: KeyKind;
  readonly id: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === "string" && GUID.test(value);
}

export function recordKey(kind: RecordKind, id: string): string {
  return `${kind}:${id.toLowerCase()}`;
}

export function referralKey(id: string): string {
  return `referral:${id}`;
}

export function parseKey(key: string): ParsedKey | undefined {
  const i = key.indexOf(":");
  if (i <= 0) return undefined;
  const kind = key.slice(0, i);
  const id = key.slice(i + 1);
  if (id === "") return undefined;
  if (kind === "opportunity" || kind === "lead") return isGuid(id) ? { kind, id: id.toLowerCase() } : undefined;
  if (kind === "referral") return { kind, id };
  return undefined;
}
