/**
 * The Referral resource as data: every known property, its type, and how a client's JSON binds to
 * it. Binding is what a .NET model binder would do with the documented samples, which mix casing
 * (`ConsentToToShareInfoWithOthers`, `consentToShareReferralWithMicrosoftSellers`):
 *  - property names match case-insensitively and come out in their camelCase spelling;
 *  - unknown properties are dropped (reported, never stored), as a typed .NET model ignores them;
 *  - numbers may arrive as numeric strings (the PATCH sample sends `"dealValue": "10000"`), booleans
 *    as "true"/"false", enums in any case; all are stored in their canonical form.
 * Output is "materialized": every known property present, null when unset, as the real API returned
 * it (the 2019 flow schema requires e.g. all five member fields).
 */
import { parseServerInstant, formatInstant } from "./clock";

export const REFERRAL_STATUSES = ["None", "New", "Active", "Closed"] as const;
export const REFERRAL_SUBSTATUSES = ["None", "Pending", "Received", "Accepted", "Won", "Lost", "Declined", "Expired"] as const;
export const REFERRAL_TYPES = ["Independent", "Shared"] as const;
export const QUALIFICATIONS = ["None", "Direct", "MarketingQualified", "SalesQualified"] as const;
export const DIRECTIONS = ["Incoming", "Outgoing"] as const;
export const TARGET_TYPES = ["None", "BusinessProfileLocation", "SolutionProfile"] as const;
export const SOLUTION_TAG_TYPES = ["None", "Category", "Name"] as const;
export const PROFILE_TYPES = ["Duns", "External"] as const;
export const ASSISTANCE_REQUEST_CODES = [
  "Unknown",
  "GeneralOrOther",
  "CustomerTechnicalArchitecture",
  "ProofOfConceptOrDemo",
  "QuotesOrLicensing",
  "PostSalesCustomerSuccess",
  "WorkloadSpecificValueProposition",
] as const;

export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];
export type ReferralSubstatus = (typeof REFERRAL_SUBSTATUSES)[number];
export type ReferralType = (typeof REFERRAL_TYPES)[number];
export type Direction = (typeof DIRECTIONS)[number];

export type Shape =
  | { readonly t: "string" }
  | { readonly t: "decimal" }
  | { readonly t: "boolean" }
  | { readonly t: "datetime" }
  | { readonly t: "enum"; readonly values: readonly string[] }
  /** `nullable`: null when absent (else materialized with every field). */
  | { readonly t: "object"; readonly fields: Readonly<Record<string, Shape>>; readonly nullable?: boolean }
  | { readonly t: "array"; readonly items: Shape }
  /** Any JSON, kept as sent (sub-objects whose shape is not documented). */
  | { readonly t: "open" };

const str: Shape = { t: "string" };
const dec: Shape = { t: "decimal" };
const bool: Shape = { t: "boolean" };
const time: Shape = { t: "datetime" };
const open: Shape = { t: "open" };
const en = (values: readonly string[]): Shape => ({ t: "enum", values });
const obj = (fields: Record<string, Shape>, nullable = false): Shape => ({ t: "object", fields, nullable });
const arr = (items: Shape): Shape => ({ t: "array", items });

const MEMBER = obj({
  firstName: str,
  lastName: str,
  phoneNumber: str,
  email: str,
  contactPreference: obj({ locale: str, disableNotifications: bool }, true),
});
const TAG = obj({ id: str });
const SOLUTION_TAG = obj({ id: str, name: str, type: en(SOLUTION_TAG_TYPES), publisherName: str, solutionType: str });
const ORGANIZATION = obj({ organizationId: str, organizationName: str });
const LINK = obj({ uri: str, method: str });

export const REFERRAL_SHAPE = obj({
  id: str,
  engagementId: str,
  organizationId: str,
  organizationName: str,
  name: str,
  externalReferenceId: str,
  createdDateTime: time,
  updatedDateTime: time,
  expirationDateTime: time,
  acceptedDateTime: time,
  status: en(REFERRAL_STATUSES),
  substatus: en(REFERRAL_SUBSTATUSES),
  statusReason: str,
  type: en(REFERRAL_TYPES),
  qualification: en(QUALIFICATIONS),
  direction: en(DIRECTIONS),
  customerProfile: obj({
    name: str,
    address: obj({ addressLine1: str, addressLine2: str, city: str, state: str, postalCode: str, country: str, region: str }),
    size: str,
    team: arr(MEMBER),
    ids: arr(obj({ profileType: en(PROFILE_TYPES), id: str })),
  }),
  consent: obj({
    consentToToShareInfoWithOthers: bool,
    consentToContact: bool,
    consentToMicrosoftToContactSpecificPartners: bool,
    consentToShareReferralWithMicrosoftSellers: bool,
  }),
  details: obj({
    notes: str,
    dealValue: dec,
    currency: str,
    closingDateTime: time,
    requirements: obj({ industries: arr(TAG), products: arr(TAG), services: arr(TAG), solutions: arr(SOLUTION_TAG) }),
    // Nesting UNVERIFIED (specs §2.2): kept as sent.
    additionalRequirements: open,
  }),
  team: arr(MEMBER),
  inviteContext: obj({ notes: str, invitedBy: ORGANIZATION, assistanceRequestCode: en(ASSISTANCE_REQUEST_CODES) }),
  target: arr(obj({ id: str, type: en(TARGET_TYPES) })),
  referralSource: str,
  callToAction: str,
  customerMarketplaceIntent: str,
  salesStage: str,
  trackingInfo: obj({ microsoftMsxId: str }),
  eTag: str,
  links: obj({ self: LINK, relatedReferrals: LINK }),
});

/** Set by Partner Center only: ignored in create/PUT bodies, refused as PATCH paths. */
export const SERVER_OWNED_FIELDS: ReadonlySet<string> = new Set([
  "id",
  "engagementId",
  "eTag",
  "createdDateTime",
  "updatedDateTime",
  "expirationDateTime",
  "acceptedDateTime",
  "organizationId",
  "organizationName",
  "direction",
  "links",
]);

export interface Member {
  firstName: string | null;
  lastName: string | null;
  phoneNumber: string | null;
  email: string | null;
  contactPreference: { locale: string | null; disableNotifications: boolean | null } | null;
}

/** A materialized referral as stored and returned (links are filled in on the way out). */
export interface Referral {
  id: string;
  engagementId: string;
  organizationId: string | null;
  organizationName: string | null;
  name: string | null;
  externalReferenceId: string | null;
  createdDateTime: string;
  updatedDateTime: string;
  expirationDateTime: string | null;
  acceptedDateTime: string | null;
  status: ReferralStatus;
  substatus: ReferralSubstatus;
  statusReason: string | null;
  type: ReferralType | null;
  qualification: string | null;
  direction: Direction;
  customerProfile: {
    name: string | null;
    address: Record<string, string | null>;
    size: string | null;
    team: Member[];
    ids: { profileType: string | null; id: string | null }[];
  };
  consent: {
    consentToToShareInfoWithOthers: boolean | null;
    consentToContact: boolean | null;
    consentToMicrosoftToContactSpecificPartners: boolean | null;
    consentToShareReferralWithMicrosoftSellers: boolean | null;
  };
  details: {
    notes: string | null;
    dealValue: number | null;
    currency: string | null;
    closingDateTime: string | null;
    requirements: { industries: unknown[]; products: unknown[]; services: unknown[]; solutions: { id: string | null; name: string | null; type: string | null }[] };
    additionalRequirements: unknown;
  };
  team: Member[];
  inviteContext: {
    notes: string | null;
    invitedBy: { organizationId: string | null; organizationName: string | null };
    assistanceRequestCode: string | null;
  };
  target: { id: string | null; type: string | null }[];
  referralSource: string | null;
  callToAction: string | null;
  customerMarketplaceIntent: string | null;
  salesStage: string | null;
  trackingInfo: { microsoftMsxId: string | null };
  eTag: string;
  links: { self: { uri: string | null; method: string | null }; relatedReferrals: { uri: string | null; method: string | null } };
}

/** A client's value does not fit the property it names. */
export class BindError extends Error {
  override readonly name = "BindError";
  constructor(
    readonly path: string,
    readonly reason: string,
    subject: "value" | "path" = "value",
  ) {
    super(subject === "value" ? `The value of '${path}' ${reason}.` : `The path '${path}' ${reason}.`);
  }
}

export interface BindResult {
  readonly value: unknown;
  /** Dotted paths of input properties that matched nothing and were dropped. */
  readonly ignored: string[];
}

const NUMERIC = /^\s*-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Lower-case name → canonical name, per object shape (cached). */
const fieldIndexes = new WeakMap<object, ReadonlyMap<string, string>>();
function fieldIndex(shape: Extract<Shape, { t: "object" }>): ReadonlyMap<string, string> {
  let index = fieldIndexes.get(shape);
  if (!index) {
    index = new Map(Object.keys(shape.fields).map((k) => [k.toLowerCase(), k]));
    fieldIndexes.set(shape, index);
  }
  return index;
}

export function canonicalField(shape: Extract<Shape, { t: "object" }>, name: string): string | undefined {
  return fieldIndex(shape).get(name.toLowerCase());
}

const join = (path: string, key: string | number): string => (path === "" ? String(key) : typeof key === "number" ? `${path}[${key}]` : `${path}.${key}`);

/**
 * Binds client JSON to a shape. Objects come back partial (only the properties sent); see
 * `materialize` for the full form. `skip` names top-level properties to ignore (server-owned).
 */
export function bind(input: unknown, shape: Shape, path = "", skip?: ReadonlySet<string>): BindResult {
  const ignored: string[] = [];
  const value = bindValue(input, shape, path, ignored, skip);
  return { value, ignored };
}

function bindValue(input: unknown, shape: Shape, path: string, ignored: string[], skip?: ReadonlySet<string>): unknown {
  if (input === null || input === undefined) return null;
  switch (shape.t) {
    case "open":
      return input;
    case "string":
      if (typeof input === "string") return input;
      if (typeof input === "number" || typeof input === "boolean") return String(input);
      throw new BindError(path, "must be a string");
    case "decimal":
      if (typeof input === "number" && Number.isFinite(input)) return input;
      if (typeof input === "string" && NUMERIC.test(input)) return Number(input);
      throw new BindError(path, "must be a number");
    case "boolean":
      if (typeof input === "boolean") return input;
      if (typeof input === "string" && /^(true|false)$/i.test(input.trim())) return input.trim().toLowerCase() === "true";
      throw new BindError(path, "must be true or false");
    case "datetime": {
      const instant = typeof input === "string" ? parseServerInstant(input.trim()) : undefined;
      if (!instant) throw new BindError(path, "must be an ISO 8601 date and time");
      return formatInstant(instant);
    }
    case "enum": {
      if (typeof input === "number" && Number.isInteger(input) && input >= 0 && input < shape.values.length) return shape.values[input];
      const match = typeof input === "string" ? shape.values.find((v) => v.toLowerCase() === input.trim().toLowerCase()) : undefined;
      if (match === undefined) throw new BindError(path, `must be one of ${shape.values.join(", ")}`);
      return match;
    }
    case "array": {
      if (!Array.isArray(input)) throw new BindError(path, "must be an array");
      return input.map((item, i) => bindValue(item, shape.items, join(path, i), ignored));
    }
    case "object": {
      if (!isPlainObject(input)) throw new BindError(path, "must be an object");
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(input)) {
        const canonical = canonicalField(shape, key);
        if (canonical === undefined) {
          ignored.push(join(path, key));
          continue;
        }
        if (skip?.has(canonical)) continue;
        // Duplicate spellings (`status` and `Status`): the later one wins, as a .NET binder does.
        out[canonical] = bindValue(input[key], shape.fields[canonical] as Shape, join(path, canonical), ignored);
      }
      return out;
    }
  }
}

/** Fills every known property: nulls for scalars, [] for arrays, objects recursively. */
export function materialize(shape: Shape, value: unknown): unknown {
  switch (shape.t) {
    case "array":
      return Array.isArray(value) ? value.map((v) => materialize(shape.items, v)) : [];
    case "object": {
      if (!isPlainObject(value) && shape.nullable) return null;
      const source = isPlainObject(value) ? value : {};
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(shape.fields)) out[key] = materialize(child, source[key]);
      return out;
    }
    default:
      return value === undefined ? null : value;
  }
}

export interface ResolvedPointer {
  /** The pointer with canonical property names (`/details/dealValue`). */
  readonly pointer: string;
  /** Canonical segments. */
  readonly segments: readonly string[];
  /** Shape of the value the pointer designates. */
  readonly shape: Shape;
}

/**
 * Resolves a JSON Pointer from a PATCH against the shape: property names case-insensitively, array
 * indexes as digits (or `-` to append, last segment only). Throws BindError for unknown paths.
 */
export function resolvePointer(pointer: string, root: Shape = REFERRAL_SHAPE): ResolvedPointer {
  if (typeof pointer !== "string" || !pointer.startsWith("/")) throw new BindError(String(pointer), "is not a JSON Pointer (it must start with '/')", "path");
  const raw = pointer.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  const segments: string[] = [];
  let shape: Shape = root;
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i] as string;
    const last = i === raw.length - 1;
    if (shape.t === "open") {
      segments.push(seg);
      continue;
    }
    if (shape.t === "object") {
      const canonical = canonicalField(shape, seg);
      if (canonical === undefined) throw new BindError(pointer, `names no property of the referral ('${seg}' is unknown)`, "path");
      segments.push(canonical);
      shape = shape.fields[canonical] as Shape;
      continue;
    }
    if (shape.t === "array") {
      if (!(/^(0|[1-9]\d{0,8})$/.test(seg) || (seg === "-" && last))) throw new BindError(pointer, `has '${seg}' where an array index is expected`, "path");
      segments.push(seg);
      shape = shape.items;
      continue;
    }
    throw new BindError(pointer, `goes inside '${segments.join("/")}', which is not an object`, "path");
  }
  const escaped = segments.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1"));
  return { pointer: `/${escaped.join("/")}`, segments, shape };
}
