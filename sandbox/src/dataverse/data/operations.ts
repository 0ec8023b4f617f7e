/**
 * Create, update and delete as the Dataverse platform performs them, independent of HTTP: system
 * columns (ids, audit, owner, row version), computed columns (full names, currency and `_base`
 * amounts), state/status rules, alternate-key uniqueness (in the store), and a record of every
 * committed operation for the webhook pipeline and the commit log.
 */
import { randomUUID } from "node:crypto";
import { Errors } from "../errors";
import type { Schema } from "../metadata/schema";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types";
import { isLookupValue, type LookupValue, type RecordStore, type Row, type StoredValue, type Transaction } from "./store";
import { isoMillis } from "./values";

export interface Caller {
  readonly systemuserid: string;
  readonly fullname: string;
  readonly businessunitid: string;
  readonly azureactivedirectoryobjectid?: string;
  readonly applicationid?: string;
}

export type MessageName = "Create" | "Update" | "Delete" | "Win" | "Lose" | "QualifyLead";

/** A value of a message parameter, typed so the webhook body can carry it as the SDK does. */
export type ParameterValue =
  | { readonly kind: "entity"; readonly entity: string; readonly id: string; readonly row: Row }
  | { readonly kind: "entityReference"; readonly entity: string; readonly id: string }
  | { readonly kind: "entityReferenceCollection"; readonly refs: readonly LookupValue[] }
  | { readonly kind: "optionSet"; readonly value: number }
  | { readonly kind: "plain"; readonly value: string | number | boolean | null };

export interface MessageParameter {
  readonly key: string;
  readonly value: ParameterValue;
}

/** One committed platform operation: what the webhook pipeline and the commit log see. */
export interface CommittedOperation {
  readonly message: MessageName;
  readonly entity: string;
  readonly id: string;
  /** Columns the caller submitted (Update: matched against a step's filtering attributes). */
  readonly submitted: readonly string[];
  /** Create/Update: the Target entity's columns. */
  readonly target?: Row;
  readonly preImage?: Row;
  readonly postImage?: Row;
  /** Extra input parameters (Win: OpportunityClose, Status; QualifyLead: CreateAccount, …). */
  readonly inputParameters?: readonly MessageParameter[];
  readonly outputParameters?: readonly MessageParameter[];
  /** `SharedVariables` of the execution context: the Web API `tag` query option lands here. */
  readonly sharedVariables?: ReadonlyArray<{ readonly key: string; readonly value: string }>;
  readonly callerId: string;
  /** Epoch milliseconds with sub-millisecond precision. */
  readonly at: number;
  readonly operationId: string;
}

/** What one request (or one change set) writes under: the caller, the undo log, the effects. */
export interface WriteScope {
  readonly caller: Caller;
  readonly tx: Transaction;
  readonly operations: CommittedOperation[];
  readonly correlationId: string;
  /** The `tag` query option of the request being handled (set per request, also inside a change set). */
  tag?: string;
}

const shared = (scope: WriteScope) => (scope.tag !== undefined ? { sharedVariables: [{ key: "tag", value: scope.tag }] } : {});

export interface PlatformContext {
  readonly schema: Schema;
  readonly store: RecordStore;
  readonly baseCurrencyId: () => string | undefined;
  readonly now: () => number;
}

const ref = (entity: string, id: string): LookupValue => ({ entity, id });

/** Names Dataverse computes from first and last name ("First Last" is the default format). */
const FULL_NAME_TABLES = new Set(["contact", "lead", "systemuser"]);

function stateOf(entity: EntityMetadata, statuscode: number): number | undefined {
  return entity.attributes.get("statuscode")?.optionSet?.options.find((o) => o.value === statuscode)?.state;
}

function defaultStatusOf(entity: EntityMetadata, statecode: number): number | undefined {
  return entity.attributes.get("statecode")?.optionSet?.options.find((o) => o.value === statecode)?.defaultStatus;
}

/**
 * Applies the platform's derived values to a row being written. `changed` are the columns set by
 * this write; `message` lets Win/Lose close an opportunity, which an Update may not.
 */
/**
 * A service endpoint's SystemRequired columns (the ServiceEndpoint table reference: name, contract,
 * connectionmode, userclaim), and what a webhook (contract 8) cannot work without: its url, its
 * authtype and, for the key, header and query-string kinds, its authvalue. The platform fills in
 * none of them here (the reference gives no defaults), so a client that leaves one out is refused.
 */
function requireServiceEndpointColumns(row: Record<string, StoredValue>): void {
  const required = ["name", "contract", "connectionmode", "userclaim"];
  if (row.contract === 8) {
    required.push("url", "authtype");
    if (row.authtype === 4 || row.authtype === 5 || row.authtype === 6) required.push("authvalue");
  }
  for (const column of required) if (row[column] === null || row[column] === undefined || row[column] === "") throw Errors.requiredMissing("serviceendpoint", column);
}

function derive(ctx: PlatformContext, entity: EntityMetadata, row: Record<string, StoredValue>, changed: ReadonlySet<string>, message: MessageName, isCreate: boolean): void {
  const attrs = entity.attributes;
  if (entity.logicalName === "serviceendpoint") requireServiceEndpointColumns(row);
  // State and status reason: either one implies the other.
  if (attrs.has("statecode") && attrs.has("statuscode")) {
    const stateSet = changed.has("statecode");
    const statusSet = changed.has("statuscode");
    if (statusSet && !stateSet && typeof row.statuscode === "number") {
      const s = stateOf(entity, row.statuscode);
      if (s !== undefined) row.statecode = s;
    } else if (stateSet && !statusSet && typeof row.statecode === "number") {
      const d = defaultStatusOf(entity, row.statecode);
      if (d !== undefined) row.statuscode = d;
    } else if (isCreate && row.statecode == null) {
      const first = attrs.get("statecode")?.optionSet?.options[0];
      if (first) {
        row.statecode = first.value;
        if (row.statuscode == null && first.defaultStatus !== undefined) row.statuscode = first.defaultStatus;
      }
    }
    if (typeof row.statecode === "number" && typeof row.statuscode === "number") {
      const s = stateOf(entity, row.statuscode);
      if (s !== undefined && s !== row.statecode) throw Errors.invalidStatus(entity.logicalName, row.statuscode, row.statecode);
    }
    if (
      entity.logicalName === "opportunity" &&
      (changed.has("statecode") || changed.has("statuscode")) &&
      row.statecode !== 0 &&
      message !== "Win" &&
      message !== "Lose"
    )
      throw Errors.invalidArgument(
        "An opportunity is closed with the WinOpportunity or LoseOpportunity message, not by setting its statecode.",
      );
  }
  if (FULL_NAME_TABLES.has(entity.logicalName) && (changed.has("firstname") || changed.has("lastname") || isCreate)) {
    const full = [row.firstname, row.lastname].filter((p) => typeof p === "string" && p !== "").join(" ");
    row.fullname = full === "" ? null : full;
  }
  // Currency: default to the base currency, copy its rate, compute the `_base` amounts.
  if (attrs.has("transactioncurrencyid")) {
    if (isCreate && row.transactioncurrencyid == null) {
      const base = ctx.baseCurrencyId();
      if (base) row.transactioncurrencyid = ref("transactioncurrency", base);
    }
    const cur = row.transactioncurrencyid;
    const rate = isLookupValue(cur) ? ctx.store.get("transactioncurrency", cur.id)?.row.exchangerate : undefined;
    if (typeof rate === "number" && attrs.has("exchangerate")) row.exchangerate = rate;
    for (const a of attrs.values()) {
      if (!a.baseOf || !a.logicalName.endsWith("_base")) continue;
      const v = row[a.baseOf];
      row[a.logicalName] = typeof v === "number" && typeof rate === "number" && rate > 0 ? Math.round((v / rate) * 10000) / 10000 : null;
    }
  }
}

function defaults(entity: EntityMetadata): Record<string, StoredValue> {
  const row: Record<string, StoredValue> = {};
  for (const a of entity.attributes.values()) {
    if (a.defaultValue === undefined) continue;
    if (a.kind === "boolean") row[a.logicalName] = a.defaultValue === true || a.defaultValue === 1;
    else if (typeof a.defaultValue === "number" && a.defaultValue !== -1) row[a.logicalName] = a.defaultValue;
  }
  return row;
}

/** Only non-null columns: Dataverse's Target/image entities carry no nulls for unset columns. */
function nonNull(row: Row): Row {
  const out: Record<string, StoredValue> = {};
  for (const [k, v] of Object.entries(row)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

export interface CreateOptions {
  readonly message?: MessageName;
  /** Record the operation for webhooks/commit log (false for records a message creates internally). */
  readonly record?: boolean;
}

export function createRecord(
  ctx: PlatformContext,
  scope: WriteScope,
  entity: EntityMetadata,
  values: Readonly<Record<string, StoredValue>>,
  options: CreateOptions = {},
): { id: string; row: Row } {
  const pk = entity.primaryIdAttribute;
  const given = values[pk];
  const id = typeof given === "string" ? given.toLowerCase() : randomUUID();
  if (ctx.store.get(entity.logicalName, id)) throw Errors.duplicateId(entity.logicalName, id);
  const at = ctx.now();
  const stamp = isoMillis(at);
  const caller = ref("systemuser", scope.caller.systemuserid);
  const row: Record<string, StoredValue> = { ...defaults(entity), ...values, [pk]: id };
  const attrs = entity.attributes;
  if (attrs.has("createdon")) {
    const overridden = values.overriddencreatedon;
    row.createdon = typeof overridden === "string" ? overridden : stamp;
    row.modifiedon = stamp;
    row.createdby = caller;
    row.modifiedby = caller;
  }
  if (attrs.has("ownerid")) {
    if (row.ownerid == null) row.ownerid = caller;
    row.owningbusinessunit = ref("businessunit", scope.caller.businessunitid);
    const owner = row.ownerid;
    row.owninguser = isLookupValue(owner) && owner.entity === "systemuser" ? owner : null;
  }
  derive(ctx, entity, row, new Set(Object.keys(values)), options.message ?? "Create", true);
  if (attrs.has("versionnumber")) row.versionnumber = ctx.store.nextVersion();
  const frozen = Object.freeze(row);
  ctx.store.put(scope.tx, entity, id, frozen);
  if (options.record !== false)
    scope.operations.push({
      message: "Create",
      entity: entity.logicalName,
      id,
      submitted: Object.keys(values),
      target: nonNull(frozen),
      postImage: nonNull(frozen),
      ...shared(scope),
      callerId: scope.caller.systemuserid,
      at,
      operationId: randomUUID(),
    });
  return { id, row: frozen };
}

export interface UpdateOptions {
  readonly message?: MessageName;
  readonly record?: boolean;
  readonly inputParameters?: readonly MessageParameter[];
}

export function updateRecord(
  ctx: PlatformContext,
  scope: WriteScope,
  entity: EntityMetadata,
  id: string,
  values: Readonly<Record<string, StoredValue>>,
  options: UpdateOptions = {},
): { row: Row; before: Row } {
  const existing = ctx.store.get(entity.logicalName, id);
  if (!existing) throw Errors.notFound(entity.logicalName, id);
  const pk = entity.primaryIdAttribute;
  const at = ctx.now();
  const stamp = isoMillis(at);
  const caller = ref("systemuser", scope.caller.systemuserid);
  const changes: Record<string, StoredValue> = { ...values };
  delete changes[pk];
  const row: Record<string, StoredValue> = { ...existing.row, ...changes };
  const attrs = entity.attributes;
  if (attrs.has("modifiedon")) {
    row.modifiedon = stamp;
    row.modifiedby = caller;
    row.modifiedonbehalfby = null;
  }
  if (attrs.has("ownerid") && "ownerid" in changes) {
    const owner = row.ownerid;
    row.owninguser = isLookupValue(owner) && owner.entity === "systemuser" ? owner : null;
  }
  derive(ctx, entity, row, new Set(Object.keys(changes)), options.message ?? "Update", false);
  if (attrs.has("versionnumber")) row.versionnumber = ctx.store.nextVersion();
  const frozen = Object.freeze(row);
  ctx.store.put(scope.tx, entity, existing.row[pk] as string, frozen);
  if (options.record !== false) {
    // Target: the submitted columns, the key and the platform-set modified columns (spec §7.8).
    const target: Record<string, StoredValue> = { ...changes, [pk]: id };
    if (attrs.has("modifiedon")) {
      target.modifiedon = stamp;
      target.modifiedby = caller;
      target.modifiedonbehalfby = null;
    }
    // A state change carries both halves, as SetState does.
    if ("statecode" in changes || "statuscode" in changes) {
      target.statecode = row.statecode ?? null;
      target.statuscode = row.statuscode ?? null;
    }
    scope.operations.push({
      message: options.message ?? "Update",
      entity: entity.logicalName,
      id,
      submitted: Object.keys(changes),
      target,
      preImage: nonNull(existing.row),
      postImage: nonNull(frozen),
      ...(options.inputParameters ? { inputParameters: options.inputParameters } : {}),
      ...shared(scope),
      callerId: scope.caller.systemuserid,
      at,
      operationId: randomUUID(),
    });
  }
  return { row: frozen, before: existing.row };
}

export function deleteRecord(ctx: PlatformContext, scope: WriteScope, entity: EntityMetadata, id: string): void {
  const existing = ctx.store.get(entity.logicalName, id);
  if (!existing) throw Errors.notFound(entity.logicalName, id);
  ctx.store.remove(scope.tx, entity.logicalName, id);
  scope.operations.push({
    message: "Delete",
    entity: entity.logicalName,
    id,
    submitted: [],
    preImage: nonNull(existing.row),
    ...shared(scope),
    callerId: scope.caller.systemuserid,
    at: ctx.now(),
    operationId: randomUUID(),
  });
}

/** Columns a caller may set on create/update; system-set columns are silently ignored as Dataverse does. */
export function isWritable(a: AttributeMetadata, isCreate: boolean): boolean {
  return isCreate ? a.validForCreate : a.validForUpdate;
}
