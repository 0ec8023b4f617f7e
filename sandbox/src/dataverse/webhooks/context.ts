/**
 * The `RemoteExecutionContext` a Dataverse webhook posts (spec §3.2, §7.8), built from a committed
 * operation. Pure: no I/O. Attribute values are typed as the SDK's DataContract JSON types them
 * (`OptionSetValue`, `Money`, `EntityReference` with `__type`, dates as `/Date(ms)/`), the Update
 * `Target` holds only the submitted columns plus the key and the platform-set modified columns,
 * and the JSON text escapes `/` as WCF's serializer does (`http:\/\/…`, `"\/Date(…)\/"`).
 */
import type { CommittedOperation, ParameterValue } from "../data/operations";
import { isLookupValue, type Row, type StoredValue } from "../data/store";
import { formattedValue } from "../data/values";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types";

const CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts";
export const TYPE = {
  entity: `Entity:${CONTRACTS}`,
  entityReference: `EntityReference:${CONTRACTS}`,
  optionSetValue: `OptionSetValue:${CONTRACTS}`,
  money: `Money:${CONTRACTS}`,
} as const;

export interface KeyValue {
  readonly key: string;
  readonly value: unknown;
}

export interface StepInfo {
  readonly id: string;
  readonly name: string;
  readonly mode: 0 | 1;
  readonly stage: number;
  /** Registered images: alias, pre/post/both, columns (undefined = all). */
  readonly images: ReadonlyArray<{ readonly alias: string; readonly type: 0 | 1 | 2; readonly attributes?: readonly string[] }>;
}

export interface ContextInput {
  readonly operation: CommittedOperation;
  readonly step: StepInfo;
  /** Async: the system job's id (stable across a retry); sync: a fresh id. */
  readonly operationId: string;
  readonly correlationId: string;
  readonly organization: { readonly id: string; readonly name: string };
  readonly businessUnitId: string;
  readonly user: { readonly id: string; readonly objectId?: string };
  readonly entityOf: (logicalName: string) => EntityMetadata | undefined;
  readonly lookupName: (entity: string, id: string) => string | undefined;
  readonly currencySymbol: (row: Row) => string;
  /** Win/Lose: what PrimaryEntityId holds (default the opportunity; see DataverseEmulatorOptions). */
  readonly closePrimaryEntityId?: ClosePrimaryEntityId;
}

/** The readings of a Win/Lose webhook's PrimaryEntityId: the opportunity, the empty GUID, or the opportunityclose activity. */
export type ClosePrimaryEntityId = "opportunity" | "empty" | "opportunityclose";

const EMPTY_GUID = "00000000-0000-0000-0000-000000000000";

export const wcfDate = (ms: number): string => `/Date(${Math.round(ms)})/`;

/** Whole seconds, as the platform's own dates appear in webhook bodies. */
function dateMs(v: string): number {
  return Math.floor(Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v) / 1000) * 1000;
}

export function entityReference(entity: string, id: string, name: string | null = null): Record<string, unknown> {
  return { __type: TYPE.entityReference, Id: id, KeyAttributes: [], LogicalName: entity, Name: name, RowVersion: null };
}

/** One column value as the webhook body carries it. */
export function typedValue(a: AttributeMetadata | undefined, v: StoredValue | undefined): unknown {
  if (v === undefined || v === null) return null;
  if (isLookupValue(v)) return entityReference(v.entity, v.id);
  if (!a) return v;
  switch (a.kind) {
    case "picklist":
    case "state":
    case "status":
      return { __type: TYPE.optionSetValue, Value: v };
    case "multiselectpicklist":
      return Array.isArray(v) ? v.map((n) => ({ __type: TYPE.optionSetValue, Value: n })) : v;
    case "money":
      return { __type: TYPE.money, Value: v };
    case "datetime":
      return typeof v === "string" ? wcfDate(dateMs(v)) : v;
    default:
      return v;
  }
}

/** The row's columns, or only the listed ones in the listed order (a registered image's columns). */
function entriesOf(row: Row, only?: readonly string[]): Array<[string, StoredValue]> {
  if (!only) return Object.entries(row);
  return only.filter((k) => k in row).map((k) => [k, row[k] ?? null]);
}

function attributesOf(entity: EntityMetadata | undefined, row: Row, only?: readonly string[]): KeyValue[] {
  const out: KeyValue[] = [];
  for (const [k, v] of entriesOf(row, only)) {
    const a = entity?.attributes.get(k);
    if (a?.writeOnly) continue;
    out.push({ key: k, value: typedValue(a, v) });
  }
  return out;
}

function formattedValuesOf(input: ContextInput, entity: EntityMetadata | undefined, row: Row, only?: readonly string[]): KeyValue[] {
  if (!entity) return [];
  const out: KeyValue[] = [];
  for (const [k, v] of entriesOf(row, only)) {
    const a = entity.attributes.get(k);
    if (!a || a.writeOnly) continue;
    const f = formattedValue(a, v, { lookupName: input.lookupName, currencySymbol: () => input.currencySymbol(row) });
    if (f !== undefined) out.push({ key: k, value: f });
  }
  return out;
}

/** An Entity as `InputParameters.Target` carries it (with `__type`). */
function targetEntity(input: ContextInput, logicalName: string, id: string, row: Row): Record<string, unknown> {
  const entity = input.entityOf(logicalName);
  return {
    __type: TYPE.entity,
    Attributes: attributesOf(entity, row),
    EntityState: null,
    FormattedValues: [],
    Id: id,
    KeyAttributes: [],
    LogicalName: logicalName,
    RelatedEntities: [],
    RowVersion: null,
  };
}

/** An image entity: no `__type`, with formatted values. */
function imageEntity(input: ContextInput, logicalName: string, id: string, row: Row, only?: readonly string[]): Record<string, unknown> {
  const entity = input.entityOf(logicalName);
  return {
    Attributes: attributesOf(entity, row, only),
    EntityState: null,
    FormattedValues: formattedValuesOf(input, entity, row, only),
    Id: id,
    KeyAttributes: [],
    LogicalName: logicalName,
    RelatedEntities: [],
    RowVersion: null,
  };
}

function parameterValue(input: ContextInput, p: ParameterValue): unknown {
  switch (p.kind) {
    case "entity":
      return targetEntity(input, p.entity, p.id, p.row);
    case "entityReference":
      return entityReference(p.entity, p.id);
    case "entityReferenceCollection":
      return p.refs.map((r) => entityReference(r.entity, r.id));
    case "optionSet":
      return { __type: TYPE.optionSetValue, Value: p.value };
    case "plain":
      return p.value;
  }
}

function inputParameters(input: ContextInput, withParentTarget = false): KeyValue[] {
  const op = input.operation;
  switch (op.message) {
    case "Create":
    case "Update": {
      let target = op.target ?? {};
      if (withParentTarget) {
        const entity = input.entityOf(op.entity);
        const pk = entity?.primaryIdAttribute;
        const keep = new Set([...op.submitted, ...(pk ? [pk] : [])]);
        target = Object.fromEntries(Object.entries(target).filter(([k]) => keep.has(k)));
      }
      return [{ key: "Target", value: targetEntity(input, op.entity, op.id, target) }];
    }
    case "Delete":
      return [{ key: "Target", value: entityReference(op.entity, op.id) }];
    default:
      return (op.inputParameters ?? []).map((p) => ({ key: p.key, value: parameterValue(input, p.value) }));
  }
}

function outputParameters(input: ContextInput): KeyValue[] {
  const op = input.operation;
  if (op.message === "Create") return [{ key: "id", value: op.id }];
  return (op.outputParameters ?? []).map((p) => ({ key: p.key, value: parameterValue(input, p.value) }));
}

function images(input: ContextInput): { pre: KeyValue[]; post: KeyValue[] } {
  const op = input.operation;
  const pre: KeyValue[] = [];
  const post: KeyValue[] = [];
  for (const img of input.step.images) {
    if ((img.type === 0 || img.type === 2) && op.preImage && op.message !== "Create")
      pre.push({ key: img.alias, value: imageEntity(input, op.entity, op.id, op.preImage, img.attributes) });
    if ((img.type === 1 || img.type === 2) && op.postImage && op.message !== "Delete")
      post.push({ key: img.alias, value: imageEntity(input, op.entity, op.id, op.postImage, img.attributes) });
  }
  // Asynchronous steps also carry the primary name (spec §7.8).
  const entity = input.entityOf(op.entity);
  if (input.step.mode === 1 && entity?.primaryNameAttribute && op.postImage && op.message !== "Delete") {
    const only = [entity.primaryIdAttribute, entity.primaryNameAttribute];
    post.push({ key: "AsynchronousStepPrimaryName", value: imageEntity(input, op.entity, op.id, op.postImage, only) });
  }
  return { pre, post };
}

export type RemoteExecutionContext = Record<string, unknown>;

/** Win and Lose carry the opportunity in `OpportunityClose.opportunityid`; PrimaryEntityId follows the chosen reading. */
function primaryEntityId(input: ContextInput): string {
  const op = input.operation;
  if (op.message !== "Win" && op.message !== "Lose") return op.id;
  switch (input.closePrimaryEntityId ?? "opportunity") {
    case "empty":
      return EMPTY_GUID;
    case "opportunityclose": {
      const close = op.inputParameters?.find((p) => p.key === "OpportunityClose")?.value;
      return close?.kind === "entity" ? close.id : op.id;
    }
    default:
      return op.id;
  }
}

export function buildExecutionContext(input: ContextInput): RemoteExecutionContext {
  const op = input.operation;
  const { pre, post } = images(input);
  const userObjectId = input.user.objectId ?? EMPTY_GUID;
  const sync = input.step.mode === 0;
  const base = {
    BusinessUnitId: input.businessUnitId,
    CorrelationId: input.correlationId,
    Depth: 1,
    InitiatingUserAzureActiveDirectoryObjectId: userObjectId,
    InitiatingUserId: input.user.id,
  };
  const tail = {
    OrganizationId: input.organization.id,
    OrganizationName: input.organization.name,
  };
  const parent =
    op.message === "Create" || op.message === "Update"
      ? {
          ...base,
          InputParameters: inputParameters(input, true),
          IsExecutingOffline: false,
          IsInTransaction: true,
          IsOfflinePlayback: false,
          IsolationMode: 1,
          MessageName: op.message,
          Mode: sync ? 0 : 1,
          OperationCreatedOn: wcfDate(op.at),
          OperationId: input.operationId,
          ...tail,
          OutputParameters: [],
          OwningExtension: { Id: EMPTY_GUID, KeyAttributes: [], LogicalName: "sdkmessageprocessingstep", Name: null, RowVersion: null },
          ParentContext: null,
          PostEntityImages: [],
          PreEntityImages: [],
          PrimaryEntityId: op.id,
          PrimaryEntityName: op.entity,
          RequestId: null,
          SecondaryEntityName: "none",
          SharedVariables: [],
          Stage: 30,
          UserAzureActiveDirectoryObjectId: userObjectId,
          UserId: input.user.id,
        }
      : null;
  return {
    ...base,
    InputParameters: inputParameters(input),
    IsExecutingOffline: false,
    IsInTransaction: sync,
    IsOfflinePlayback: false,
    IsolationMode: 1,
    MessageName: op.message,
    Mode: input.step.mode,
    OperationCreatedOn: wcfDate(op.at),
    OperationId: input.operationId,
    ...tail,
    OutputParameters: outputParameters(input),
    OwningExtension: {
      Id: input.step.id,
      KeyAttributes: [],
      LogicalName: "sdkmessageprocessingstep",
      Name: input.step.name,
      RowVersion: null,
    },
    ParentContext: parent,
    PostEntityImages: post,
    PreEntityImages: pre,
    PrimaryEntityId: primaryEntityId(input),
    PrimaryEntityName: op.entity,
    RequestId: sync ? input.operationId : null,
    SecondaryEntityName: "none",
    SharedVariables: (op.sharedVariables ?? []).map((v) => ({ key: v.key, value: v.value })),
    Stage: input.step.stage,
    UserAzureActiveDirectoryObjectId: userObjectId,
    UserId: input.user.id,
  };
}

export const MAX_WEBHOOK_BYTES = 256 * 1024;

/**
 * Serialises a context as WCF does (`/` escaped). Above 256 KB Dataverse trims the payload and says
 * so in `x-ms-dynamics-msg-size-exceeded`: we drop the parent context, then the images, then the
 * Target's columns (the receiver re-reads the row by PrimaryEntityId).
 */
export function serialiseContext(ctx: RemoteExecutionContext): { body: string; trimmed: boolean } {
  const text = (c: RemoteExecutionContext) => JSON.stringify(c).replace(/\//g, "\\/");
  let body = text(ctx);
  if (Buffer.byteLength(body) <= MAX_WEBHOOK_BYTES) return { body, trimmed: false };
  let trimmed: RemoteExecutionContext = { ...ctx, ParentContext: null };
  body = text(trimmed);
  if (Buffer.byteLength(body) > MAX_WEBHOOK_BYTES) {
    trimmed = { ...trimmed, PreEntityImages: [], PostEntityImages: [] };
    body = text(trimmed);
  }
  if (Buffer.byteLength(body) > MAX_WEBHOOK_BYTES) {
    const params = (trimmed.InputParameters as KeyValue[]).map((p) =>
      p.key === "Target" && typeof p.value === "object" && p.value !== null ? { key: p.key, value: { ...(p.value as object), Attributes: [] } } : p,
    );
    trimmed = { ...trimmed, InputParameters: params };
    body = text(trimmed);
  }
  return { body, trimmed: true };
}
