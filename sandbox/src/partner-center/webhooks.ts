/**
 * Partner Center Webhooks, the sending side (specs §3): one registration per partner (one URL for
 * all its events), signed POSTs of the PascalCase change payload, 10 attempts with exponential
 * backoff then the offline queue, and test (validation) events with per-attempt results.
 *
 * Delivery never blocks the API: `publish` only queues. Attempts run at most `concurrency` at a time.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { FaultInjector } from "../faults";
import { formatInstant, formatWebhookInstant, type Clock, type Instant } from "./clock";
import { badRequest, PartnerCenterError } from "./errors";

/** Events GET /registration/events lists: the referral ones plus those the docs sample shows. */
export const SUPPORTED_EVENTS = [
  "subscription-updated",
  "test-created",
  "usagerecords-thresholdExceeded",
  "referral-created",
  "referral-updated",
  "related-referral-created",
  "related-referral-updated",
] as const;

export interface Registration {
  readonly subscriberId: string;
  readonly webhookUrl: string;
  readonly webhookEvents: readonly string[];
  readonly signatureTokenToMsSignatureHeader: boolean;
  readonly lastModifiedTimestamp: string;
}

/** The registration as the API answers it (PascalCase, as the docs show). */
export function registrationBody(r: Registration): Record<string, unknown> {
  return {
    SubscriberId: r.subscriberId,
    WebhookUrl: r.webhookUrl,
    WebhookEvents: [...r.webhookEvents],
    SignatureTokenToMsSignatureHeader: r.signatureTokenToMsSignatureHeader,
    LastModifiedTimestamp: r.lastModifiedTimestamp,
  };
}

const RegistrationInput = z.object({
  webhookurl: z.string({ error: "WebhookUrl is required." }).refine((u) => {
    try {
      const url = new URL(u);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch {
      return false;
    }
  }, "WebhookUrl must be an absolute http(s) URL."),
  webhookevents: z
    .array(z.string(), { error: "WebhookEvents must be an array of event names." })
    .min(1, "WebhookEvents must name at least one event."),
  signaturetokentomssignatureheader: z
    .union([z.boolean(), z.enum(["true", "false", "True", "False"]).transform((v) => v.toLowerCase() === "true")])
    .optional(),
});

/** Binds a registration body; property names case-insensitively (docs PascalCase, swagger camelCase). */
export function parseRegistration(body: unknown): { webhookUrl: string; webhookEvents: string[]; signatureTokenToMsSignatureHeader: boolean } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("The request body must be a webhook registration object.");
  const lowered = Object.fromEntries(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
  const parsed = RegistrationInput.safeParse(lowered);
  if (!parsed.success) throw badRequest(parsed.error.issues.map((i) => i.message).join(" "));
  const unknown = parsed.data.webhookevents.filter((e) => !(SUPPORTED_EVENTS as readonly string[]).includes(e));
  if (unknown.length > 0) throw badRequest(`Unsupported webhook event(s): ${unknown.join(", ")}. GET /webhooks/v1/registration/events lists the supported ones.`);
  return {
    webhookUrl: parsed.data.webhookurl,
    webhookEvents: [...new Set(parsed.data.webhookevents)],
    signatureTokenToMsSignatureHeader: parsed.data.signaturetokentomssignatureheader ?? false,
  };
}

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly error: string | null;
}

export type DeliveryStatus = "pending" | "delivered" | "offline" | "dropped";

export interface DeliveryRecord {
  readonly id: number;
  readonly eventName: string;
  readonly resourceUri: string;
  readonly resourceId: string;
  readonly url: string;
  /** The exact bytes sent (and signed). */
  readonly body: string;
  /** Headers sent with every attempt (empty until the first attempt signs the body). */
  headers: Readonly<Record<string, string>>;
  /** Where the signature goes: `authorization`, or `x-ms-signature` when the registration asked for it. */
  readonly signatureHeader: "authorization" | "x-ms-signature";
  status: DeliveryStatus;
  readonly attempts: DeliveryAttempt[];
  readonly createdAt: string;
  completedAt: string | null;
  /** Set when the fault injector delayed the first attempt. */
  delayedMs: number;
}

export interface ValidationEvent {
  readonly correlationId: string;
  readonly partnerId: string;
  status: "pending" | "completed" | "failed";
  readonly callbackUrl: string;
  readonly results: { responseCode: number | null; responseMessage: string; systemError: string | null; dateTimeUtc: string }[];
}

export interface DispatcherOptions {
  readonly clock: Clock;
  readonly faults: FaultInjector;
  readonly sign: (body: Buffer) => string;
  readonly certificateUrl: () => string;
  readonly partnerId: string;
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly maxLog: number;
  readonly validationEventsPerMinute: number;
  readonly onDelivery: (record: DeliveryRecord) => void;
  readonly onError: (message: string, data: Record<string, unknown>) => void;
}

/** Registration store + delivery engine. */
export class WebhookDispatcher {
  private registration: Registration | null = null;
  private readonly log: DeliveryRecord[] = [];
  private nextId = 1;
  private readonly validation = new Map<string, ValidationEvent>();
  private readonly validationTimes: number[] = [];
  /** Bumped by reset/close: work of an older generation stops where it is. */
  private generation = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(private readonly o: DispatcherOptions) {}

  get current(): Registration | null {
    return this.registration;
  }

  create(input: ReturnType<typeof parseRegistration>): Registration {
    if (this.registration)
      throw new PartnerCenterError("Conflict", "A webhook registration already exists for this partner; use PUT to replace it.");
    return this.store(input);
  }

  replace(input: ReturnType<typeof parseRegistration>): Registration {
    if (!this.registration) throw new PartnerCenterError("NotFound", "No webhook registration exists; create one with POST.");
    return this.store(input);
  }

  private store(input: ReturnType<typeof parseRegistration>): Registration {
    this.registration = { subscriberId: this.o.partnerId, ...input, lastModifiedTimestamp: formatInstant(this.o.clock.now()) };
    return this.registration;
  }

  /** Queues an event for the registered URL, if the registration asked for it. */
  publish(eventName: string, resourceUri: string, resourceName: string, at: Instant, resourceId: string): DeliveryRecord | null {
    const reg = this.registration;
    if (!reg || this.closed || !reg.webhookEvents.includes(eventName)) return null;
    const body = JSON.stringify({
      EventName: eventName,
      ResourceUri: resourceUri,
      ResourceName: resourceName,
      AuditUri: null,
      ResourceChangeUtcDate: formatWebhookInstant(at),
    });
    const record: DeliveryRecord = {
      id: this.nextId++,
      eventName,
      resourceUri,
      resourceId,
      url: reg.webhookUrl,
      body,
      headers: {},
      signatureHeader: reg.signatureTokenToMsSignatureHeader ? "x-ms-signature" : "authorization",
      status: "pending",
      attempts: [],
      createdAt: formatInstant(this.o.clock.now()),
      completedAt: null,
      delayedMs: 0,
    };
    this.log.push(record);
    // Trimmed in batches so a full log costs amortized O(1) per event.
    if (this.log.length > this.o.maxLog + Math.max(64, this.o.maxLog >> 4)) this.log.splice(0, this.log.length - this.o.maxLog);
    const fault = this.o.faults.drawWebhookFault();
    const generation = this.generation;
    if (fault.kind === "drop") {
      this.finish(record, "dropped");
      return record;
    }
    const delay = fault.kind === "delay" ? fault.ms : 0;
    record.delayedMs = delay;
    this.later(delay, generation, () => {
      // Signed here, off the API's request path: RSA costs a fraction of a millisecond per event.
      record.headers = {
        "content-type": "application/json",
        [record.signatureHeader]: `Signature ${this.o.sign(Buffer.from(record.body, "utf8"))}`,
        "x-ms-certificate-url": this.o.certificateUrl(),
        "x-ms-signature-algorithm": "rsa-sha256",
      };
      void this.attempt(record, 1, generation);
    });
    return record;
  }

  deliveries(): readonly DeliveryRecord[] {
    return this.log;
  }

  clearDeliveries(): void {
    this.log.length = 0;
  }

  /** POST /validationEvents: a test-created event to the registered URL (2 per minute, configurable). */
  sendValidationEvent(): string {
    const reg = this.registration;
    if (!reg) throw new PartnerCenterError("NotFound", "No webhook registration exists; register one (with test-created) first.");
    if (!reg.webhookEvents.includes("test-created"))
      throw badRequest("The registration does not include the 'test-created' event, which validation events need.");
    const now = Date.now();
    while (this.validationTimes.length > 0 && (this.validationTimes[0] as number) <= now - 60_000) this.validationTimes.shift();
    if (this.o.validationEventsPerMinute > 0 && this.validationTimes.length >= this.o.validationEventsPerMinute) {
      const retryAfter = Math.max(1, Math.ceil(((this.validationTimes[0] as number) + 60_000 - now) / 1000));
      throw new PartnerCenterError("TooManyRequests", `At most ${this.o.validationEventsPerMinute} validation events per minute; try again in ${retryAfter} seconds.`, {
        headers: { "retry-after": String(retryAfter) },
      });
    }
    this.validationTimes.push(now);
    const correlationId = randomUUID();
    this.validation.set(correlationId, { correlationId, partnerId: this.o.partnerId, status: "pending", callbackUrl: reg.webhookUrl, results: [] });
    return correlationId;
  }

  validationEvent(correlationId: string): ValidationEvent | undefined {
    return this.validation.get(correlationId);
  }

  /** Records one attempt of a test event into its validation status. */
  private noteValidation(record: DeliveryRecord, attempt: DeliveryAttempt, responseMessage: string): void {
    if (record.eventName !== "test-created") return;
    const v = this.validation.get(record.resourceId);
    if (!v) return;
    v.results.push({ responseCode: attempt.statusCode, responseMessage, systemError: attempt.error, dateTimeUtc: attempt.startedAt });
  }

  private later(ms: number, generation: number, fn: () => void): void {
    if (generation !== this.generation) return;
    if (ms <= 0) {
      setImmediate(() => {
        if (generation === this.generation) fn();
      });
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (generation === this.generation) fn();
    }, ms);
    this.timers.add(t);
  }

  private async slot(): Promise<void> {
    if (this.running < this.o.concurrency) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
  }

  private release(): void {
    this.running--;
    const next = this.waiting.shift();
    if (next) next();
  }

  private async attempt(record: DeliveryRecord, n: number, generation: number): Promise<void> {
    await this.slot();
    if (generation !== this.generation) {
      this.release();
      return;
    }
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeout = setTimeout(() => controller.abort(new Error(`no answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    const startedAt = formatInstant(this.o.clock.now());
    const started = performance.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let message = "";
    try {
      const res = await fetch(record.url, { method: "POST", headers: record.headers, body: record.body, signal: controller.signal, redirect: "manual" });
      statusCode = res.status;
      message = res.statusText;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      error = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason.message : cause;
    } finally {
      clearTimeout(timeout);
      this.controllers.delete(controller);
      this.release();
    }
    if (generation !== this.generation) return;
    const attempt: DeliveryAttempt = { attempt: n, startedAt, durationMs: Math.round(performance.now() - started), statusCode, error };
    record.attempts.push(attempt);
    this.noteValidation(record, attempt, message || error || "");
    if (statusCode !== null && statusCode >= 200 && statusCode < 300) {
      this.finish(record, "delivered");
      return;
    }
    if (n >= this.o.attempts) {
      // "moved into an offline queue and no further attempts will be made" (WH).
      this.o.onError("webhook delivery moved to the offline queue", { id: record.id, eventName: record.eventName, url: record.url, attempts: n });
      this.finish(record, "offline");
      return;
    }
    const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (n - 1));
    this.later(delay, generation, () => void this.attempt(record, n + 1, generation));
  }

  private finish(record: DeliveryRecord, status: DeliveryStatus): void {
    record.status = status;
    record.completedAt = formatInstant(this.o.clock.now());
    if (record.eventName === "test-created") {
      const v = this.validation.get(record.resourceId);
      if (v) v.status = status === "delivered" ? "completed" : "failed";
    }
    this.o.onDelivery(record);
  }

  /** Forgets the registration, deliveries and validation events; stops pending attempts. */
  reset(): void {
    this.stopWork();
    this.registration = null;
    this.log.length = 0;
    this.validation.clear();
    this.validationTimes.length = 0;
  }

  close(): void {
    this.closed = true;
    this.stopWork();
  }

  private stopWork(): void {
    this.generation++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.controllers) c.abort(new Error("emulator reset"));
    this.controllers.clear();
  }
}
