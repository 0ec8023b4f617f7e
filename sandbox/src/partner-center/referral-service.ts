/**
 * What Partner Center does with referrals, without HTTP: creating (by the partner, or arriving from
 * Microsoft), JSON Patch and PUT updates with If-Match, Microsoft's answer to a co-sell request,
 * expiry. Every accepted change gets a new eTag and updatedDateTime and is reported as a commit
 * (which the emulator turns into a webhook event and a log line).
 */
import { randomUUID } from "node:crypto";
import { applyPatch, JsonPatchError, type Operation } from "fast-json-patch";
import { addDays, Clock, formatInstant, parseServerInstant, type Instant } from "./clock";
import { badRequest, notFound, PartnerCenterError } from "./errors";
import {
  bind,
  BindError,
  canonicalField,
  materialize,
  REFERRAL_SHAPE,
  resolvePointer,
  SERVER_OWNED_FIELDS,
  type Member,
  type Referral,
  type ReferralStatus,
  type ReferralSubstatus,
} from "./referral-shape";
import { checkChange, checkCoSellPrerequisites, checkContent, initialStatus, isTerminal, terminalError } from "./referral-rules";
import { ReferralStore, type Owner, type StoredReferral } from "./referral-store";

export const MICROSOFT_ORGANIZATION = { organizationId: "msft", organizationName: "Microsoft" } as const;
/** "If you don't respond … within the allotted time (currently 14 days)" (LIST). */
export const RESPONSE_WINDOW_DAYS = 14;

export type ReferralEventName = "referral-created" | "referral-updated" | "related-referral-created" | "related-referral-updated";
export type Actor = "partner" | "microsoft" | "system";

export interface Commit {
  readonly seq: number;
  readonly referralId: string;
  readonly engagementId: string;
  readonly eventName: ReferralEventName;
  /** Epoch milliseconds, with the fraction below the millisecond. */
  readonly at: number;
  readonly instant: Instant;
  readonly actor: Actor;
  readonly eTag: string;
  readonly callerId?: string;
}

export interface Partner {
  readonly organizationId: string;
  readonly organizationName: string;
}

export interface ChangeContext {
  readonly actor: Actor;
  readonly ifMatch?: string | undefined;
  readonly callerId?: string | undefined;
}

export interface MicrosoftResponse {
  readonly decision: "accept" | "decline";
  readonly reason?: string | undefined;
  readonly microsoftSeller: { firstName: string; lastName: string; email: string; phoneNumber?: string | undefined };
  readonly microsoftCrmId?: string | undefined;
  readonly notes?: string | undefined;
}

const clone = <T>(v: T): T => structuredClone(v);

function bindOrThrow(input: unknown, skip?: ReadonlySet<string>): { value: Record<string, unknown>; ignored: string[] } {
  try {
    const { value, ignored } = bind(input, REFERRAL_SHAPE, "", skip);
    return { value: value as Record<string, unknown>, ignored };
  } catch (e) {
    if (e instanceof BindError) throw badRequest(e.message, e);
    throw e;
  }
}

/** Normalises an ETag from a header or a body: no `W/`, no quotes. */
export function normaliseETag(tag: string): string {
  let t = tag.trim();
  if (t.startsWith("W/")) t = t.slice(2);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  return t.replace(/\\"/g, "").replace(/"/g, "");
}

export function ifMatchSatisfied(header: string, eTag: string): boolean {
  const current = normaliseETag(eTag);
  return header.split(",").some((candidate) => candidate.trim() === "*" || normaliseETag(candidate) === current);
}

export class ReferralService {
  readonly store = new ReferralStore();
  private seq = 0;
  private eTagCounter = Math.floor(Math.random() * 0xffffffff);

  constructor(
    private readonly partner: Partner,
    private readonly clock: Clock,
    private readonly onCommit: (commit: Commit, referral: StoredReferral) => void,
  ) {}

  reset(): void {
    this.store.clear();
  }

  get(id: string): StoredReferral {
    const r = this.store.get(id);
    if (!r) throw notFound(`Referral '${id}' was not found.`);
    return r;
  }

  /** Cosmos-style ETag as the RR sample shows it: `"2500ec5a-0000-0000-0000-5bf4967d0000"`, quotes included. */
  private nextETag(at: Instant): string {
    this.eTagCounter = (this.eTagCounter + 1) >>> 0;
    const version = this.eTagCounter.toString(16).padStart(8, "0");
    const seconds = Math.floor(at.ms / 1000).toString(16).padStart(8, "0");
    return `"${version}-0000-0000-0000-${seconds}0000"`;
  }

  private eventName(owner: Owner, created: boolean): ReferralEventName {
    const base = created ? "created" : "updated";
    return owner === "partner" ? `referral-${base}` : `related-referral-${base}`;
  }

  private commit(stored: StoredReferral, created: boolean, ctx: ChangeContext): void {
    if (created) this.store.insert(stored);
    else this.store.replace(stored);
    const commit: Commit = {
      seq: ++this.seq,
      referralId: stored.doc.id,
      engagementId: stored.doc.engagementId,
      eventName: this.eventName(stored.owner, created),
      at: stored.updated.ms + stored.updated.sub,
      instant: stored.updated,
      actor: ctx.actor,
      eTag: stored.doc.eTag,
      ...(ctx.callerId === undefined ? {} : { callerId: ctx.callerId }),
    };
    this.onCommit(commit, stored);
  }

  private newEngagementOrExisting(given: unknown, allowNew: boolean): string {
    if (typeof given !== "string" || given.trim() === "") return randomUUID();
    const id = given.trim();
    if (!this.store.engagementExists(id) && !allowNew) throw badRequest(`engagementId '${id}' does not name an existing engagement.`);
    return id;
  }

  /** POST /referrals: the partner's own referral (direction Outgoing). */
  createByPartner(body: unknown, ctx: ChangeContext): { stored: StoredReferral; ignored: string[] } {
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("The request body must be a Referral object.");
    const rawEngagement = Object.entries(body).find(([k]) => k.toLowerCase() === "engagementid")?.[1];
    const { value, ignored } = bindOrThrow(body, SERVER_OWNED_FIELDS);
    for (const required of ["type", "customerProfile", "consent", "details"] as const)
      if (value[required] === null || value[required] === undefined) throw badRequest(`${required} is required.`);
    const now = this.clock.now();
    const doc = materialize(REFERRAL_SHAPE, value) as Referral;
    const { status, substatus } = initialStatus(doc.status === null ? null : doc.status, doc.substatus === null ? null : doc.substatus, {
      status: "Active",
      substatus: "Accepted",
    });
    const created = formatInstant(now);
    doc.id = randomUUID();
    doc.engagementId = this.newEngagementOrExisting(rawEngagement, false);
    doc.organizationId = this.partner.organizationId;
    doc.organizationName = this.partner.organizationName;
    doc.direction = "Outgoing";
    doc.status = status;
    doc.substatus = substatus;
    doc.createdDateTime = created;
    doc.updatedDateTime = created;
    const expiration = addDays(now, RESPONSE_WINDOW_DAYS);
    doc.expirationDateTime = formatInstant(expiration);
    // RR-live: "For outgoing referrals, it's same date as referral creation datetime" (when accepted).
    doc.acceptedDateTime = status === "Active" ? created : null;
    if (doc.inviteContext.invitedBy.organizationId === null) doc.inviteContext.invitedBy = { ...this.partner };
    doc.eTag = this.nextETag(now);
    checkContent(doc);
    checkCoSellPrerequisites(doc);
    const stored: StoredReferral = { doc, created: now, updated: now, expiration, owner: "partner" };
    this.commit(stored, true, ctx);
    return { stored, ignored };
  }

  /** POST /_emulator/inbound-referrals: a referral Microsoft sends to the partner (direction Incoming). */
  createInbound(body: unknown): { stored: StoredReferral; ignored: string[] } {
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("The request body must be a Referral object.");
    const raw = Object.fromEntries(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
    const { value, ignored } = bindOrThrow(body, SERVER_OWNED_FIELDS);
    const now = this.clock.now();
    const doc = materialize(REFERRAL_SHAPE, value) as Referral;
    const { status, substatus } = initialStatus(doc.status === null ? null : doc.status, doc.substatus === null ? null : doc.substatus, {
      status: "New",
      substatus: "Pending",
    });
    let expiration = addDays(now, RESPONSE_WINDOW_DAYS);
    if (raw["expirationdatetime"] !== undefined && raw["expirationdatetime"] !== null) {
      const given = typeof raw["expirationdatetime"] === "string" ? parseServerInstant(raw["expirationdatetime"]) : undefined;
      if (!given) throw badRequest("expirationDateTime must be an ISO 8601 date and time.");
      expiration = given;
    }
    const created = formatInstant(now);
    doc.id = randomUUID();
    doc.engagementId = this.newEngagementOrExisting(raw["engagementid"], true);
    doc.organizationId = this.partner.organizationId;
    doc.organizationName = this.partner.organizationName;
    doc.direction = "Incoming";
    doc.status = status;
    doc.substatus = substatus;
    doc.type ??= "Shared";
    doc.qualification ??= "SalesQualified";
    doc.createdDateTime = created;
    doc.updatedDateTime = created;
    doc.expirationDateTime = formatInstant(expiration);
    doc.acceptedDateTime = status === "Active" ? created : null;
    if (doc.inviteContext.invitedBy.organizationId === null) doc.inviteContext.invitedBy = { ...MICROSOFT_ORGANIZATION };
    doc.eTag = this.nextETag(now);
    checkContent(doc);
    const stored: StoredReferral = { doc, created: now, updated: now, expiration, owner: "partner" };
    this.commit(stored, true, { actor: "microsoft" });
    return { stored, ignored };
  }

  private requireWritable(stored: StoredReferral, ctx: ChangeContext): void {
    if (ctx.actor === "partner" && stored.owner !== "partner")
      throw new PartnerCenterError("Forbidden", `Referral '${stored.doc.id}' belongs to ${stored.doc.organizationName ?? "another organization"} and cannot be changed by this partner.`);
    if (ctx.ifMatch !== undefined && !ifMatchSatisfied(ctx.ifMatch, stored.doc.eTag))
      throw new PartnerCenterError("PreconditionFailed", `The eTag in If-Match does not match the referral's current eTag; read the referral again and retry.`);
  }

  /** Stores `after` as the new version of `before` (new eTag, updatedDateTime, acceptedDateTime on acceptance). */
  private update(before: StoredReferral, after: Referral, ctx: ChangeContext, extra: Partial<Pick<StoredReferral, "expiration">> = {}): StoredReferral {
    const now = this.clock.now();
    after.updatedDateTime = formatInstant(now);
    if (after.status === "Active" && before.doc.status !== "Active" && after.acceptedDateTime === null) after.acceptedDateTime = after.updatedDateTime;
    after.eTag = this.nextETag(now);
    const stored: StoredReferral = { ...before, ...extra, doc: after, updated: now };
    this.commit(stored, false, ctx);
    return stored;
  }

  /** PATCH with a JSON Patch document: `replace` and `add` only, all or nothing (§2.5). */
  patch(id: string, ops: unknown, ctx: ChangeContext): StoredReferral {
    const before = this.get(id);
    this.requireWritable(before, ctx);
    if (isTerminal(before.doc)) throw terminalError(before.doc);
    const operations = this.bindOperations(ops);
    let after: Referral;
    try {
      after = applyPatch(before.doc, operations, true, false).newDocument;
    } catch (e) {
      if (e instanceof JsonPatchError) {
        const index = typeof e.index === "number" ? ` (operation ${e.index})` : "";
        throw badRequest(`The JSON Patch cannot be applied${index}: ${e.message.split("\n")[0]}`, e);
      }
      throw e;
    }
    after = materialize(REFERRAL_SHAPE, after) as Referral;
    this.restoreServerFields(before.doc, after);
    checkChange(before.doc, after);
    return this.update(before, after, ctx);
  }

  private bindOperations(ops: unknown): Operation[] {
    if (!Array.isArray(ops) || ops.length === 0)
      throw badRequest("The request body must be a non-empty JSON Patch array, e.g. [{\"op\":\"replace\",\"path\":\"/details/dealValue\",\"value\":10000}].");
    return ops.map((op: unknown, i): Operation => {
      if (op === null || typeof op !== "object" || Array.isArray(op)) throw badRequest(`JSON Patch operation ${i} must be an object.`);
      const o = op as Record<string, unknown>;
      if (o.op !== "replace" && o.op !== "add")
        throw badRequest(`JSON Patch operation ${i}: op '${String(o.op)}' is not supported; only 'replace' and 'add' are.`);
      if (!("value" in o)) throw badRequest(`JSON Patch operation ${i} (${o.op}) needs a value.`);
      let resolved;
      try {
        resolved = resolvePointer(typeof o.path === "string" ? o.path : "");
      } catch (e) {
        if (e instanceof BindError) throw badRequest(`JSON Patch operation ${i}: ${e.message}`, e);
        throw e;
      }
      const top = resolved.segments[0] as string;
      if (SERVER_OWNED_FIELDS.has(top)) throw badRequest(`JSON Patch operation ${i}: '${top}' is set by Partner Center and cannot be changed.`);
      let value: unknown;
      try {
        value = materialize(resolved.shape, bind(o.value, resolved.shape, resolved.segments.join(".")).value);
      } catch (e) {
        if (e instanceof BindError) throw badRequest(`JSON Patch operation ${i}: ${e.message}`, e);
        throw e;
      }
      return { op: o.op, path: resolved.pointer, value } as Operation;
    });
  }

  private restoreServerFields(before: Referral, after: Referral): void {
    const target = after as unknown as Record<string, unknown>;
    const source = before as unknown as Record<string, unknown>;
    for (const field of SERVER_OWNED_FIELDS) target[field] = clone(source[field]);
  }

  /** PUT (obsolete): the whole referral; If-Match is required (§2.5). */
  put(id: string, body: unknown, ctx: ChangeContext): StoredReferral {
    const before = this.get(id);
    if (ctx.ifMatch === undefined)
      throw new PartnerCenterError("PreconditionRequired", "PUT replaces the whole referral and needs an If-Match header with the referral's eTag.");
    this.requireWritable(before, ctx);
    if (isTerminal(before.doc)) throw terminalError(before.doc);
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("The request body must be a Referral object.");
    const givenId = Object.entries(body).find(([k]) => canonicalField(REFERRAL_SHAPE as Extract<typeof REFERRAL_SHAPE, { t: "object" }>, k) === "id")?.[1];
    if (givenId !== undefined && givenId !== null && givenId !== id) throw badRequest(`The body's id '${String(givenId)}' does not match the referral '${id}' in the URL.`);
    const { value } = bindOrThrow(body, SERVER_OWNED_FIELDS);
    const after = materialize(REFERRAL_SHAPE, value) as Referral;
    after.status ??= before.doc.status;
    after.substatus ??= before.doc.substatus;
    this.restoreServerFields(before.doc, after);
    checkChange(before.doc, after);
    return this.update(before, after, ctx);
  }

  /**
   * Microsoft's answer to the partner's co-sell request on referral `id`: creates (first answer) or
   * updates Microsoft's referral on the same engagement (organizationId 'msft').
   */
  microsoftResponse(id: string, response: MicrosoftResponse): { stored: StoredReferral; created: boolean } {
    const partnerReferral = this.get(id);
    if (partnerReferral.owner !== "partner") throw badRequest(`Referral '${id}' is Microsoft's own; answer on the partner's referral.`);
    const p = partnerReferral.doc;
    if (p.type !== "Shared" && p.consent.consentToShareReferralWithMicrosoftSellers !== true)
      throw badRequest(`Referral '${id}' is not shared with Microsoft (type Independent and no consent to share with Microsoft sellers).`);
    const accept = response.decision === "accept";
    const status: ReferralStatus = accept ? "Active" : "Closed";
    const substatus: ReferralSubstatus = accept ? "Accepted" : "Declined";
    const seller: Member = {
      firstName: response.microsoftSeller.firstName,
      lastName: response.microsoftSeller.lastName,
      email: response.microsoftSeller.email,
      phoneNumber: response.microsoftSeller.phoneNumber ?? null,
      contactPreference: null,
    };
    const existing = this.store.inEngagement(p.engagementId).find((r) => r.owner === "microsoft");
    if (existing) {
      if (isTerminal(existing.doc)) throw terminalError(existing.doc);
      const after = clone(existing.doc);
      after.status = status;
      after.substatus = substatus;
      after.statusReason = accept ? after.statusReason : (response.reason ?? null);
      const sellerEmail = response.microsoftSeller.email.toLowerCase();
      if (!after.team.some((m) => m.email?.toLowerCase() === sellerEmail)) after.team.push(seller);
      if (response.microsoftCrmId !== undefined) after.trackingInfo.microsoftMsxId = response.microsoftCrmId;
      if (response.notes !== undefined) after.details.notes = response.notes;
      checkChange(existing.doc, after);
      return { stored: this.update(existing, after, { actor: "microsoft" }), created: false };
    }
    const now = this.clock.now();
    const created = formatInstant(now);
    const doc = materialize(REFERRAL_SHAPE, {}) as Referral;
    Object.assign(doc, {
      id: randomUUID(),
      engagementId: p.engagementId,
      organizationId: MICROSOFT_ORGANIZATION.organizationId,
      organizationName: MICROSOFT_ORGANIZATION.organizationName,
      name: p.name,
      createdDateTime: created,
      updatedDateTime: created,
      expirationDateTime: null,
      acceptedDateTime: accept ? created : null,
      status,
      substatus,
      statusReason: accept ? null : (response.reason ?? null),
      type: "Shared",
      qualification: p.qualification,
      // Seen from the partner's side, Microsoft's referral is not the partner's own (UNVERIFIED).
      direction: "Incoming",
      customerProfile: clone(p.customerProfile),
      consent: clone(p.consent),
      details: { ...clone(p.details), notes: response.notes ?? null },
      team: [seller],
      inviteContext: {
        notes: null,
        invitedBy: { organizationId: this.partner.organizationId, organizationName: this.partner.organizationName },
        assistanceRequestCode: p.inviteContext.assistanceRequestCode,
      },
      target: [{ id: this.partner.organizationId, type: "BusinessProfileLocation" }],
      trackingInfo: { microsoftMsxId: response.microsoftCrmId ?? null },
      eTag: this.nextETag(now),
    } satisfies Partial<Referral>);
    checkContent(doc);
    const stored: StoredReferral = { doc, created: now, updated: now, expiration: null, owner: "microsoft" };
    this.commit(stored, true, { actor: "microsoft" });
    return { stored, created: true };
  }

  /** Closes a referral as Expired (§2.8: unanswered after 14 days). */
  expire(id: string): StoredReferral {
    const before = this.get(id);
    if (isTerminal(before.doc)) throw terminalError(before.doc);
    const after = clone(before.doc);
    after.status = "Closed";
    after.substatus = "Expired";
    checkChange(before.doc, after);
    return this.update(before, after, { actor: "system" });
  }

  /** Expires every referral still waiting for an answer (status New) whose expirationDateTime has passed. */
  expireDue(asOf: Instant): string[] {
    const due: string[] = [];
    for (const r of this.store.all())
      if (r.doc.status === "New" && r.expiration !== null && (r.expiration.ms < asOf.ms || (r.expiration.ms === asOf.ms && r.expiration.sub <= asOf.sub)))
        due.push(r.doc.id);
    for (const id of due) this.expire(id);
    return due;
  }
}
