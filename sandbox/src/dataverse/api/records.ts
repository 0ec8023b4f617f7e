/**
 * Entity-set resources: create (POST), retrieve (GET), update/upsert (PATCH, also by alternate key),
 * delete, and single-property reads and writes, with the conditional headers of spec §4.4/§4.5:
 * `If-Match: <etag>` (412 on mismatch), `If-Match: *` (update only, 404 when missing) and
 * `If-None-Match: *` (create only, 412 when the row exists).
 */
import { Errors } from "../errors";
import { createRecord, deleteRecord, updateRecord } from "../data/operations";
import type { Row, StoredValue } from "../data/store";
import { jsonValue, parseColumnValue } from "../data/values";
import { isLookup, type EntityMetadata } from "../metadata/types";
import { emptyResponse, jsonResponse, parsePrefer, type ApiContext, type ApiRequest, type ApiResponse } from "./http";
import { representation, retrieveMultiple, retrieveOne } from "./query";
import { etagOf, navigationTargets, parseJsonBody, parseRowBody, resolveKey, resolveReference } from "./rows";
import { formatKey, type KeyPart } from "./url";

const entityUrl = (ctx: ApiContext, entity: EntityMetadata, id: string) => `${ctx.apiUrl}/${entity.entitySetName}(${id})`;

function checkIfMatch(req: ApiRequest, row: Row | undefined): void {
  const ifMatch = req.headers.get("if-match");
  if (ifMatch === undefined || ifMatch.trim() === "*") return;
  if (!row) return; // the caller answers 404 for a missing row
  const wanted = ifMatch.split(",").map((s) => s.trim());
  if (!wanted.includes(etagOf(row))) throw Errors.versionMismatch();
}

export function handleCollection(ctx: ApiContext, req: ApiRequest, entity: EntityMetadata): ApiResponse {
  const prefer = parsePrefer(req.headers);
  if (req.method === "GET") return retrieveMultiple(ctx, entity, req.query, prefer);
  if (req.method === "POST") {
    const body = parseJsonBody(req.body);
    const values = parseRowBody(ctx.org, entity, body, {
      isCreate: true,
      apiUrl: ctx.apiUrl,
      ...(ctx.contentIds ? { contentIds: ctx.contentIds } : {}),
    });
    const { id, row } = createRecord(ctx.org, ctx.scope, entity, values);
    const location = { "OData-EntityId": entityUrl(ctx, entity, id) };
    if (prefer.returnRepresentation)
      return jsonResponse(201, representation(ctx, entity, row, req.query, prefer), {
        ...location,
        ETag: etagOf(row),
        "Preference-Applied": "return=representation",
      });
    return emptyResponse(204, location);
  }
  throw Errors.methodNotAllowed(req.method, req.url);
}

export function handleSingle(ctx: ApiContext, req: ApiRequest, entity: EntityMetadata, key: readonly KeyPart[]): ApiResponse {
  const { org } = ctx;
  const resolved = resolveKey(org, entity, key);
  const id = resolved.id;
  const existing = id !== undefined ? org.store.get(entity.logicalName, id) : undefined;
  const notFound = () =>
    resolved.kind === "alternate" ? Errors.notFoundByKey(entity.logicalName, formatKey(key)) : Errors.notFound(entity.logicalName, resolved.id);
  const prefer = parsePrefer(req.headers);

  if (req.method === "GET") {
    if (!existing) throw notFound();
    return retrieveOne(ctx, entity, existing.row, req.query, prefer, req.headers.get("if-none-match"));
  }
  if (req.method === "DELETE") {
    if (!existing) throw notFound();
    checkIfMatch(req, existing.row);
    deleteRecord(org, ctx.scope, entity, existing.row[entity.primaryIdAttribute] as string);
    return emptyResponse(204);
  }
  if (req.method === "PATCH") {
    const ifMatch = req.headers.get("if-match");
    const ifNoneMatch = req.headers.get("if-none-match");
    if (existing && ifNoneMatch?.trim() === "*") throw Errors.alreadyExists();
    if (!existing && ifMatch !== undefined) throw notFound();
    checkIfMatch(req, existing?.row);
    const body = parseJsonBody(req.body);
    if (existing) {
      const values = parseRowBody(org, entity, body, {
        isCreate: false,
        apiUrl: ctx.apiUrl,
        ...(ctx.contentIds ? { contentIds: ctx.contentIds } : {}),
      });
      const rowId = existing.row[entity.primaryIdAttribute] as string;
      const { row } = updateRecord(org, ctx.scope, entity, rowId, values);
      const location = { "OData-EntityId": entityUrl(ctx, entity, rowId) };
      if (prefer.returnRepresentation)
        return jsonResponse(200, representation(ctx, entity, row, req.query, prefer), {
          ...location,
          ETag: etagOf(row),
          "Preference-Applied": "return=representation",
        });
      return emptyResponse(204, location);
    }
    // Upsert that creates: the key becomes the id, or the alternate-key columns.
    const values = parseRowBody(org, entity, body, {
      isCreate: true,
      apiUrl: ctx.apiUrl,
      ...(ctx.contentIds ? { contentIds: ctx.contentIds } : {}),
    });
    const keyed: Record<string, StoredValue> =
      resolved.kind === "id" ? { [entity.primaryIdAttribute]: resolved.id } : resolved.values;
    const { id: newId, row } = createRecord(org, ctx.scope, entity, { ...values, ...keyed });
    const location = { "OData-EntityId": entityUrl(ctx, entity, newId) };
    if (prefer.returnRepresentation)
      return jsonResponse(201, representation(ctx, entity, row, req.query, prefer), {
        ...location,
        ETag: etagOf(row),
        "Preference-Applied": "return=representation",
      });
    return emptyResponse(204, location);
  }
  throw Errors.methodNotAllowed(req.method, req.url);
}

/** `accounts(<id>)/name` (GET, PUT, DELETE) and `accounts(<id>)/parentaccountid/$ref` (PUT, DELETE). */
export function handleProperty(
  ctx: ApiContext,
  req: ApiRequest,
  entity: EntityMetadata,
  key: readonly KeyPart[],
  property: string,
  ref: boolean,
): ApiResponse {
  const { org } = ctx;
  const resolved = resolveKey(org, entity, key);
  const existing = resolved.id !== undefined ? org.store.get(entity.logicalName, resolved.id) : undefined;
  if (!existing) throw resolved.kind === "alternate" ? Errors.notFoundByKey(entity.logicalName, formatKey(key)) : Errors.notFound(entity.logicalName, resolved.id);
  const rowId = existing.row[entity.primaryIdAttribute] as string;
  if (ref) {
    const nav = navigationTargets(entity, property);
    if (nav.length === 0) throw Errors.unknownSegment(property);
    const attribute = nav[0]!.attribute;
    if (req.method === "DELETE") {
      updateRecord(org, ctx.scope, entity, rowId, { [attribute.logicalName]: null });
      return emptyResponse(204);
    }
    if (req.method === "PUT") {
      const body = parseJsonBody(req.body);
      const target = body["@odata.id"];
      if (typeof target !== "string") throw Errors.badPayloadValue(entity.entitySetName, "The body must carry '@odata.id'.");
      const value = resolveReference(org, target, ctx.apiUrl, ctx.contentIds);
      if (!nav.some((n) => n.target === value.entity)) throw Errors.badPayloadValue(entity.entitySetName, `'${value.entity}' is not a valid target of '${property}'.`);
      updateRecord(org, ctx.scope, entity, rowId, { [attribute.logicalName]: value });
      return emptyResponse(204);
    }
    throw Errors.methodNotAllowed(req.method, req.url);
  }
  const a = entity.attributes.get(property);
  if (!a || a.writeOnly) throw Errors.unknownSegment(property);
  if (req.method === "GET") {
    if (isLookup(a)) throw Errors.unknownSegment(property);
    const v = existing.row[a.logicalName];
    if (v === null || v === undefined) return emptyResponse(204);
    return jsonResponse(200, {
      "@odata.context": `${ctx.apiUrl}/$metadata#${entity.entitySetName}(${rowId})/${property}`,
      value: jsonValue(a, v),
    });
  }
  if (req.method === "PUT") {
    const body = parseJsonBody(req.body);
    if (!("value" in body)) throw Errors.badPayloadValue(entity.entitySetName, "The body must carry 'value'.");
    updateRecord(org, ctx.scope, entity, rowId, { [a.logicalName]: parseColumnValue(entity, entity.entitySetName, a, body.value) });
    return emptyResponse(204);
  }
  if (req.method === "DELETE") {
    updateRecord(org, ctx.scope, entity, rowId, { [a.logicalName]: null });
    return emptyResponse(204);
  }
  throw Errors.methodNotAllowed(req.method, req.url);
}
