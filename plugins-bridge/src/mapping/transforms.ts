/**
 * The closed set of transforms a mapping field may use. Each one defines a *normalized* value
 * (what snapshots hold and the merge compares) and how to read it from, and write it to, either
 * side. Normalizing both sides the same way is what makes the bridge's own writes come back equal
 * to the base: a value read back after a write normalizes to what was written.
 *
 * A write can be impossible (a Partner Center enum value with no Dynamics choice, turning sharing
 * off once on, a transition Partner Center forbids). Those answer `{ ok: false, reason }` in words
 * a seller can read; the merge holds the field back and audits the reason once.
 */
import {
  GLOBAL_CHOICES,
  formatProducts,
  isSolutionId,
  parseProducts,
  stripCheckmark,
  SyncState,
  withCheckmark,
} from "@cosell/contract";
import {
  knownStatus,
  knownSubstatus,
  type JsonPatchOp,
  type JsonValue,
  type Referral,
} from "../partner-center/model";
import {
  type CrmRecordSet,
  type DataverseRow,
  type DataverseValue,
  LeadState,
  LeadStatusReason,
  OpportunityState,
  OpportunityStatusReason,
  SystemColumn,
} from "../dataverse/model";
import { nextForAccept, nextForDecline, nextForLost, nextForWon, type TransitionPlan } from "../sync/transitions";
import type { Transform } from "./schema";
import type { CoSellSettings } from "./settings";
import { getAt, opToSet } from "./pointer";

export interface PartnerCenterReadContext {
  readonly referral: Referral | Record<string, unknown>;
  /** The kind of record the link ties the referral to. */
  readonly linkKind: "opportunity" | "lead";
  readonly settings: CoSellSettings;
}

export interface DataverseReadContext {
  readonly set: CrmRecordSet;
  readonly row: DataverseRow | null | undefined;
  readonly settings: CoSellSettings;
}

export interface PartnerCenterWriteContext extends PartnerCenterReadContext {
  readonly segments: readonly string[];
  /** The Dynamics side, for transforms that build a Partner Center value from more than one column. */
  readonly crm: CrmRecordSet;
}

export type WriteResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export interface TransformImpl {
  fromPartnerCenter(raw: unknown, ctx: PartnerCenterReadContext): JsonValue;
  fromDataverse(raw: unknown, ctx: DataverseReadContext): JsonValue;
  toPartnerCenter(value: JsonValue, ctx: PartnerCenterWriteContext): WriteResult<JsonPatchOp[]>;
  toDataverse(value: JsonValue, ctx: DataverseReadContext): WriteResult<DataverseValue>;
}

const ok = <T>(value: T): WriteResult<T> => ({ ok: true, value });
const refuse = (reason: string): WriteResult<never> => ({ ok: false, reason });

function text(raw: unknown, maxLength?: number): string | null {
  if (typeof raw !== "string") return null;
  const s = maxLength !== undefined ? [...raw].slice(0, maxLength).join("") : raw;
  return s.trim() === "" ? null : s;
}

/** Sets the field's own path: the common way to write Partner Center. */
function setOwnPath(value: JsonValue, ctx: PartnerCenterWriteContext): WriteResult<JsonPatchOp[]> {
  return ok([opToSet(ctx.referral, ctx.segments, value)]);
}

function scalar(value: JsonValue): DataverseValue {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : value;
}

function textTransform(maxLength?: number, strip = false, checkmarkOnWrite = false): TransformImpl {
  const read = (raw: unknown) => text(typeof raw === "string" && strip ? stripCheckmark(raw) : raw, maxLength);
  return {
    fromPartnerCenter: read,
    fromDataverse: read,
    toPartnerCenter: (value, ctx) => setOwnPath(value, ctx),
    toDataverse: (value, ctx) =>
      ok(
        checkmarkOnWrite && typeof value === "string"
          ? withCheckmark(value, SyncState.Synced, ctx.settings.checkmark)
          : scalar(value),
      ),
  };
}

const email: TransformImpl = {
  fromPartnerCenter: (raw) => text(raw)?.trim().toLowerCase() ?? null,
  fromDataverse: (raw) => text(raw)?.trim().toLowerCase() ?? null,
  toPartnerCenter: (value, ctx) => setOwnPath(value, ctx),
  toDataverse: (value) => ok(scalar(value)),
};

function countryCode(raw: unknown): string | null {
  const t = text(raw)?.trim() ?? null;
  return t !== null && /^[A-Za-z]{2}$/.test(t) ? t.toUpperCase() : t;
}

const country: TransformImpl = {
  fromPartnerCenter: countryCode,
  fromDataverse: countryCode,
  toPartnerCenter: (value, ctx) => setOwnPath(value, ctx),
  toDataverse: (value) => ok(scalar(value)),
};

function amount(raw: unknown): number | null {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n)) return null;
  // Dataverse money has two decimals; rounding both sides the same way keeps them comparable.
  return Math.round(n * 100) / 100;
}

const money: TransformImpl = {
  fromPartnerCenter: amount,
  fromDataverse: amount,
  toPartnerCenter: (value, ctx) => setOwnPath(value, ctx),
  toDataverse: (value) => ok(scalar(value)),
};

/**
 * The date as written: Partner Center's closingDateTime is a UTC timestamp whose date part is the
 * closing date (samples use midnight UTC); Dataverse date-only columns read as YYYY-MM-DD.
 * Converting through a time zone would shift dates by a day for half the world.
 */
function dateOnlyValue(raw: unknown): string | null {
  if (typeof raw !== "string") return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(raw.trim());
  if (!m) return null;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== m[0]) return null;
  return m[0];
}

const dateOnly: TransformImpl = {
  fromPartnerCenter: dateOnlyValue,
  fromDataverse: dateOnlyValue,
  toPartnerCenter: (value, ctx) => setOwnPath(typeof value === "string" ? `${value}T00:00:00Z` : value, ctx),
  toDataverse: (value) => ok(scalar(value)),
};

function booleanTransform(sticky: boolean): TransformImpl {
  const read = (raw: unknown) => (typeof raw === "boolean" ? raw : null);
  return {
    fromPartnerCenter: read,
    fromDataverse: read,
    toPartnerCenter: (value, ctx) => {
      if (sticky && value !== true && getAt(ctx.referral, ctx.segments) === true) {
        return refuse("It is already on in Partner Center, and Partner Center does not allow turning it off.");
      }
      return setOwnPath(value, ctx);
    },
    toDataverse: (value) => ok(scalar(value)),
  };
}

interface PicklistOption {
  readonly crm: number;
  readonly pc: string | null;
}

export function picklistOptions(transform: Extract<Transform, { type: "picklist" }>): readonly PicklistOption[] {
  if (transform.values) return transform.values;
  const choice = Object.values(GLOBAL_CHOICES).find((c) => c.name === transform.globalChoice);
  return (choice?.options ?? []).map((o) => ({ crm: o.value, pc: "api" in o && o.api ? o.api : null }));
}

function picklist(options: readonly PicklistOption[]): TransformImpl {
  const byPc = (s: string) => options.find((o) => o.pc !== null && o.pc.toLowerCase() === s.trim().toLowerCase());
  return {
    // Normalized = the Partner Center value; an unknown one is kept as written (never dropped).
    fromPartnerCenter: (raw) => {
      const s = text(raw);
      if (s === null) return null;
      return byPc(s)?.pc ?? s;
    },
    // A Dynamics option with no Partner Center value stays a number, so it is never mistaken for one.
    fromDataverse: (raw) => {
      if (typeof raw !== "number") return null;
      const option = options.find((o) => o.crm === raw);
      return option ? option.pc : raw;
    },
    toPartnerCenter: (value, ctx) => {
      if (typeof value === "number") {
        return refuse(`The Dynamics 365 choice ${value} has no Partner Center equivalent.`);
      }
      return setOwnPath(value, ctx);
    },
    toDataverse: (value) => {
      if (value === null) return ok(options.find((o) => o.pc === null)?.crm ?? null);
      if (typeof value === "number") return ok(value);
      const option = typeof value === "string" ? byPc(value) : undefined;
      if (!option) return refuse(`The Partner Center value "${String(value)}" has no matching choice in Dynamics 365.`);
      return ok(option.crm);
    },
  };
}

/** The solution id a tag contributes to `cosell_products`, if it is one of ours. */
function catalogueId(tag: unknown): string | undefined {
  if (typeof tag !== "object" || tag === null) return undefined;
  const { id, type } = tag as { id?: unknown; type?: unknown };
  if (typeof id !== "string" || id.trim() === "") return undefined;
  const normalized = id.trim().toUpperCase();
  // Legacy Category solutions (e.g. Dynamics365forSales) are not catalogue ids; untyped tags count
  // when they look like one.
  const ours = typeof type === "string" ? type.toLowerCase() === "name" : isSolutionId(normalized);
  return ours ? normalized : undefined;
}

function sortedIds(ids: readonly string[]): JsonValue {
  const unique = [...new Set(ids)].sort();
  return unique.length === 0 ? null : unique;
}

const products: TransformImpl = {
  fromPartnerCenter: (raw) =>
    sortedIds(Array.isArray(raw) ? raw.map(catalogueId).filter((id): id is string => id !== undefined) : []),
  fromDataverse: (raw) => sortedIds(parseProducts(typeof raw === "string" ? raw : null)),
  toPartnerCenter: (value, ctx) => {
    const wanted = Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
    const invalid = wanted.filter((id) => !isSolutionId(id));
    if (invalid.length > 0) {
      return refuse(
        `${invalid.length === 1 ? "This solution ID is" : "These solution IDs are"} not valid: ${invalid.join(", ")}. A solution ID looks like SOL-15974-MQF.`,
      );
    }
    const current = getAt(ctx.referral, ctx.segments);
    const existing = Array.isArray(current) ? (current as JsonValue[]) : [];
    // Keep what is not ours to manage, and the details (name, publisher) of ids we keep.
    const others = existing.filter((tag) => catalogueId(tag) === undefined);
    const named = wanted.map((id) => existing.find((tag) => catalogueId(tag) === id) ?? { type: "Name", id });
    return setOwnPath([...others, ...named], ctx);
  },
  toDataverse: (value) =>
    ok(
      Array.isArray(value) && value.length > 0
        ? formatProducts(value.filter((v): v is string => typeof v === "string"))
        : null,
    ),
};

const currencyIsoCode: TransformImpl = {
  fromPartnerCenter: (raw) => text(raw)?.trim().toUpperCase() ?? null,
  // A lookup: the caller resolved the currency row; the raw `_x_value` id says nothing comparable.
  fromDataverse: (_raw, ctx) => text(ctx.set.currency?.[SystemColumn.transactioncurrency.isoCode])?.trim().toUpperCase() ?? null,
  toPartnerCenter: (value, ctx) => setOwnPath(value, ctx),
  toDataverse: (value) =>
    typeof value === "string"
      ? ok({ lookup: { table: "transactioncurrency", matchColumn: SystemColumn.transactioncurrency.isoCode, matchValue: value } })
      : refuse("Dynamics 365 needs a currency on every opportunity, so an empty currency is not copied."),
};

function memberEmail(member: unknown): string | null {
  return text((member as { email?: unknown } | null)?.email)?.trim().toLowerCase() ?? null;
}

/**
 * The partner team's newest member stands for the owner. Partner Center documents only
 * `add /team/-` for the team (§2.5), so the bridge appends and reads the last member: what it
 * writes is what it reads back, and a member added in Partner Center becomes the owner.
 */
const owner: TransformImpl = {
  fromPartnerCenter: (raw) => {
    if (!Array.isArray(raw)) return null;
    for (let i = raw.length - 1; i >= 0; i--) {
      const e = memberEmail(raw[i]);
      if (e) return e;
    }
    return null;
  },
  fromDataverse: (_raw, ctx) => text(ctx.set.owner?.[SystemColumn.systemuser.email])?.trim().toLowerCase() ?? null,
  toPartnerCenter: (value, ctx) => {
    if (typeof value !== "string") return refuse("A referral's partner team cannot be emptied.");
    const user = ctx.crm.owner;
    const sameUser = user && text(user[SystemColumn.systemuser.email])?.trim().toLowerCase() === value;
    const member: Record<string, JsonValue> = { email: value };
    if (sameUser) {
      const first = text(user[SystemColumn.systemuser.firstName]);
      const last = text(user[SystemColumn.systemuser.lastName]);
      const phone = text(user[SystemColumn.systemuser.telephone]);
      if (first) member.firstName = first;
      if (last) member.lastName = last;
      if (phone) member.phoneNumber = phone;
    }
    const team = getAt(ctx.referral, ctx.segments);
    if (!Array.isArray(team)) return setOwnPath([member], ctx);
    return ok([{ op: "add", path: `${toPointerText(ctx.segments)}/-`, value: member }]);
  },
  toDataverse: (value) =>
    typeof value === "string"
      ? ok({ lookup: { table: "systemuser", matchColumn: SystemColumn.systemuser.email, matchValue: value } })
      : refuse("A Dynamics 365 record always has an owner, so an empty partner team is not copied."),
};

function toPointerText(segments: readonly string[]): string {
  return segments.map((s) => `/${s}`).join("");
}

/**
 * statecode ⇄ the referral's lifecycle, in the words of the record kind: an opportunity is Open,
 * Won or Lost; a lead is Open, Qualified or Disqualified. Only Dynamics → Partner Center: closing
 * the Dynamics record from a referral would need WinOpportunity/QualifyLead, which is the shell's.
 */
function statusFromReferral(referral: unknown, linkKind: "opportunity" | "lead"): string {
  const r = referral as { status?: unknown; substatus?: unknown };
  const status = knownStatus(r.status);
  const sub = knownSubstatus(r.substatus);
  if (status === "Closed") {
    if (linkKind === "lead" && sub === "Declined") return "Disqualified";
    return sub === "unknown" ? "Closed" : sub;
  }
  if (status === "Active") return linkKind === "lead" ? "Qualified" : "Open";
  return "Open";
}

const status: TransformImpl = {
  fromPartnerCenter: (_raw, ctx) => statusFromReferral(ctx.referral, ctx.linkKind),
  fromDataverse: (raw, ctx) => {
    const names: Record<number, string> =
      ctx.set.kind === "lead"
        ? { [LeadState.Open]: "Open", [LeadState.Qualified]: "Qualified", [LeadState.Disqualified]: "Disqualified" }
        : { [OpportunityState.Open]: "Open", [OpportunityState.Won]: "Won", [OpportunityState.Lost]: "Lost" };
    return typeof raw === "number" ? (names[raw] ?? null) : null;
  },
  toPartnerCenter: (value, ctx) => {
    const from = ctx.referral as { status?: string | null; substatus?: string | null };
    const statusCode = ctx.crm.record[SystemColumn.opportunity.statusCode];
    const reasonFrom = (labels: Readonly<Record<number, string>>) =>
      typeof statusCode === "number" ? labels[statusCode] : undefined;
    let plan: TransitionPlan;
    if (value === "Won") plan = nextForWon(from);
    else if (value === "Lost") plan = nextForLost(from, reasonFrom(OpportunityStatusReason));
    else if (value === "Qualified") plan = nextForAccept(from);
    else if (value === "Disqualified") plan = nextForDecline(from, reasonFrom(LeadStatusReason));
    else return refuse("A closed referral cannot be reopened in Partner Center.");
    return transitionOps(plan, ctx.referral);
  },
  toDataverse: () => refuse("Partner Center status changes are shown in the referral status columns."),
};

/** The ops that carry out a planned transition; refusals become the write's reason. */
export function transitionOps(plan: TransitionPlan, referral: unknown): WriteResult<JsonPatchOp[]> {
  if (plan.kind === "already") return ok([]);
  if (plan.kind === "refused") return refuse(plan.message);
  const ops: JsonPatchOp[] = [
    opToSet(referral, ["status"], plan.to.status),
    opToSet(referral, ["substatus"], plan.to.substatus),
  ];
  if (plan.to.statusReason !== undefined) ops.push(opToSet(referral, ["statusReason"], plan.to.statusReason));
  return ok(ops);
}

function referralLink(template: string): TransformImpl {
  return {
    fromPartnerCenter: (raw, ctx) => {
      if (typeof raw !== "string" || raw === "") return null;
      const engagement = (ctx.referral as { engagementId?: unknown }).engagementId;
      return template
        .replace(/\{id\}/g, encodeURIComponent(raw))
        .replace(/\{engagementId\}/g, typeof engagement === "string" ? encodeURIComponent(engagement) : "");
    },
    fromDataverse: (raw) => text(raw),
    toPartnerCenter: () => refuse("The referral link is made by Partner Center."),
    toDataverse: (value) => ok(scalar(value)),
  };
}

export function transformFor(transform: Transform): TransformImpl {
  switch (transform.type) {
    case "text":
      return textTransform(transform.maxLength);
    case "stripCheckmark":
      return textTransform(transform.maxLength, true, true);
    case "email":
      return email;
    case "countryCode":
      return country;
    case "money":
      return money;
    case "dateOnly":
      return dateOnly;
    case "boolean":
      return booleanTransform(transform.sticky ?? false);
    case "picklist":
      return picklist(picklistOptions(transform));
    case "products":
      return products;
    case "currencyIsoCode":
      return currencyIsoCode;
    case "status":
      return status;
    case "owner":
      return owner;
    case "referralLink":
      return referralLink(transform.template);
  }
}

/** Transforms whose Dataverse value comes from a resolved lookup row, not from the record's column. */
export const LOOKUP_TRANSFORMS: ReadonlySet<Transform["type"]> = new Set(["currencyIsoCode", "owner"]);
