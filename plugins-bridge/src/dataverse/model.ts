/**
 * Dataverse rows the bridge reads and writes, in Web API JSON shape (specs/dataverse.md §4):
 * lookups read as `_<name>_value`, `@odata.etag` on every row, money as a number, date-only
 * columns as `YYYY-MM-DD`. Plus the RemoteExecutionContext a service-endpoint webhook posts (§3.2,
 * §7.8) and the conversion of its Target attributes into the same plain column values.
 *
 * Rows are loose: the deal value and country code columns are chosen by environment variables, and
 * an admin's mapping may name any column, so unknown columns pass through.
 */
import { z } from "zod";
import { LeadColumn, OpportunityColumn } from "@cosell/contract";

import {
  SystemColumn,
  lookupValueProperty,
  OpportunityState,
  OpportunityStatusReason,
  LeadState,
  LeadStatusReason,
} from "@cosell/contract";
export { SystemColumn, lookupValueProperty, OpportunityState, OpportunityStatusReason, LeadState, LeadStatusReason };

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

const str = z.string().nullish();
const num = z.number().nullish();
const etag = { "@odata.etag": z.string().optional() };

/** A row as the Web API returns it. Values stay `unknown` until a transform reads them. */
export type DataverseRow = Readonly<Record<string, unknown>>;

export const OpportunityRowSchema = z.looseObject({
  ...etag,
  opportunityid: z.string(),
  name: str,
  estimatedvalue: num,
  estimatedclosedate: str,
  description: str,
  statecode: num,
  statuscode: num,
  _customerid_value: str,
  _parentaccountid_value: str,
  _parentcontactid_value: str,
  _ownerid_value: str,
  _transactioncurrencyid_value: str,
  modifiedon: str,
  [OpportunityColumn.syncWithPartnerCenter]: z.boolean().nullish(),
  [OpportunityColumn.microsoftHelp]: num,
  [OpportunityColumn.shareWithMicrosoft]: z.boolean().nullish(),
  [OpportunityColumn.products]: str,
  [OpportunityColumn.referralId]: str,
  [OpportunityColumn.engagementId]: str,
  [OpportunityColumn.referralLink]: str,
  [OpportunityColumn.referralStatus]: str,
  [OpportunityColumn.referralSubstatus]: str,
  [OpportunityColumn.microsoftCrmId]: str,
  [OpportunityColumn.syncState]: num,
  [OpportunityColumn.lastSyncedOn]: str,
  [OpportunityColumn.syncError]: str,
  [OpportunityColumn.audit]: str,
  [OpportunityColumn.referralAction]: num,
  [OpportunityColumn.declineReason]: str,
});
export type OpportunityRow = z.infer<typeof OpportunityRowSchema>;

export const LeadRowSchema = z.looseObject({
  ...etag,
  leadid: z.string(),
  subject: str,
  firstname: str,
  lastname: str,
  companyname: str,
  emailaddress1: str,
  telephone1: str,
  description: str,
  estimatedamount: num,
  estimatedclosedate: str,
  statecode: num,
  statuscode: num,
  _ownerid_value: str,
  _transactioncurrencyid_value: str,
  _qualifyingopportunityid_value: str,
  modifiedon: str,
  [LeadColumn.referralId]: str,
  [LeadColumn.referralLink]: str,
  [LeadColumn.referralStatus]: str,
  [LeadColumn.referralSubstatus]: str,
  [LeadColumn.syncState]: num,
  [LeadColumn.lastSyncedOn]: str,
  [LeadColumn.syncError]: str,
  [LeadColumn.audit]: str,
});
export type LeadRow = z.infer<typeof LeadRowSchema>;

export const AccountRowSchema = z.looseObject({
  ...etag,
  accountid: z.string(),
  name: str,
  address1_line1: str,
  address1_line2: str,
  address1_city: str,
  address1_stateorprovince: str,
  address1_postalcode: str,
  address1_country: str,
});
export type AccountRow = z.infer<typeof AccountRowSchema>;

export const ContactRowSchema = z.looseObject({
  ...etag,
  contactid: z.string(),
  firstname: str,
  lastname: str,
  emailaddress1: str,
  telephone1: str,
});
export type ContactRow = z.infer<typeof ContactRowSchema>;

export const SystemUserRowSchema = z.looseObject({
  ...etag,
  systemuserid: z.string(),
  firstname: str,
  lastname: str,
  fullname: str,
  internalemailaddress: str,
  address1_telephone1: str,
});
export type SystemUserRow = z.infer<typeof SystemUserRowSchema>;

export const TransactionCurrencyRowSchema = z.looseObject({
  ...etag,
  transactioncurrencyid: z.string(),
  isocurrencycode: z.string(),
});
export type TransactionCurrencyRow = z.infer<typeof TransactionCurrencyRowSchema>;

/**
 * Everything the bridge reads on the Dynamics side of one link: the opportunity or lead, and the
 * rows its lookups point at, already resolved by the caller (the opportunity's customer account,
 * its `parentcontactid` contact, its owner, its currency). Pure sync code never resolves lookups.
 */
export interface CrmRecordSet {
  readonly kind: "opportunity" | "lead";
  readonly record: DataverseRow;
  readonly account?: DataverseRow | null;
  readonly contact?: DataverseRow | null;
  readonly owner?: DataverseRow | null;
  readonly currency?: DataverseRow | null;
}

/**
 * A lookup the caller resolves before writing: "the row of `table` whose `matchColumn` equals
 * `matchValue`", then sends `<column>@odata.bind`. Pure code knows the currency by its ISO code and
 * the owner by email, never by id.
 */
export interface DataverseLookup {
  readonly lookup: {
    readonly table: "transactioncurrency" | "systemuser";
    readonly matchColumn: string;
    readonly matchValue: string;
  };
}
export type DataverseValue = string | number | boolean | null | DataverseLookup;
export type DataverseValues = Record<string, DataverseValue>;

export function isDataverseLookup(value: unknown): value is DataverseLookup {
  return typeof value === "object" && value !== null && "lookup" in value;
}

// ---------------------------------------------------------------------------------------------
// Webhook: RemoteExecutionContext (§3.2, §7.8)
// ---------------------------------------------------------------------------------------------

const KeyValueSchema = z.looseObject({ key: z.string(), value: z.unknown() });

export const WebhookEntitySchema = z.looseObject({
  LogicalName: z.string(),
  Id: z.string().nullish(),
  Attributes: z.array(KeyValueSchema).default([]),
  FormattedValues: z.array(KeyValueSchema).nullish(),
  RowVersion: z.string().nullish(),
});
export type WebhookEntity = z.infer<typeof WebhookEntitySchema>;

const ImageListSchema = z.array(z.looseObject({ key: z.string(), value: WebhookEntitySchema })).nullish();

export const RemoteExecutionContextSchema = z.looseObject({
  MessageName: z.string(),
  PrimaryEntityName: z.string(),
  PrimaryEntityId: z.string(),
  OperationId: z.string().nullish(),
  CorrelationId: z.string().nullish(),
  RequestId: z.string().nullish(),
  UserId: z.string().nullish(),
  InitiatingUserId: z.string().nullish(),
  Depth: z.number().nullish(),
  Stage: z.number().nullish(),
  Mode: z.number().nullish(),
  OperationCreatedOn: z.string().nullish(),
  InputParameters: z.array(KeyValueSchema).default([]),
  PreEntityImages: ImageListSchema,
  PostEntityImages: ImageListSchema,
});
export type RemoteExecutionContext = z.infer<typeof RemoteExecutionContextSchema>;

const WCF_DATE = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/;

/**
 * `/Date(1608015600000)/` or `/Date(1506409448000-0700)/` → ISO-8601 UTC. The milliseconds are
 * already UTC; the offset only says where the writer was, so it is ignored. JSON.parse has already
 * turned the escaped `\/` form into plain slashes.
 */
export function parseWcfDate(value: string): string | undefined {
  const m = WCF_DATE.exec(value);
  if (!m) return undefined;
  const ms = Number(m[1]);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function typeName(value: object): string | undefined {
  const t = (value as { __type?: unknown }).__type;
  if (typeof t !== "string") return undefined;
  return t.split(":")[0];
}

type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

function plainScalar(value: unknown): PlainValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return parseWcfDate(value) ?? value;
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(plainScalar);
  if (typeof value === "object") {
    const t = typeName(value);
    const v = value as { Value?: unknown };
    if ((t === "OptionSetValue" || t === "Money") && typeof v.Value === "number") return v.Value;
    const out: Record<string, PlainValue> = {};
    for (const [k, inner] of Object.entries(value)) out[k] = plainScalar(inner);
    return out;
  }
  return null;
}

/**
 * Turns the attributes of a webhook entity into Web API-shaped column values: choices and money
 * become numbers, multi-select choices a comma-separated string (as the Web API returns them),
 * lookups `_<name>_value` = id (plus the lookuplogicalname annotation), WCF dates ISO strings.
 */
export function entityColumns(entity: WebhookEntity): Record<string, PlainValue> {
  const out: Record<string, PlainValue> = {};
  for (const { key, value } of entity.Attributes) {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && typeName(value) === "EntityReference") {
      const ref = value as { Id?: unknown; LogicalName?: unknown };
      out[lookupValueProperty(key)] = typeof ref.Id === "string" ? ref.Id : null;
      if (typeof ref.LogicalName === "string") {
        out[`${lookupValueProperty(key)}@Microsoft.Dynamics.CRM.lookuplogicalname`] = ref.LogicalName;
      }
      continue;
    }
    if (
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((v) => v !== null && typeof v === "object" && typeName(v) === "OptionSetValue")
    ) {
      out[key] = value.map((v) => String((v as { Value: unknown }).Value)).join(",");
      continue;
    }
    out[key] = plainScalar(value);
  }
  return out;
}

/** Columns Dataverse sets on every update; they say nothing about what a user changed. */
const PLATFORM_COLUMNS = new Set(["modifiedon", "modifiedby", "modifiedonbehalfby", "timezoneruleversionnumber"]);

export interface DataverseWebhookEvent {
  readonly messageName: string;
  readonly entityName: string;
  readonly entityId: string;
  /** Dedupe key: a 502/503/504 retry can deliver the same operation twice. */
  readonly operationId: string | undefined;
  readonly correlationId: string | undefined;
  readonly userId: string | undefined;
  readonly initiatingUserId: string | undefined;
  readonly depth: number | undefined;
  /** Target attributes as plain column values. */
  readonly columns: Record<string, PlainValue>;
  /** Columns the caller submitted (Target minus the primary key and platform-set columns). */
  readonly changedColumns: readonly string[];
  readonly preImage: Record<string, PlainValue> | undefined;
  readonly postImage: Record<string, PlainValue> | undefined;
}

export class DataverseWebhookError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DataverseWebhookError";
  }
}

const RECORD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMPTY_GUID = "00000000-0000-0000-0000-000000000000";
const isRecordId = (v: unknown): v is string => typeof v === "string" && RECORD_ID.test(v) && v !== EMPTY_GUID;

const EntityReferenceSchema = z.looseObject({ Id: z.string(), LogicalName: z.string() });

/** The messages whose request carries the opportunity in `OpportunityClose` rather than a Target. */
const CLOSE_MESSAGES = new Set(["Win", "Lose"]);

/**
 * Win and Lose (WinOpportunity / LoseOpportunity are unbound) name the opportunity in
 * `InputParameters.OpportunityClose.opportunityid`, as public plug-in code reads it; what Dataverse
 * puts in PrimaryEntityId is unverified (docs/decisions.md), so it is only the fallback, and never
 * when it is the close activity's own id.
 */
function closedOpportunity(ctx: RemoteExecutionContext): string {
  const param = ctx.InputParameters.find((p) => p.key === "OpportunityClose");
  let closeId: string | null | undefined;
  if (param && param.value !== null && param.value !== undefined) {
    const close = WebhookEntitySchema.safeParse(param.value);
    if (!close.success) {
      throw new DataverseWebhookError(`Dataverse ${ctx.MessageName} webhook: OpportunityClose is not an entity: ${z.prettifyError(close.error)}`, {
        cause: close.error,
      });
    }
    closeId = close.data.Id;
    const ref = EntityReferenceSchema.safeParse(close.data.Attributes.find((a) => a.key === "opportunityid")?.value);
    if (ref.success && ref.data.LogicalName === "opportunity" && isRecordId(ref.data.Id)) return ref.data.Id;
  }
  const primary = ctx.PrimaryEntityId;
  if (ctx.PrimaryEntityName === "opportunity" && isRecordId(primary) && primary.toLowerCase() !== closeId?.toLowerCase()) return primary;
  throw new DataverseWebhookError(
    `Dataverse ${ctx.MessageName} webhook names no opportunity: InputParameters.OpportunityClose has no opportunityid and PrimaryEntityId is not the opportunity's id`,
  );
}

/** Validates a RemoteExecutionContext body; throws DataverseWebhookError with every problem. */
export function parseDataverseWebhook(body: unknown): DataverseWebhookEvent {
  const parsed = RemoteExecutionContextSchema.safeParse(body);
  if (!parsed.success) {
    throw new DataverseWebhookError(`Dataverse webhook body is not valid: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const ctx = parsed.data;
  const targetParam = ctx.InputParameters.find((p) => p.key === "Target");
  let columns: Record<string, PlainValue> = {};
  let changedColumns: string[] = [];
  if (targetParam && targetParam.value !== null && typeof targetParam.value === "object") {
    const target = WebhookEntitySchema.safeParse(targetParam.value);
    if (!target.success) {
      throw new DataverseWebhookError(`Dataverse webhook Target is not an entity: ${z.prettifyError(target.error)}`, {
        cause: target.error,
      });
    }
    columns = entityColumns(target.data);
    const primaryKey = `${ctx.PrimaryEntityName}id`;
    changedColumns = target.data.Attributes.map((a) => a.key).filter(
      (k) => k !== primaryKey && !PLATFORM_COLUMNS.has(k),
    );
  }
  const image = (list: RemoteExecutionContext["PreEntityImages"]) => {
    const first = list?.[0];
    return first ? entityColumns(first.value) : undefined;
  };
  return {
    messageName: ctx.MessageName,
    ...(CLOSE_MESSAGES.has(ctx.MessageName)
      ? { entityName: "opportunity", entityId: closedOpportunity(ctx) }
      : { entityName: ctx.PrimaryEntityName, entityId: ctx.PrimaryEntityId }),
    operationId: ctx.OperationId ?? undefined,
    correlationId: ctx.CorrelationId ?? undefined,
    userId: ctx.UserId ?? undefined,
    initiatingUserId: ctx.InitiatingUserId ?? undefined,
    depth: ctx.Depth ?? undefined,
    columns,
    changedColumns,
    preImage: image(ctx.PreEntityImages),
    postImage: image(ctx.PostEntityImages),
  };
}
