/**
 * What a referral is, by Partner Center's own rule (specs/partner-center-api.md §2.9, INTRO):
 *
 * | type                 | qualification                       | invitedBy.organizationId  | category            |
 * | Independent          | Direct                              | msft or null              | Marketplace lead    |
 * | Independent          | SalesQualified / MarketingQualified | msft                      | Qualified lead      |
 * | Independent / Shared | SalesQualified / None               | a partner's organization  | Co-sell opportunity |
 *
 * ReferralSource / CallToAction are deliberately not used (INTRO: not identification filters).
 */
import { knownQualification, knownType, MICROSOFT_ORGANIZATION_ID, type Referral } from "../partner-center/model";

export type ReferralCategory = "co-sell-opportunity" | "marketplace-lead" | "qualified-lead";

/**
 * Anything the table does not name (an unknown type or qualification, a Direct referral invited by
 * a partner, MarketingQualified from a partner…) is read as a co-sell opportunity. That is the safe
 * side: a co-sell opportunity taken for a lead would be dropped when `cosell_SyncCoSellOnly` is yes,
 * and a dropped co-sell deal expires unanswered after 14 days with Microsoft waiting; a lead taken
 * for an opportunity costs a seller one look and a decline.
 */
export function categorize(referral: Pick<Referral, "type" | "qualification" | "inviteContext">): ReferralCategory {
  const type = knownType(referral.type);
  const qualification = knownQualification(referral.qualification);
  const invitedBy = referral.inviteContext?.invitedBy?.organizationId?.trim().toLowerCase() || null;
  const byMicrosoft = invitedBy === MICROSOFT_ORGANIZATION_ID;

  // Only co-sell referrals are shared between two parties.
  if (type !== "Independent") return "co-sell-opportunity";
  if (qualification === "Direct" && (invitedBy === null || byMicrosoft)) return "marketplace-lead";
  if ((qualification === "SalesQualified" || qualification === "MarketingQualified") && byMicrosoft) {
    return "qualified-lead";
  }
  return "co-sell-opportunity";
}

/** The Dynamics table a referral of this category lands in. */
export function recordKindFor(category: ReferralCategory): "opportunity" | "lead" {
  return category === "co-sell-opportunity" ? "opportunity" : "lead";
}
