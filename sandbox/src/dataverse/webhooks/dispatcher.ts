/**
 * Outgoing webhooks: finds the enabled post-operation steps a committed operation matches, builds
 * the RemoteExecutionContext and POSTs it to the step's webhook service endpoint (spec §3).
 *
 *  - Async steps (mode 1) are delivered after the HTTP answer, never blocking it; a failure is
 *    retried once only for 502/503/504 and then recorded as a failed system job (asyncoperation,
 *    statuscode 31). Sync steps (mode 0) are delivered before the answer and fail the operation.
 *  - Auth: HttpHeader settings become headers, WebhookKey `?code=`, HttpQueryString query pairs.
 *  - Faults: a delivery may be dropped (no attempt) or delayed (reordering deliveries).
 *  - Every delivery is logged (`GET /_emulator/webhook-deliveries`) with header values of the
 *    endpoint's secret settings masked.
 */
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import type { FaultInjector } from "../../faults";
import { sleep } from "../../faults";
import { Errors } from "../errors";
import type { Caller, CommittedOperation } from "../data/operations";
import { createRecord } from "../data/operations";
import { isLookupValue, type Row, type StoredValue } from "../data/store";
import { isoSeconds } from "../data/values";
import type { Organization } from "../org";
import { currencySymbol, primaryName } from "../api/rows";
import { buildExecutionContext, serialiseContext, type ClosePrimaryEntityId, type RemoteExecutionContext, type StepInfo } from "./context";

export const WEBHOOK_TIMEOUT_MS = 60_000;
const RETRIED_STATUSES = new Set([502, 503, 504]);
const MAX_PARALLEL_DELIVERIES = 8;
/** The delivery log keeps the newest entries only (each holds a whole context). */
export const MAX_LOGGED_DELIVERIES = 20_000;

export interface DeliveryAttempt {
  readonly at: string;
  readonly status?: number;
  readonly error?: string;
  readonly durationMs: number;
}

export interface WebhookDelivery {
  readonly id: string;
  readonly stepId: string;
  readonly serviceEndpointId: string;
  /** The endpoint URL; a WebhookKey / query-string secret is masked. */
  readonly url: string;
  readonly message: string;
  readonly entity: string;
  readonly primaryEntityId: string;
  readonly operationId: string;
  readonly correlationId: string;
  readonly mode: "sync" | "async";
  /** Request headers sent, secret values masked. */
  readonly headers: Record<string, string>;
  /** The RemoteExecutionContext as sent. */
  readonly body: RemoteExecutionContext;
  readonly trimmed: boolean;
  outcome: "pending" | "delivered" | "failed" | "dropped";
  readonly attempts: DeliveryAttempt[];
}

interface Endpoint {
  readonly id: string;
  readonly url: string;
  readonly authtype: number;
  readonly settings: ReadonlyArray<[string, string]>;
  readonly authvalue: string | undefined;
}

interface MatchedStep extends StepInfo {
  readonly endpoint: Endpoint;
  readonly asyncAutoDelete: boolean;
}

const decodeXml = (s: string) =>
  s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** `<settings><setting name="x" value="y"/></settings>` → [["x","y"]]. */
export function parseAuthSettings(authvalue: string | undefined): Array<[string, string]> {
  if (!authvalue) return [];
  const out: Array<[string, string]> = [];
  const re = /<setting\s+([^>]*?)\/?>/g;
  for (let m = re.exec(authvalue); m; m = re.exec(authvalue)) {
    const attrs = m[1] ?? "";
    const name = /name\s*=\s*"([^"]*)"/.exec(attrs)?.[1] ?? /name\s*=\s*'([^']*)'/.exec(attrs)?.[1];
    const value = /value\s*=\s*"([^"]*)"/.exec(attrs)?.[1] ?? /value\s*=\s*'([^']*)'/.exec(attrs)?.[1];
    if (name !== undefined && value !== undefined) out.push([decodeXml(name), decodeXml(value)]);
  }
  return out;
}

const ref = (v: StoredValue | undefined): string | undefined => (isLookupValue(v) ? v.id : undefined);

export class WebhookDispatcher {
  readonly deliveries: WebhookDelivery[] = [];
  /** Bumped by clear() (a reset): deliveries from before it record nothing afterwards. */
  private generation = 0;
  private readonly pending = new Set<Promise<void>>();
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly org: Organization,
    private readonly faults: FaultInjector,
    private readonly organizationHost: () => string,
    private readonly events: EventEmitter,
    /** Aborted when the emulator closes: in-flight deliveries stop at once. */
    private readonly closing: AbortSignal,
    private readonly closePrimaryEntityId: ClosePrimaryEntityId = "opportunity",
  ) {}

  clear(): void {
    this.deliveries.length = 0;
    this.generation++;
  }

  /** Resolves when every queued and running delivery has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private steps(op: CommittedOperation): MatchedStep[] {
    const { org } = this;
    const out: MatchedStep[] = [];
    for (const rec of org.store.scan("sdkmessageprocessingstep")) {
      const s = rec.row;
      if (s.statecode !== 0 || s.stage !== 40) continue;
      const messageId = ref(s.sdkmessageid);
      const message = messageId ? org.row("sdkmessage", messageId)?.name : undefined;
      if (message !== op.message) continue;
      const filterId = ref(s.sdkmessagefilterid);
      if (filterId) {
        const filter = org.row("sdkmessagefilter", filterId);
        if (!filter || filter.primaryobjecttypecode !== op.entity) continue;
      }
      if (op.message === "Update" && typeof s.filteringattributes === "string" && s.filteringattributes.trim() !== "") {
        const wanted = new Set(s.filteringattributes.split(",").map((x) => x.trim().toLowerCase()));
        if (!op.submitted.some((c) => wanted.has(c))) continue;
      }
      const handler = s.eventhandler;
      if (!isLookupValue(handler) || handler.entity !== "serviceendpoint") continue;
      const ep = org.row("serviceendpoint", handler.id);
      if (!ep || ep.contract !== 8 || typeof ep.url !== "string") continue;
      const stepId = s.sdkmessageprocessingstepid as string;
      const images: Array<StepInfo["images"][number]> = [];
      for (const imgId of org.store.idsWhereEquals("sdkmessageprocessingstepimage", "sdkmessageprocessingstepid", stepId)) {
        const img = org.row("sdkmessageprocessingstepimage", imgId);
        if (!img) continue;
        const attrs = typeof img.attributes === "string" && img.attributes.trim() !== "" ? img.attributes.split(",").map((x) => x.trim().toLowerCase()) : undefined;
        images.push({
          alias: typeof img.entityalias === "string" ? img.entityalias : "Image",
          type: img.imagetype === 1 ? 1 : img.imagetype === 2 ? 2 : 0,
          ...(attrs ? { attributes: attrs } : {}),
        });
      }
      const authvalue = typeof ep.authvalue === "string" ? ep.authvalue : undefined;
      out.push({
        id: stepId,
        name: typeof s.name === "string" ? s.name : "",
        mode: s.mode === 0 ? 0 : 1,
        stage: 40,
        images,
        asyncAutoDelete: s.asyncautodelete === true,
        endpoint: {
          id: handler.id,
          url: ep.url,
          authtype: typeof ep.authtype === "number" ? ep.authtype : 5,
          settings: parseAuthSettings(authvalue),
          authvalue,
        },
      });
    }
    return out;
  }

  private prepare(op: CommittedOperation, step: MatchedStep, correlationId: string, caller: Caller): WebhookDelivery {
    const operationId = randomUUID();
    const body = buildExecutionContext({
      operation: op,
      step,
      operationId,
      correlationId,
      organization: { id: this.org.id, name: this.org.name },
      businessUnitId: caller.businessunitid,
      user: { id: caller.systemuserid, ...(caller.azureactivedirectoryobjectid ? { objectId: caller.azureactivedirectoryobjectid } : {}) },
      entityOf: (n) => this.org.schema.entity(n),
      lookupName: (e, id) => primaryName(this.org, e, id),
      currencySymbol: (row: Row) => currencySymbol(this.org, row),
      closePrimaryEntityId: this.closePrimaryEntityId,
    });
    const { trimmed } = serialiseContext(body);
    const headers: Record<string, string> = {
      "x-ms-dynamics-organization": this.organizationHost(),
      "x-ms-dynamics-entity-name": op.entity,
      "x-ms-dynamics-request-name": op.message,
      "x-ms-correlation-request-id": correlationId,
      ...(trimmed ? { "x-ms-dynamics-msg-size-exceeded": "true" } : {}),
    };
    const { endpoint } = step;
    let url = endpoint.url;
    let maskedUrl = endpoint.url;
    if (endpoint.authtype === 5) for (const [k] of endpoint.settings) headers[k] = "***";
    else if (endpoint.authtype === 4 && endpoint.authvalue) {
      url = appendQuery(url, [["code", endpoint.authvalue]]);
      maskedUrl = appendQuery(maskedUrl, [["code", "***"]]);
    } else if (endpoint.authtype === 6) {
      url = appendQuery(url, endpoint.settings);
      maskedUrl = appendQuery(maskedUrl, endpoint.settings.map(([k]) => [k, "***"]));
    }
    const delivery: WebhookDelivery = {
      id: randomUUID(),
      stepId: step.id,
      serviceEndpointId: endpoint.id,
      url: maskedUrl,
      message: op.message,
      entity: op.entity,
      primaryEntityId: op.id,
      operationId,
      correlationId,
      mode: step.mode === 0 ? "sync" : "async",
      headers,
      body,
      trimmed,
      outcome: "pending",
      attempts: [],
    };
    // The real URL and secret headers stay out of the log object.
    secrets.set(delivery, { url, headers: endpoint.authtype === 5 ? Object.fromEntries(endpoint.settings) : {} });
    this.deliveries.push(delivery);
    if (this.deliveries.length > MAX_LOGGED_DELIVERIES) this.deliveries.splice(0, this.deliveries.length - MAX_LOGGED_DELIVERIES);
    return delivery;
  }

  /** Synchronous steps: delivered before the answer; any failure fails the operation. */
  async runSync(operations: readonly CommittedOperation[], correlationId: string, caller: Caller): Promise<void> {
    for (const op of operations)
      for (const step of this.steps(op)) {
        if (step.mode !== 0) continue;
        const delivery = this.prepare(op, step, correlationId, caller);
        const ok = await this.send(delivery);
        if (!ok) {
          const last = delivery.attempts[delivery.attempts.length - 1];
          throw Errors.webhookFailed(delivery.url, last?.error ?? `HTTP ${last?.status ?? "?"}`);
        }
      }
  }

  /** Asynchronous steps: queued after commit, delivered in the background. */
  enqueueAsync(operations: readonly CommittedOperation[], correlationId: string, caller: Caller): void {
    for (const op of operations)
      for (const step of this.steps(op)) {
        if (step.mode !== 1) continue;
        const delivery = this.prepare(op, step, correlationId, caller);
        const task = this.runLimited(() => this.deliverAsync(delivery, step, op, caller));
        this.pending.add(task);
        void task.finally(() => this.pending.delete(task));
      }
  }

  private runLimited(fn: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const start = () => {
        this.active++;
        fn()
          .catch(() => undefined)
          .finally(() => {
            this.active--;
            resolve();
            this.queue.shift()?.();
          });
      };
      if (this.active < MAX_PARALLEL_DELIVERIES) start();
      else this.queue.push(start);
    });
  }

  private async deliverAsync(delivery: WebhookDelivery, step: MatchedStep, op: CommittedOperation, caller: Caller): Promise<void> {
    const generation = this.generation;
    // Never inside the request that caused it.
    await new Promise((r) => setImmediate(r));
    if (this.closing.aborted) return;
    const fault = this.faults.drawWebhookFault();
    if (fault.kind === "drop") {
      delivery.outcome = "dropped";
      this.events.emit("webhook", delivery);
      return;
    }
    if (fault.kind === "delay") await sleep(fault.ms);
    const ok = await this.send(delivery);
    if (generation !== this.generation) return; // the org was reset meanwhile
    if (!ok || !step.asyncAutoDelete) this.recordSystemJob(delivery, step, op, caller, ok);
  }

  /** One attempt, plus one retry for 502/503/504 (spec §3.3). */
  private async send(delivery: WebhookDelivery): Promise<boolean> {
    const secret = secrets.get(delivery);
    for (let attempt = 0; attempt < 2; attempt++) {
      const started = Date.now();
      try {
        const headers: Record<string, string> = { "content-type": "application/json", ...delivery.headers, ...(secret?.headers ?? {}) };
        const res = await fetch(secret?.url ?? delivery.url, {
          method: "POST",
          headers,
          body: serialiseContext(delivery.body).body,
          signal: AbortSignal.any([AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), this.closing]),
        });
        await res.arrayBuffer().catch(() => undefined);
        delivery.attempts.push({ at: new Date(started).toISOString(), status: res.status, durationMs: Date.now() - started });
        if (res.status >= 200 && res.status < 300) {
          delivery.outcome = "delivered";
          this.events.emit("webhook", delivery);
          return true;
        }
        if (!RETRIED_STATUSES.has(res.status)) break;
      } catch (err) {
        const e = err as Error;
        delivery.attempts.push({
          at: new Date(started).toISOString(),
          error: e.name === "TimeoutError" ? `timed out after ${WEBHOOK_TIMEOUT_MS} ms` : e.message,
          durationMs: Date.now() - started,
        });
        break;
      }
    }
    delivery.outcome = "failed";
    this.events.emit("webhook", delivery);
    return false;
  }

  private recordSystemJob(delivery: WebhookDelivery, step: MatchedStep, op: CommittedOperation, caller: Caller, ok: boolean): void {
    const last = delivery.attempts[delivery.attempts.length - 1];
    const detail = last?.error ?? (last?.status !== undefined ? `The remote endpoint answered HTTP ${last.status}.` : "not sent");
    try {
      this.org.systemWrite((scope) =>
        createRecord(
          this.org,
          { ...scope, caller },
          this.org.entity("asyncoperation"),
          {
            asyncoperationid: delivery.operationId,
            name: step.name,
            operationtype: 1,
            statecode: 3,
            statuscode: ok ? 30 : 31,
            messagename: op.message,
            primaryentitytype: op.entity,
            correlationid: delivery.correlationId,
            depth: 1,
            startedon: last?.at ? isoSeconds(Date.parse(last.at)) : null,
            completedon: isoSeconds(Date.now()),
            owningextensionid: { entity: "sdkmessageprocessingstep", id: step.id },
            ...(ok
              ? {}
              : {
                  errorcode: -2147220970,
                  message: `Webhook delivery to '${delivery.url}' failed: ${detail}`,
                  friendlymessage: `The webhook endpoint did not accept the ${op.message} event: ${detail}`,
                }),
          },
          { record: false },
        ),
      );
    } catch {
      // A reset while the delivery was in flight left nothing to record into.
    }
  }
}

const secrets = new WeakMap<WebhookDelivery, { url: string; headers: Record<string, string> }>();

function appendQuery(url: string, pairs: ReadonlyArray<readonly [string, string]>): string {
  if (pairs.length === 0) return url;
  const q = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  return `${url}${url.includes("?") ? "&" : "?"}${q}`;
}
