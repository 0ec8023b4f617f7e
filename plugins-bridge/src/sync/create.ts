/**
 * Creates in either direction: the POST body of a new referral from an opportunity (flow 2), and
 * the Dynamics rows a new referral becomes (flow 3). Both are driven by the mapping's `create`
 * fields; what the mapping cannot express (type, consent, externalReferenceId) is decided here,
 * with the reading of each undocumented API fact written beside it.
 */
import { OpportunityColumn } from "@cosell/contract";
import { type CrmRecordSet, type DataverseValues, SystemColumn } from "../dataverse/model";
import { type FieldMapping, fieldsForLink, type Mapping } from "../mapping/load";
import type { JsonValue } from "../mapping/json";
import { applyOps } from "../mapping/pointer";
import { transformFor } from "../mapping/transforms";
import type { ReferralCreate } from "../partner-center/model";
import { categorize, recordKindFor, type ReferralCategory } from "./categorize";
import { type PartnerCenterSide, readDataverse, readPartnerCenter } from "./snapshot";

export interface CreateOmission {
  readonly field: string;
  readonly label: string;
  readonly reason: string;
}

export interface ReferralCreatePlan {
  readonly body: ReferralCreate;
  /** Mapped values that could not be put in the body (and why); validation catches required ones. */
  readonly omitted: readonly CreateOmission[];
}

function creatableToPartnerCenter(field: FieldMapping): boolean {
  return field.onCreate && field.direction !== "pc-to-crm" && field.transform.type !== "status";
}

/**
 * The POST body for a new referral from an opportunity (with its account, contact, owner and
 * currency resolved in `crm`). Validate first (`validateForCreate`); this function does not refuse.
 *
 * Choices where the spec says UNVERIFIED (see README.md):
 * - `type`: Shared when Microsoft's help is requested (a co-sell request involves Microsoft),
 *   Independent otherwise. A Shared referral targets the first solution as `SolutionProfile` (the
 *   2023 shared sample); the bridge does not create Microsoft's connected referral itself.
 * - `consentToShareReferralWithMicrosoftSellers`: "share with Microsoft", forced on when help is
 *   requested (asking Microsoft for help shares the deal with Microsoft sellers).
 * - Other consent flags are the customer's and are not claimed on the customer's behalf.
 * - `qualification`: SalesQualified, as both published create samples.
 * - No status/substatus: Partner Center sets the initial state (the live sample omits them).
 */
export function buildReferralCreate(crm: CrmRecordSet, mapping: Mapping): ReferralCreatePlan {
  const settings = mapping.settings;
  let body: Record<string, JsonValue> = {};
  const omitted: CreateOmission[] = [];
  for (const field of fieldsForLink(mapping, "opportunity")) {
    if (!creatableToPartnerCenter(field)) continue;
    const value = readDataverse(field, crm, settings);
    if (value === null) continue;
    const result = transformFor(field.transform).toPartnerCenter(value, {
      referral: body,
      linkKind: "opportunity",
      settings,
      segments: field.partnerCenter[0]?.segments ?? [],
      crm,
    });
    if (result.ok) body = applyOps(body, result.value);
    else omitted.push({ field: field.id, label: field.label, reason: result.reason });
  }

  const inviteContext = isObject(body.inviteContext) ? body.inviteContext : undefined;
  const helpRequested = typeof inviteContext?.assistanceRequestCode === "string";
  const consent = isObject(body.consent) ? body.consent : {};
  const shared = consent.consentToShareReferralWithMicrosoftSellers === true || helpRequested;
  const details = isObject(body.details) ? body.details : {};
  const requirements = isObject(details.requirements) ? details.requirements : undefined;
  const firstSolution = Array.isArray(requirements?.solutions)
    ? requirements.solutions.map((s) => (isObject(s) ? s.id : undefined)).find((id): id is string => typeof id === "string")
    : undefined;

  const id = crm.record[SystemColumn.opportunity.id];
  const created = {
    ...body,
    name: typeof body.name === "string" ? body.name : "",
    externalReferenceId: typeof id === "string" ? id : "",
    type: helpRequested ? ("Shared" as const) : ("Independent" as const),
    qualification: "SalesQualified",
    customerProfile: isObject(body.customerProfile) ? body.customerProfile : {},
    consent: { ...consent, consentToShareReferralWithMicrosoftSellers: shared },
    details,
    target: helpRequested && firstSolution ? [{ type: "SolutionProfile", id: firstSolution }] : [],
  };
  if (!helpRequested) delete (created as Record<string, unknown>).inviteContext;
  return { body: created as ReferralCreate, omitted };
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface RelatedRowPlan<TMatch> {
  /** How to find an existing row before creating one. */
  readonly match: TMatch;
  /** Columns for a new row (an existing row is linked, not overwritten). */
  readonly values: DataverseValues;
}

export type RecordFromReferral =
  | { readonly kind: "skip"; readonly category: ReferralCategory; readonly reason: string }
  | {
      readonly kind: "opportunity" | "lead";
      readonly category: ReferralCategory;
      /** Columns of the new opportunity or lead, upserted by the alternate key on cosell_referralid. */
      readonly record: DataverseValues;
      /** Opportunity only: the customer account, matched by name + postal code, else created. */
      readonly account?: RelatedRowPlan<{ name: string | null; postalCode: string | null }>;
      /** Opportunity only: the customer contact, matched by e-mail, else created. */
      readonly contact?: RelatedRowPlan<{ email: string | null }>;
    };

function plainText(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/**
 * The Dynamics rows for a new referral (flow 3): an opportunity with its account and contact for a
 * co-sell opportunity, a lead for a marketplace or qualified lead, nothing when
 * `cosell_SyncCoSellOnly` says to skip leads. Lookups (owner, currency) come back as
 * DataverseLookup values for the caller to resolve; an owner not found in Dynamics is left to the
 * caller's default owner.
 */
export function buildRecordFromReferral(pc: PartnerCenterSide, mapping: Mapping): RecordFromReferral {
  const settings = mapping.settings;
  const category = categorize(pc.referral);
  const kind = recordKindFor(category);
  if (kind === "lead" && settings.syncCoSellOnly) {
    return {
      kind: "skip",
      category,
      reason: `This referral is a ${category === "marketplace-lead" ? "marketplace lead" : "qualified lead"}, and the bridge syncs co-sell opportunities only (cosell_SyncCoSellOnly).`,
    };
  }
  const values = { record: {} as DataverseValues, account: {} as DataverseValues, contact: {} as DataverseValues };
  const emptySet: CrmRecordSet = { kind, record: {} };
  for (const field of fieldsForLink(mapping, kind)) {
    if (!field.onCreate || field.direction === "crm-to-pc" || field.transform.type === "status") continue;
    const value = readPartnerCenter(field, pc, kind, settings);
    if (value === null) continue;
    const result = transformFor(field.transform).toDataverse(value, { set: emptySet, row: null, settings });
    if (!result.ok) continue;
    const target = field.kind === "account" ? values.account : field.kind === "contact" ? values.contact : values.record;
    target[field.dataverse] = result.value;
  }
  if (kind === "lead") return { kind, category, record: values.record };

  // Arriving from Partner Center means it is shared with Partner Center (connector behaviour, CD).
  values.record[OpportunityColumn.syncWithPartnerCenter] = true;
  const profile = pc.referral.customerProfile;
  const contact = profile?.team?.[0];
  const email = plainText(contact?.email)?.toLowerCase() ?? null;
  return {
    kind,
    category,
    record: values.record,
    account: {
      match: { name: plainText(profile?.name), postalCode: plainText(profile?.address?.postalCode) },
      values: values.account,
    },
    ...(contact && (email || Object.keys(values.contact).length > 0)
      ? { contact: { match: { email }, values: values.contact } }
      : {}),
  };
}
