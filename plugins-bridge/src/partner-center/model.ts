/**
 * The Partner Center Referrals API as the bridge sees it (specs/partner-center-api.md §2, §3.3).
 *
 * Permissive on purpose: the API grows fields (FY26 solution areas, marketplace fields…) and its
 * enums grow values. Unknown fields pass through untouched (`z.looseObject`), fields the real API
 * sends as null are nullable, and enum-typed fields are plain strings: a value this file does not
 * know must never make a referral unreadable. Logic that branches on an enum goes through the
 * `known*` helpers, which answer `"unknown"` for anything else.
 */
import { z } from "zod";

// ---------------------------------------------------------------------------------------------
// Enumerations as documented (§2.7). Kept as lists so logic can recognise them; never used to
// reject a payload.
// ---------------------------------------------------------------------------------------------

export const REFERRAL_STATUSES = ["None", "New", "Active", "Closed"] as const;
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];

export const REFERRAL_SUBSTATUSES = [
  "None",
  "Pending",
  "Received",
  "Accepted",
  "Won",
  "Lost",
  "Declined",
  "Expired",
] as const;
export type ReferralSubstatus = (typeof REFERRAL_SUBSTATUSES)[number];

export const REFERRAL_TYPES = ["Independent", "Shared"] as const;
export type ReferralType = (typeof REFERRAL_TYPES)[number];

export const REFERRAL_QUALIFICATIONS = ["None", "Direct", "MarketingQualified", "SalesQualified"] as const;
export type ReferralQualification = (typeof REFERRAL_QUALIFICATIONS)[number];

export const ASSISTANCE_REQUEST_CODES = [
  "Unknown",
  "GeneralOrOther",
  "CustomerTechnicalArchitecture",
  "ProofOfConceptOrDemo",
  "QuotesOrLicensing",
  "PostSalesCustomerSuccess",
  "WorkloadSpecificValueProposition",
] as const;
export type AssistanceRequestCode = (typeof ASSISTANCE_REQUEST_CODES)[number];

export const SOLUTION_TAG_TYPES = ["None", "Category", "Name"] as const;
export const TARGET_TYPES = ["None", "BusinessProfileLocation", "SolutionProfile"] as const;
export const REFERRAL_DIRECTIONS = ["Incoming", "Outgoing"] as const;

/** Microsoft's organization id in `inviteContext.invitedBy.organizationId` and targets (§2.2, §2.9). */
export const MICROSOFT_ORGANIZATION_ID = "msft";

/**
 * Recognises a documented enum value. The API's casing is PascalCase throughout the docs; we
 * compare case-insensitively because nothing documents case-sensitive binding and the cost of a
 * false "unknown" (a referral ignored) is higher than that of accepting `closed` for `Closed`.
 */
export function knownValue<T extends string>(values: readonly T[], raw: unknown): T | "unknown" {
  if (typeof raw !== "string") return "unknown";
  const lower = raw.trim().toLowerCase();
  return values.find((v) => v.toLowerCase() === lower) ?? "unknown";
}

export const knownStatus = (raw: unknown) => knownValue(REFERRAL_STATUSES, raw);
export const knownSubstatus = (raw: unknown) => knownValue(REFERRAL_SUBSTATUSES, raw);
export const knownType = (raw: unknown) => knownValue(REFERRAL_TYPES, raw);
export const knownQualification = (raw: unknown) => knownValue(REFERRAL_QUALIFICATIONS, raw);

// ---------------------------------------------------------------------------------------------
// The referral resource (§2.6; field names as the 2019 flow schema in fixtures/partner-center)
// ---------------------------------------------------------------------------------------------

const str = z.string().nullish();
const bool = z.boolean().nullish();

export const ContactPreferenceSchema = z.looseObject({
  locale: str,
  disableNotifications: bool,
});

export const MemberSchema = z.looseObject({
  firstName: str,
  lastName: str,
  email: str,
  phoneNumber: str,
  title: str,
  contactPreference: ContactPreferenceSchema.nullish(),
});
export type Member = z.infer<typeof MemberSchema>;

export const AddressSchema = z.looseObject({
  addressLine1: str,
  addressLine2: str,
  city: str,
  state: str,
  postalCode: str,
  /** ISO 3166 alpha-2. */
  country: str,
  region: str,
});
export type Address = z.infer<typeof AddressSchema>;

export const CustomerProfileSchema = z.looseObject({
  name: str,
  address: AddressSchema.nullish(),
  size: str,
  team: z.array(MemberSchema).nullish(),
  ids: z.array(z.looseObject({ profileType: str, id: str })).nullish(),
});
export type CustomerProfile = z.infer<typeof CustomerProfileSchema>;

/** `consentToToShareInfoWithOthers` (doubled "To") is the real property name (§2.2). */
export const ConsentSchema = z.looseObject({
  consentToToShareInfoWithOthers: bool,
  consentToContact: bool,
  consentToMicrosoftToContactSpecificPartners: bool,
  consentToShareReferralWithMicrosoftSellers: bool,
});
export type Consent = z.infer<typeof ConsentSchema>;

export const SolutionTagSchema = z.looseObject({
  id: str,
  name: str,
  type: str,
  publisherName: str,
  solutionType: str,
});
export type SolutionTag = z.infer<typeof SolutionTagSchema>;

const TagSchema = z.looseObject({ id: str });

export const RequirementsSchema = z.looseObject({
  industries: z.array(TagSchema).nullish(),
  products: z.array(TagSchema).nullish(),
  services: z.array(TagSchema).nullish(),
  solutions: z.array(SolutionTagSchema).nullish(),
});

/** The API documents dealValue as a decimal, but its own PATCH sample sends `"10000"`: accept both. */
export const DealValueSchema = z.union([z.number(), z.string()]).nullish();

export const DetailsSchema = z.looseObject({
  notes: str,
  dealValue: DealValueSchema,
  currency: str,
  closingDateTime: str,
  requirements: RequirementsSchema.nullish(),
});

export const InviteContextSchema = z.looseObject({
  notes: str,
  invitedBy: z.looseObject({ organizationId: str, organizationName: str }).nullish(),
  assistanceRequestCode: str,
});

export const TargetSchema = z.looseObject({ id: str, type: str });

const LinkSchema = z.looseObject({ uri: str, method: str });

export const ReferralSchema = z.looseObject({
  id: z.string().min(1),
  engagementId: str,
  name: str,
  organizationId: str,
  organizationName: str,
  externalReferenceId: str,
  createdDateTime: str,
  updatedDateTime: str,
  expirationDateTime: str,
  acceptedDateTime: str,
  status: str,
  substatus: str,
  statusReason: str,
  type: str,
  qualification: str,
  direction: str,
  customerProfile: CustomerProfileSchema.nullish(),
  consent: ConsentSchema.nullish(),
  details: DetailsSchema.nullish(),
  team: z.array(MemberSchema).nullish(),
  inviteContext: InviteContextSchema.nullish(),
  target: z.array(TargetSchema).nullish(),
  /** A quoted string, e.g. `"\"2500ec5a-0000-0000-0000-5bf4967d0000\""`; send it back as If-Match. */
  eTag: str,
  links: z
    .looseObject({ relatedReferrals: LinkSchema.nullish(), self: LinkSchema.nullish() })
    .nullish(),
  trackingInfo: z.looseObject({ microsoftMsxId: str }).nullish(),
});
export type Referral = z.infer<typeof ReferralSchema>;

/** An OData page of referrals (§2.4). */
export const ReferralPageSchema = z.looseObject({
  value: z.array(ReferralSchema),
  "@odata.nextLink": str,
  "@odata.count": z.number().nullish(),
});
export type ReferralPage = z.infer<typeof ReferralPageSchema>;

// ---------------------------------------------------------------------------------------------
// Create body (§2.2)
// ---------------------------------------------------------------------------------------------

export const ReferralCreateSchema = z.looseObject({
  name: z.string().min(1),
  externalReferenceId: z.string().min(1),
  type: z.enum(REFERRAL_TYPES),
  qualification: z.string().optional(),
  customerProfile: CustomerProfileSchema,
  consent: ConsentSchema,
  details: DetailsSchema,
  team: z.array(MemberSchema).optional(),
  inviteContext: InviteContextSchema.optional(),
  target: z.array(TargetSchema).optional(),
});
export type ReferralCreate = z.infer<typeof ReferralCreateSchema>;

// ---------------------------------------------------------------------------------------------
// JSON Patch (§2.5): Partner Center accepts only `add` and `replace`.
// ---------------------------------------------------------------------------------------------

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
).meta({ id: "JsonValue" });

export interface JsonPatchOp {
  readonly op: "add" | "replace";
  /** RFC 6901 pointer, e.g. `/details/dealValue`, `/team/-`. */
  readonly path: string;
  readonly value: JsonValue;
}

export const JsonPatchOpSchema = z.object({
  op: z.enum(["add", "replace"]),
  path: z.string().regex(/^(\/[^/]*)+$/),
  value: JsonValueSchema,
});

// ---------------------------------------------------------------------------------------------
// Webhook event (§3.3): PascalCase, no referral body, no event id.
// ---------------------------------------------------------------------------------------------

export const REFERRAL_EVENT_NAMES = [
  "referral-created",
  "referral-updated",
  "related-referral-created",
  "related-referral-updated",
] as const;
export type ReferralEventName = (typeof REFERRAL_EVENT_NAMES)[number];
export const TEST_EVENT_NAME = "test-created";

export const WebhookEventSchema = z.looseObject({
  EventName: z.string().min(1),
  ResourceUri: z.string().min(1),
  ResourceName: z.string().nullish(),
  /** The docs' table says `AuditUrl`, the sample `AuditUri`; both are optional. */
  AuditUri: z.string().nullish(),
  AuditUrl: z.string().nullish(),
  ResourceChangeUtcDate: z.string().nullish(),
});
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

export function isReferralEvent(name: string): name is ReferralEventName {
  return (REFERRAL_EVENT_NAMES as readonly string[]).includes(name);
}

/**
 * The referral id an event points at. The documented ResourceUri path
 * (`https://api.partnercenter.microsoft.com/engagements/v1/referrals/{id}`) is not the API's path
 * (`https://api.partner.microsoft.com/v1.0/engagements/referrals/{id}`), so only its last segment is
 * trusted; the client builds the real URL itself. Returns undefined when the segment cannot be an id
 * (empty, dot segments, or characters that would change the URL it is put into).
 */
export function referralIdFromResourceUri(resourceUri: string): string | undefined {
  // A dot segment anywhere is refused before parsing: the URL parser would resolve `…/{id}/..` to
  // `…/`, and the segment before it (`referrals`) would pass for the id.
  const rawPath = resourceUri.split(/[?#]/)[0] ?? "";
  if (rawPath.split(/[/\\]/).some((s) => /^(?:\.|%2e){1,2}$/i.test(s))) return undefined;
  let path: string;
  try {
    path = new URL(resourceUri).pathname;
  } catch {
    path = resourceUri.split(/[?#]/)[0] ?? "";
  }
  const segments = path.split("/").filter((s) => s.length > 0);
  const last = segments[segments.length - 1];
  if (last === undefined) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(last);
  } catch {
    return undefined;
  }
  if (id === "." || id === ".." || !/^[A-Za-z0-9._~:-]+$/.test(id)) return undefined;
  return id;
}

interface ParsedEventBase {
  readonly eventName: string;
  readonly isRelated: boolean;
  readonly changedAt: string | undefined;
}

/**
 * A referral event always names its referral; other events (the validation `test-created`, events
 * the bridge never registered) are answered without one, so their ResourceUri is not required to
 * end in an id.
 */
export type ParsedWebhookEvent =
  | (ParsedEventBase & { readonly isReferralEvent: true; readonly referralId: string })
  | (ParsedEventBase & { readonly isReferralEvent: false; readonly referralId: string | undefined });

export class WebhookEventError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WebhookEventError";
  }
}

/** Validates an event body and extracts what the bridge needs; throws WebhookEventError otherwise. */
export function parseWebhookEvent(body: unknown): ParsedWebhookEvent {
  const parsed = WebhookEventSchema.safeParse(body);
  if (!parsed.success) {
    throw new WebhookEventError(`Partner Center event body is not valid: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const event = parsed.data;
  const referralId = referralIdFromResourceUri(event.ResourceUri);
  const eventName = event.EventName.trim().toLowerCase();
  const base = { eventName, isRelated: eventName.startsWith("related-"), changedAt: event.ResourceChangeUtcDate ?? undefined };
  if (!isReferralEvent(eventName)) return { ...base, isReferralEvent: false, referralId };
  if (referralId === undefined) {
    throw new WebhookEventError(`Partner Center event ResourceUri does not end in a referral id: ${event.ResourceUri}`);
  }
  return { ...base, isReferralEvent: true, referralId };
}
