/**
 * Microsoft's side of a shared engagement (flow 4): the related referral Microsoft holds on the same
 * engagement. Its status, sellers and notes have no Dynamics column of their own; the bridge tells
 * the seller about changes in the audit, and the mapping may read fields of it through
 * `@microsoft/…` paths (the Microsoft CRM id by default).
 */
import type { AuditEntry } from "@cosell/contract";
import {
  knownStatus,
  knownSubstatus,
  MICROSOFT_ORGANIZATION_ID,
  type Referral,
} from "../partner-center/model";
import type { JsonValue } from "../mapping/json";

function isMicrosoftTarget(target: { type?: string | null; id?: string | null } | null | undefined): boolean {
  return (
    target?.type?.toLowerCase() === "businessprofilelocation" && target.id?.toLowerCase() === MICROSOFT_ORGANIZATION_ID
  );
}

/**
 * Picks Microsoft's referral among the referrals of our referral's engagement
 * (`$filter=engagementId eq '…'`, §2.2). Microsoft's connected referral targets the Microsoft
 * business profile location `msft` (§2.2 step 2) or is owned by the `msft` organization; when
 * neither marks one, a single other referral on the engagement is taken as Microsoft's.
 */
export function pickMicrosoftReferral(own: Referral, related: readonly Referral[]): Referral | undefined {
  const others = related.filter(
    (r) => r.id !== own.id && (!own.engagementId || !r.engagementId || r.engagementId === own.engagementId),
  );
  const marked = others.find(
    (r) => r.target?.some(isMicrosoftTarget) || r.organizationId?.toLowerCase() === MICROSOFT_ORGANIZATION_ID,
  );
  if (marked) return marked;
  return others.length === 1 ? others[0] : undefined;
}

export const MICROSOFT_KEYS = {
  status: "$microsoft.status",
  team: "$microsoft.team",
  notes: "$microsoft.notes",
} as const;

function describeMember(m: { firstName?: string | null; lastName?: string | null; email?: string | null }): string {
  const name = [m.firstName, m.lastName].filter((s) => s && s.trim()).join(" ");
  const email = m.email?.trim();
  return name && email ? `${name} <${email}>` : name || email || "";
}

/** What the bridge tracks of Microsoft's referral, as base-snapshot entries. */
export function microsoftSnapshot(microsoft: Referral): Record<string, JsonValue> {
  const team = (microsoft.team ?? []).map(describeMember).filter((s) => s !== "");
  const notes = microsoft.inviteContext?.notes?.trim() || microsoft.details?.notes?.trim() || null;
  return {
    [MICROSOFT_KEYS.status]: `${microsoft.status ?? ""}/${microsoft.substatus ?? ""}`,
    [MICROSOFT_KEYS.team]: team.length > 0 ? team.join(", ") : null,
    [MICROSOFT_KEYS.notes]: notes,
  };
}

function clip(text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function statusMessage(microsoft: Referral): string {
  const status = knownStatus(microsoft.status);
  const sub = knownSubstatus(microsoft.substatus);
  if (status === "Active" && sub === "Accepted") return "Microsoft accepted the co-sell request.";
  if (status === "Closed" && sub === "Declined") return "Microsoft declined the co-sell request.";
  if (status === "Closed" && sub === "Expired") return "Microsoft did not answer the co-sell request in time; it expired.";
  if (status === "Closed" && (sub === "Won" || sub === "Lost")) return `Microsoft closed its side of the deal as ${sub.toLowerCase()}.`;
  return `Microsoft's side of the co-sell is now ${microsoft.status ?? "without status"}/${microsoft.substatus ?? "without substatus"}.`;
}

/** Audit lines for what changed on Microsoft's side since the base. */
export function microsoftActivity(
  base: Readonly<Record<string, JsonValue>> | undefined,
  microsoft: Referral,
  at: string,
): { entries: AuditEntry[]; snapshot: Record<string, JsonValue> } {
  const snapshot = microsoftSnapshot(microsoft);
  const entries: AuditEntry[] = [];
  const changed = (key: string) => base?.[key] !== snapshot[key];
  if (changed(MICROSOFT_KEYS.status)) {
    entries.push({ at, direction: "PC→CRM", outcome: "ok", message: statusMessage(microsoft) });
  }
  const team = snapshot[MICROSOFT_KEYS.team];
  if (changed(MICROSOFT_KEYS.team) && typeof team === "string") {
    entries.push({ at, direction: "PC→CRM", outcome: "ok", message: clip(`Microsoft sellers on this deal: ${team}.`) });
  }
  const notes = snapshot[MICROSOFT_KEYS.notes];
  if (changed(MICROSOFT_KEYS.notes) && typeof notes === "string") {
    entries.push({ at, direction: "PC→CRM", outcome: "ok", message: clip(`Microsoft's notes: ${notes}`) });
  }
  return { entries, snapshot };
}
