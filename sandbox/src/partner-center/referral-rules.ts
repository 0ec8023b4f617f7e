/**
 * Referral rules from the spec, as pure functions (specs/partner-center-api.md §2.2, §2.5, §2.8).
 * Each failure is a 400 whose description names the field and says what is allowed.
 */
import { badRequest, PartnerCenterError } from "./errors";
import type { Referral, ReferralStatus, ReferralSubstatus } from "./referral-shape";

/** §2.8: from a status, the statuses it may move to. */
export const STATUS_TRANSITIONS: Readonly<Record<ReferralStatus, readonly ReferralStatus[]>> = {
  None: [],
  New: ["New", "Active", "Closed"],
  Active: ["Active", "Closed"],
  Closed: ["Closed"],
};

/** §2.8: substatuses allowed with each status. */
export const ALLOWED_SUBSTATUS: Readonly<Record<ReferralStatus, readonly ReferralSubstatus[]>> = {
  None: [],
  New: ["Pending", "Received"],
  Active: ["Accepted"],
  Closed: ["Won", "Lost", "Declined", "Expired"],
};

const DEFAULT_SUBSTATUS: Partial<Record<ReferralStatus, ReferralSubstatus>> = { New: "Pending", Active: "Accepted" };

/** Closed referrals (Won, Lost, Declined, Expired) are read-only (§2.8, FAQ). */
export function isTerminal(r: Pick<Referral, "status">): boolean {
  return r.status === "Closed";
}

export function checkPair(status: ReferralStatus, substatus: ReferralSubstatus): void {
  if (!ALLOWED_SUBSTATUS[status].includes(substatus))
    throw badRequest(
      `substatus '${substatus}' is not allowed with status '${status}'; allowed: ${ALLOWED_SUBSTATUS[status].join(", ") || "none (status cannot be set)"}.`,
    );
}

/**
 * The status a new referral starts in. Absent status and substatus: Active/Accepted, as the CR
 * sample came back. A status alone takes its usual substatus; a substatus alone its status.
 * A referral cannot be born Closed.
 */
export function initialStatus(
  status: ReferralStatus | null | undefined,
  substatus: ReferralSubstatus | null | undefined,
  fallback: { status: ReferralStatus; substatus: ReferralSubstatus },
): { status: ReferralStatus; substatus: ReferralSubstatus } {
  let s = status ?? null;
  let sub = substatus ?? null;
  if (s === null && sub === null) return fallback;
  if (s === null) s = (Object.keys(ALLOWED_SUBSTATUS) as ReferralStatus[]).find((k) => ALLOWED_SUBSTATUS[k].includes(sub as ReferralSubstatus)) ?? "None";
  if (s === "None") throw badRequest("status 'None' cannot be set; use New or Active.");
  if (s === "Closed") throw badRequest("A referral cannot be created with status 'Closed'; create it New or Active, then close it.");
  if (sub === null) sub = DEFAULT_SUBSTATUS[s] ?? "None";
  checkPair(s, sub);
  return { status: s, substatus: sub };
}

export function terminalError(r: Pick<Referral, "status" | "substatus">): PartnerCenterError {
  return badRequest(`The referral is ${r.status}/${r.substatus}, a terminal state, and can no longer be changed.`);
}

/** Checks a change from `before` to `after` (whatever made it: PATCH, PUT, a Microsoft seller). */
export function checkChange(before: Referral, after: Referral): void {
  if (isTerminal(before)) throw terminalError(before);
  if (after.status !== before.status && !STATUS_TRANSITIONS[before.status].includes(after.status))
    throw badRequest(
      `status cannot change from '${before.status}' to '${after.status}'; allowed: ${STATUS_TRANSITIONS[before.status].join(", ")}.`,
    );
  checkPair(after.status, after.substatus);
  if (before.consent.consentToShareReferralWithMicrosoftSellers === true && after.consent.consentToShareReferralWithMicrosoftSellers !== true)
    throw badRequest("consent.consentToShareReferralWithMicrosoftSellers cannot go back to false once the referral is shared with Microsoft sellers.");
  if (before.type === "Shared" && after.type !== "Shared")
    throw badRequest("type cannot change from 'Shared' back to 'Independent'.");
  checkContent(after);
}

/** What every referral must hold, at creation and after every change. */
export function checkContent(r: Referral): void {
  if (r.type === null) throw badRequest("type is required (Independent or Shared).");
  if (!r.customerProfile.name || r.customerProfile.name.trim() === "") throw badRequest("customerProfile.name is required.");
  const country = r.customerProfile.address.country;
  if (!country || !/^[A-Za-z]{2}$/.test(country))
    throw badRequest("customerProfile.address.country is required as an ISO 3166 alpha-2 code (e.g. 'US').");
  if (r.details.dealValue !== null && r.details.dealValue < 0) throw badRequest("details.dealValue cannot be negative.");
  if (r.details.currency !== null && !/^[A-Za-z]{3}$/.test(r.details.currency))
    throw badRequest("details.currency must be an ISO 4217 code (e.g. 'USD').");
  if (r.name !== null && r.name.length > 256) throw badRequest("name is longer than 256 characters.");
  if (r.statusReason !== null && r.statusReason.length > 1024) throw badRequest("statusReason is longer than 1024 characters.");
}

/**
 * Co-sell prerequisites for a partner's own referral (connector troubleshooting, CT): sharing with
 * Microsoft sellers needs a solution; asking Microsoft for help needs a customer contact and sharing.
 */
export function checkCoSellPrerequisites(r: Referral): void {
  const shared = r.consent.consentToShareReferralWithMicrosoftSellers === true;
  const help = r.inviteContext.assistanceRequestCode !== null && r.inviteContext.assistanceRequestCode !== "Unknown";
  const hasSolution =
    r.details.requirements.solutions.some((s) => typeof s.id === "string" && s.id !== "") ||
    r.target.some((t) => t.type === "SolutionProfile" && typeof t.id === "string" && t.id !== "");
  if (help && !shared)
    throw badRequest("inviteContext.assistanceRequestCode asks Microsoft for help, which needs consent.consentToShareReferralWithMicrosoftSellers = true.");
  // The connected referral that invites Microsoft (target BusinessProfileLocation 'msft', CR) carries no solution.
  const invitesOrganization = r.target.some((t) => t.type === "BusinessProfileLocation");
  if (shared && !hasSolution && !invitesOrganization)
    throw badRequest("A referral shared with Microsoft sellers needs a solution: details.requirements.solutions[] or a SolutionProfile target.");
  if (help && r.customerProfile.team.length === 0)
    throw badRequest("Asking Microsoft for help needs a customer contact in customerProfile.team.");
}
