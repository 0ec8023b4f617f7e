/**
 * The Partner Center side of a sync, over the Referrals API client: a referral read and validated
 * with the sync model, Microsoft's related referral on the same engagement, and the "look before
 * you create" query by externalReferenceId.
 */
import { z } from "zod";
import { odataString, type JsonPatchOperation, type PartnerCenterClient } from "../partner-center/client";
import { MICROSOFT_ORGANIZATION_ID, ReferralSchema, type Referral } from "../partner-center/model";
import { NotFoundError, ValidationError } from "../http/errors";
import { pickMicrosoftReferral, type PartnerCenterSide } from "../sync";

function parse(json: unknown, what: string): Referral {
  const r = ReferralSchema.safeParse(json);
  if (!r.success)
    throw new ValidationError(`Partner Center ${what}: the referral is not readable (${z.prettifyError(r.error).split("\n")[0] ?? ""})`, {
      service: "partner-center",
      method: "GET",
      path: "/v1.0/engagements/referrals",
      cause: r.error,
    });
  return r.data;
}

/** Microsoft's own referral on an engagement (its connected referral), not the partner's. */
export function isMicrosoftReferral(r: Pick<Referral, "organizationId">): boolean {
  return r.organizationId?.trim().toLowerCase() === MICROSOFT_ORGANIZATION_ID;
}

/** Whether Microsoft may hold a related referral: only shared (co-sell) referrals have one. */
function mayHaveMicrosoftSide(r: Referral): boolean {
  return r.type?.toLowerCase() === "shared" || r.consent?.consentToShareReferralWithMicrosoftSellers === true;
}

export class PartnerCenterGateway {
  private readonly primed = new Map<string, { referral: Referral; until: number }>();
  private readonly primedEngagements = new Map<string, { referrals: Referral[]; until: number }>();

  constructor(readonly client: PartnerCenterClient) {}

  /**
   * Referrals just read in full (a backfill's listing): the next read of each, within `ttlMs`, is
   * served from here instead of one GET per referral. Engagements are primed from the same list.
   */
  prime(referrals: readonly Referral[], ttlMs = 120_000): void {
    const until = Date.now() + ttlMs;
    for (const r of referrals) {
      this.primed.set(r.id.toLowerCase(), { referral: r, until });
      if (!r.engagementId) continue;
      const e = this.primedEngagements.get(r.engagementId) ?? { referrals: [], until };
      e.referrals = [...e.referrals.filter((x) => x.id !== r.id), r];
      e.until = until;
      this.primedEngagements.set(r.engagementId, e);
    }
  }

  clearPrimed(): void {
    this.primed.clear();
    this.primedEngagements.clear();
  }

  async read(id: string, correlationId?: string): Promise<Referral | undefined> {
    const hit = this.primed.get(id.toLowerCase());
    if (hit) {
      this.primed.delete(id.toLowerCase());
      if (hit.until > Date.now()) return hit.referral;
    }
    try {
      return parse(await this.client.getReferral(id, correlationId), "GET referral");
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Every referral of an engagement (ours and Microsoft's). */
  async engagement(engagementId: string, correlationId?: string): Promise<Referral[]> {
    const hit = this.primedEngagements.get(engagementId);
    if (hit) {
      this.primedEngagements.delete(engagementId);
      if (hit.until > Date.now()) return hit.referrals;
    }
    const out: Referral[] = [];
    for await (const page of this.client.listReferrals({ filter: `engagementId eq ${odataString(engagementId)}` }, correlationId))
      for (const r of page) out.push(parse(r, "list referrals"));
    return out;
  }

  /** Our referral with Microsoft's side of the engagement, when it may have one. */
  async side(referral: Referral, correlationId?: string): Promise<PartnerCenterSide> {
    if (!referral.engagementId || !mayHaveMicrosoftSide(referral)) return { referral, microsoft: null };
    const related = await this.engagement(referral.engagementId, correlationId);
    return { referral, microsoft: pickMicrosoftReferral(referral, related) ?? null };
  }

  /** The partner's referral on the engagement of a Microsoft referral. */
  async partnerReferralOf(microsoft: Referral, correlationId?: string): Promise<Referral | undefined> {
    if (!microsoft.engagementId) return undefined;
    const related = await this.engagement(microsoft.engagementId, correlationId);
    return related.find((r) => r.id !== microsoft.id && !isMicrosoftReferral(r));
  }

  /** A referral already created for this Dynamics record (a previous attempt may have got that far). */
  async findByExternalReference(recordId: string, correlationId?: string): Promise<Referral | undefined> {
    for await (const page of this.client.listReferrals({ filter: `externalReferenceId eq ${odataString(recordId)}` }, correlationId)) {
      for (const r of page) {
        const referral = parse(r, "list referrals");
        if (!isMicrosoftReferral(referral)) return referral;
      }
    }
    return undefined;
  }

  async create(body: Record<string, unknown>, correlationId?: string): Promise<Referral> {
    return parse(await this.client.createReferral(body, correlationId), "create referral");
  }

  /** JSON Patch with If-Match; the referral as Partner Center now holds it (read again when it answered 204). */
  async patch(referral: Referral, ops: readonly JsonPatchOperation[], correlationId?: string): Promise<Referral> {
    const after = await this.client.patchReferral(referral.id, ops, { ifMatch: referral.eTag ?? undefined, correlationId });
    if (after) return parse(after, "update referral");
    const read = await this.read(referral.id, correlationId);
    if (!read) throw new NotFoundError(`referral ${referral.id} vanished after an update`, { service: "partner-center", method: "GET", path: "/v1.0/engagements/referrals" });
    return read;
  }
}
