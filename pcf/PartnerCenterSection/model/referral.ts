/**
 * What a referral's Partner Center status means for the form. Status and substatus are stored as
 * Partner Center sends them (specs/partner-center-api.md §2.7–2.8); compared case-insensitively.
 */
import type { AuditEntry } from "@cosell/contract";

const CLOSED = "closed";
const NEW = "new";
/** No edits after these (Partner Center FAQ): the referral is read-only there. */
const TERMINAL_SUBSTATUSES: ReadonlySet<string> = new Set(["won", "lost", "declined", "expired"]);
/** New referrals that nobody has accepted or declined yet. */
const AWAITING_SUBSTATUSES: ReadonlySet<string> = new Set(["pending", "received"]);

const norm = (s: string | null | undefined): string => (s ?? "").trim().toLowerCase();

export function isTerminalReferral(status: string | null, substatus: string | null): boolean {
  return norm(status) === CLOSED || TERMINAL_SUBSTATUSES.has(norm(substatus));
}

/**
 * An incoming referral the partner has not answered yet: status New with substatus Pending or
 * Received. Referrals the partner creates come back Active/Accepted, so New means incoming; the
 * contract has no direction column, so as a guard a record whose first audit entry went CRM→PC
 * (we created the referral) is never treated as incoming.
 */
export function isAwaitingResponse(
  referralId: string | null,
  status: string | null,
  substatus: string | null,
  auditOldestFirst: readonly AuditEntry[],
): boolean {
  if (!referralId || !referralId.trim()) return false;
  if (norm(status) !== NEW || !AWAITING_SUBSTATUSES.has(norm(substatus))) return false;
  const first = auditOldestFirst[0];
  return !first || first.direction === "PC→CRM";
}

/** The referral link, only if it is an http(s) URL: it is rendered as a link the seller clicks. */
export function safeReferralLink(link: string | null): string | null {
  if (!link) return null;
  try {
    const url = new URL(link.trim());
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}
