/**
 * The bulk operation messages on a standard table, as the Web API documents them
 * (learn.microsoft.com/power-apps/developer/data-platform/bulk-operations, and the
 * CreateMultiple / UpdateMultiple / UpsertMultiple action references):
 *
 * - bound actions on the entity set: `POST accounts/Microsoft.Dynamics.CRM.CreateMultiple` with
 *   `{"Targets": [...]}`, every target carrying `@odata.type` for the set's table;
 * - CreateMultiple answers 200 with `Ids` in the order of `Targets`; UpdateMultiple and
 *   UpsertMultiple answer 204;
 * - UpsertMultiple identifies each record by `@odata.id` (`accounts(accountnumber='A1')`, an
 *   alternate key, or `accounts(<id>)`) or by its primary key column;
 * - the pipelines are merged: each target raises its own Create or Update event, so webhook steps
 *   on Create/Update fire once per record, as for single requests;
 * - on a standard table the whole request is one transaction: any record's error rolls back every
 *   record and is the request's answer (the request's write scope does this, as for a change set).
 *
 * Where the documentation is silent the emulator takes the reading that is harder on a client
 * (docs/sandbox-dataverse.md): at most 1,000 targets; an empty `Targets` is refused; two targets
 * naming the same record in one request are refused; a target without a way to identify its
 * record is refused by UpdateMultiple and UpsertMultiple rather than created.
 */
import { Errors } from "../errors";
import { createRecord, updateRecord } from "../data/operations";
import type { StoredValue } from "../data/store";
import type { EntityMetadata } from "../metadata/types";
import { emptyResponse, jsonResponse, type ApiContext, type ApiRequest, type ApiResponse } from "./http";
import { parseJsonBody, parseRowBody, resolveKey } from "./rows";
import { parsePath } from "./url";

export const BULK_MESSAGES = ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"] as const;
export type BulkMessage = (typeof BULK_MESSAGES)[number];

/** The most targets one bulk request may carry here (the and the guidance's 1,000). */
export const MAX_BULK_TARGETS = 1_000;

export function bulkMessageOf(segment: string): BulkMessage | undefined {
  const name = segment.replace(/^Microsoft\.Dynamics\.CRM\./, "");
  if (name === segment) return undefined;
  return (BULK_MESSAGES as readonly string[]).includes(name) ? (name as BulkMessage) : undefined;
}

interface Target {
  readonly index: number;
  readonly body: Record<string, unknown>;
}

function targetsOf(entity: EntityMetadata, message: BulkMessage, body: Record<string, unknown>): Target[] {
  const raw = body.Targets;
  if (!Array.isArray(raw)) throw Errors.badPayloadValue(entity.entitySetName, `${message} requires the parameter 'Targets': an array of ${entity.logicalName} records.`);
  if (raw.length === 0) throw Errors.invalidArgument(`${message}: 'Targets' is empty.`);
  if (raw.length > MAX_BULK_TARGETS)
    throw Errors.invalidArgument(`${message}: 'Targets' holds ${raw.length} records; send at most ${MAX_BULK_TARGETS} in one request.`);
  const wanted = `Microsoft.Dynamics.CRM.${entity.logicalName}`;
  return raw.map((t: unknown, index) => {
    if (t === null || typeof t !== "object" || Array.isArray(t)) throw Errors.badPayloadValue(entity.entitySetName, `${message}: Targets[${index}] is not an object.`);
    const record = t as Record<string, unknown>;
    const type = record["@odata.type"];
    if (typeof type !== "string")
      throw Errors.badPayloadValue(entity.entitySetName, `${message}: Targets[${index}] has no '@odata.type'; every item of Targets must set it ("${wanted}").`);
    if (type.replace(/^#/, "") !== wanted)
      throw Errors.badPayloadValue(entity.entitySetName, `${message}: Targets[${index}] is '${type}'; all records of one request must be '${wanted}'.`);
    return { index, body: record };
  });
}

/** The record a target names, if any: its `@odata.id` (key or id) or its primary key column. */
function identify(ctx: ApiContext, entity: EntityMetadata, message: BulkMessage, t: Target): { id?: string; keyed: Record<string, StoredValue> } | undefined {
  const odataId = t.body["@odata.id"];
  if (typeof odataId === "string") {
    const segments = parsePath(decodeURIComponent(odataId.replace(/^.*\/api\/data\/v9\.2\//, "").replace(/^\/+/, "")));
    const seg = segments[0];
    if (segments.length !== 1 || !seg?.key || seg.name !== entity.entitySetName)
      throw Errors.invalidArgument(`${message}: Targets[${t.index}] '@odata.id' must be ${entity.entitySetName}(<key>), not '${odataId}'.`);
    const key = resolveKey(ctx.org, entity, seg.key);
    const keyed: Record<string, StoredValue> = key.kind === "id" ? { [entity.primaryIdAttribute]: key.id } : key.values;
    const found = key.id !== undefined ? ctx.org.store.get(entity.logicalName, key.id) : undefined;
    return { ...(found ? { id: found.row[entity.primaryIdAttribute] as string } : {}), keyed };
  }
  const pk = t.body[entity.primaryIdAttribute];
  if (typeof pk === "string") {
    const id = pk.toLowerCase();
    return { ...(ctx.org.store.get(entity.logicalName, id) ? { id } : {}), keyed: { [entity.primaryIdAttribute]: id } };
  }
  return undefined;
}

/** A target's columns, without the annotations that only address it. */
function columnsOf(ctx: ApiContext, entity: EntityMetadata, t: Target, isCreate: boolean): Record<string, StoredValue> {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t.body)) if (k !== "@odata.type" && k !== "@odata.id") rest[k] = v;
  return parseRowBody(ctx.org, entity, rest, { isCreate, apiUrl: ctx.apiUrl });
}

export function bulkMessage(ctx: ApiContext, req: ApiRequest, entity: EntityMetadata, message: BulkMessage): ApiResponse {
  if (req.method !== "POST") throw Errors.methodNotAllowed(req.method, req.url);
  const targets = targetsOf(entity, message, parseJsonBody(req.body));
  if (message === "CreateMultiple") {
    const ids = targets.map((t) => createRecord(ctx.org, ctx.scope, entity, columnsOf(ctx, entity, t, true)).id);
    return jsonResponse(200, { "@odata.context": `${ctx.apiUrl}/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`, Ids: ids });
  }
  // Every target is resolved before anything is written, so that two naming one record are caught
  // however the first would have changed the table.
  const resolved = targets.map((t) => {
    const found = identify(ctx, entity, message, t);
    if (!found) throw Errors.invalidArgument(`${message}: Targets[${t.index}] does not say which record it is: set '@odata.id' or '${entity.primaryIdAttribute}'.`);
    return { t, found };
  });
  const seen = new Map<string, number>();
  for (const { t, found } of resolved) {
    const keyText = Object.entries(found.keyed)
      .map(([k, v]) => [k, typeof v === "string" ? v.toLowerCase() : v])
      .sort();
    const what = found.id !== undefined ? `id:${found.id}` : `key:${JSON.stringify(keyText)}`;
    const earlier = seen.get(what);
    if (earlier !== undefined) throw Errors.invalidArgument(`${message}: Targets[${earlier}] and Targets[${t.index}] name the same ${entity.logicalName} record.`);
    seen.set(what, t.index);
  }
  for (const { t, found } of resolved) {
    if (found.id !== undefined) {
      updateRecord(ctx.org, ctx.scope, entity, found.id, columnsOf(ctx, entity, t, false));
      continue;
    }
    if (message === "UpdateMultiple") {
      const pk = t.body[entity.primaryIdAttribute];
      throw typeof pk === "string" ? Errors.notFound(entity.logicalName, pk) : Errors.notFoundByKey(entity.logicalName, String(t.body["@odata.id"]));
    }
    createRecord(ctx.org, ctx.scope, entity, { ...columnsOf(ctx, entity, t, true), ...found.keyed });
  }
  return emptyResponse(204);
}
