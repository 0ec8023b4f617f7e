/**
 * Webhook intake: from the raw request to a persisted event, or a refusal. Shared by both
 * endpoints: verify the sender (Partner Center: signature on the raw bytes; Dataverse: the header
 * key, compared in constant time), parse the body (zod), find the link's canonical job key, and
 * record the event with its job in one transaction. Only then may the caller answer 2xx.
 *
 * Nothing here trusts the body beyond "which record changed": the sync re-reads it from its source.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Table } from "@cosell/contract";
import { DataverseWebhookError, parseDataverseWebhook } from "../dataverse/model";
import { isGuid, recordKey, referralKey, type RecordKind } from "../engine/keys";
import { parseWebhookEvent, TEST_EVENT_NAME, WebhookEventError } from "../partner-center/model";
import type { Store } from "../store";
import { type PartnerCenterSignatureVerifier, SignatureError } from "./partner-center-signature";

type HeaderBag = Record<string, string | string[] | undefined>;

export type IntakeResult =
  | { readonly status: 200; readonly outcome: "accepted" | "duplicate"; readonly linkKey: string; readonly eventId?: number }
  | { readonly status: 200; readonly outcome: "ignored"; readonly reason: string }
  | { readonly status: 400 | 401; readonly outcome: "rejected"; readonly reason: string };

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(raw.toString("utf8")) as unknown };
  } catch (err) {
    return { ok: false, reason: `the body is not JSON (${(err as Error).message.slice(0, 100)})` };
  }
}

export class PartnerCenterIntake {
  constructor(
    private readonly store: Store,
    private readonly verifier: PartnerCenterSignatureVerifier,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async receive(raw: Buffer, headers: HeaderBag): Promise<IntakeResult> {
    try {
      await this.verifier.verify(raw, headers);
    } catch (err) {
      if (err instanceof SignatureError) return { status: 401, outcome: "rejected", reason: `${err.failure}: ${err.message}` };
      throw err;
    }
    const json = parseJson(raw);
    if (!json.ok) return { status: 400, outcome: "rejected", reason: json.reason };
    let event;
    try {
      event = parseWebhookEvent(json.value);
    } catch (err) {
      if (err instanceof WebhookEventError) return { status: 400, outcome: "rejected", reason: err.message.slice(0, 500) };
      throw err;
    }
    if (event.eventName === TEST_EVENT_NAME) return { status: 200, outcome: "ignored", reason: "test event" };
    if (!event.isReferralEvent) return { status: 200, outcome: "ignored", reason: `event ${event.eventName} is not one the bridge registers` };

    const receivedAt = this.now();
    const link = await this.store.findLinkByReferralId(event.referralId);
    const linkKey = link?.key ?? referralKey(event.referralId);
    // No event id exists (specs §3.3): the same change announced twice carries the same three values.
    const dedupeKey = `${event.eventName}|${event.referralId}|${event.changedAt ?? receivedAt.toISOString()}`;
    const result = await this.store.recordEvent({
      source: "partner-center",
      dedupeKey,
      receivedAt,
      payload: { eventName: event.eventName, referralId: event.referralId, changedAt: event.changedAt ?? null },
      linkKey,
    });
    return result.isNew ? { status: 200, outcome: "accepted", linkKey, eventId: result.eventId } : { status: 200, outcome: "duplicate", linkKey };
  }
}

/** SHA-256 both sides first: timingSafeEqual needs equal lengths, and the length must not leak either. */
export function constantTimeEquals(given: string | undefined, expected: string): boolean {
  const a = createHash("sha256").update(given ?? "", "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b) && given !== undefined;
}

const RECORD_KINDS: Readonly<Record<string, RecordKind>> = {
  [Table.opportunity.logicalName]: "opportunity",
  [Table.lead.logicalName]: "lead",
};

export class DataverseIntake {
  constructor(
    private readonly store: Store,
    private readonly headerName: string,
    private readonly key: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async receive(raw: Buffer, headers: HeaderBag): Promise<IntakeResult> {
    const given = headers[this.headerName.toLowerCase()];
    if (!constantTimeEquals(Array.isArray(given) ? given[0] : given, this.key))
      return { status: 401, outcome: "rejected", reason: `missing or wrong ${this.headerName} header` };
    const json = parseJson(raw);
    if (!json.ok) return { status: 400, outcome: "rejected", reason: json.reason };
    let event;
    try {
      event = parseDataverseWebhook(json.value);
    } catch (err) {
      if (err instanceof DataverseWebhookError) return { status: 400, outcome: "rejected", reason: err.message.slice(0, 500) };
      throw err;
    }
    const kind = RECORD_KINDS[event.entityName.toLowerCase()];
    if (!kind) return { status: 200, outcome: "ignored", reason: `table ${event.entityName} is not synced` };
    if (!isGuid(event.entityId)) return { status: 400, outcome: "rejected", reason: "PrimaryEntityId is not a record id" };

    const receivedAt = this.now();
    const id = event.entityId.toLowerCase();
    const link = await this.store.findLinkByRecord(kind, id);
    const linkKey = link?.key ?? recordKey(kind, id);
    // OperationId identifies the operation (a 502/503/504 retry repeats it); without one, nothing can.
    const dedupeKey = event.operationId
      ? `${event.messageName}|${event.operationId}`
      : `${event.messageName}|${id}|${event.correlationId ?? ""}|${receivedAt.toISOString()}`;
    const result = await this.store.recordEvent({
      source: "dataverse",
      dedupeKey,
      receivedAt,
      payload: { message: event.messageName, entity: kind, id, changed: event.changedColumns.slice(0, 50), depth: event.depth ?? null },
      linkKey,
    });
    return result.isNew ? { status: 200, outcome: "accepted", linkKey, eventId: result.eventId } : { status: 200, outcome: "duplicate", linkKey };
  }
}
