/**
 * Messages beyond CRUD that the bridge uses: `WinOpportunity`, `LoseOpportunity` (unbound actions),
 * `QualifyLead` (bound to a lead) and the `WhoAmI` function. Each runs in the request's write
 * scope, so a change set rolls it back like any write.
 */
import { z } from "zod";
import { Errors } from "../errors";
import { createRecord, updateRecord, type MessageParameter } from "../data/operations";
import { isLookupValue, type LookupValue, type Row, type StoredValue } from "../data/store";
import type { EntityMetadata } from "../metadata/types";
import { emptyResponse, jsonResponse, type ApiContext, type ApiRequest, type ApiResponse } from "./http";
import { parseJsonBody, parseRowBody, resolveReference } from "./rows";

const today = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function zodBody<T extends z.ZodTypeAny>(schema: T, body: Record<string, unknown>, action: string): z.infer<T> {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw Errors.badPayloadValue(action, `Invalid parameter '${issue?.path.join(".") ?? ""}' of ${action}: ${issue?.message ?? "invalid"}.`);
  }
  return r.data;
}

const CloseBody = z
  .object({
    OpportunityClose: z.record(z.string(), z.unknown()),
    Status: z.number().int(),
  })
  .passthrough();

/** WinOpportunity / LoseOpportunity: closes the opportunity and records an opportunityclose activity. */
export function closeOpportunity(ctx: ApiContext, req: ApiRequest, outcome: "Win" | "Lose"): ApiResponse {
  const { org } = ctx;
  const action = outcome === "Win" ? "WinOpportunity" : "LoseOpportunity";
  const body = zodBody(CloseBody, parseJsonBody(req.body), action);
  const closeTable = org.entity("opportunityclose");
  const opportunityTable = org.entity("opportunity");
  const closeValues = parseRowBody(org, closeTable, body.OpportunityClose, {
    isCreate: true,
    apiUrl: ctx.apiUrl,
    ...(ctx.contentIds ? { contentIds: ctx.contentIds } : {}),
  });
  const target = closeValues.opportunityid;
  if (!isLookupValue(target)) throw Errors.invalidArgument(`${action}: OpportunityClose must bind opportunityid ("opportunityid@odata.bind": "/opportunities(<id>)").`);
  const opportunity = org.row("opportunity", target.id);
  if (!opportunity) throw Errors.notFound("opportunity", target.id);
  const wantedState = outcome === "Win" ? 1 : 2;
  const status = opportunityTable.attributes.get("statuscode")?.optionSet?.options.find((o) => o.value === body.Status);
  if (!status || status.state !== wantedState)
    throw Errors.invalidArgument(`${body.Status} is not a valid status code for state code ${wantedState} (${outcome === "Win" ? "Won" : "Lost"}) on opportunity.`);
  if (opportunity.statecode !== 0) throw Errors.invalidArgument("The opportunity is already closed. Reopen it before closing it again.");

  const actualend = typeof closeValues.actualend === "string" ? closeValues.actualend : today(org.now());
  const revenue = closeValues.actualrevenue;
  const actualvalue: StoredValue =
    typeof revenue === "number" ? revenue : outcome === "Win" ? (opportunity.estimatedvalue ?? null) : 0;
  const close = createRecord(org, ctx.scope, closeTable, {
    ...closeValues,
    actualend,
    statecode: 1,
    statuscode: 2,
    ...(opportunity.transactioncurrencyid ? { transactioncurrencyid: opportunity.transactioncurrencyid } : {}),
  });
  const inputParameters: MessageParameter[] = [
    { key: "OpportunityClose", value: { kind: "entity", entity: "opportunityclose", id: close.id, row: close.row } },
    { key: "Status", value: { kind: "optionSet", value: body.Status } },
  ];
  updateRecord(
    org,
    ctx.scope,
    opportunityTable,
    target.id,
    { statecode: wantedState, statuscode: body.Status, actualclosedate: actualend, actualvalue },
    { message: outcome, inputParameters },
  );
  return emptyResponse(204);
}

const EntityRefParam = z.record(z.string(), z.unknown());

const QualifyBody = z
  .object({
    CreateAccount: z.boolean(),
    CreateContact: z.boolean(),
    CreateOpportunity: z.boolean(),
    Status: z.number().int(),
    OpportunityCurrencyId: EntityRefParam.optional(),
    OpportunityCustomerId: EntityRefParam.optional(),
    SourceCampaignId: EntityRefParam.optional(),
    ProcessInstanceId: EntityRefParam.optional(),
    SuppressDuplicateDetection: z.boolean().optional(),
  })
  .passthrough();

/**
 * An entity-reference parameter as the Web API takes it: `{"@odata.type":"Microsoft.Dynamics.CRM.account","accountid":"…"}`
 * or `{"@odata.id":"accounts(…)"}`.
 */
function entityReference(ctx: ApiContext, param: Record<string, unknown>, allowed: readonly string[], name: string): LookupValue {
  const odataId = param["@odata.id"];
  if (typeof odataId === "string") {
    const r = resolveReference(ctx.org, odataId, ctx.apiUrl, ctx.contentIds);
    if (!allowed.includes(r.entity)) throw Errors.invalidArgument(`${name} must reference ${allowed.join(" or ")}.`);
    return r;
  }
  const type = param["@odata.type"];
  const candidates =
    typeof type === "string" ? [type.replace(/^#/, "").replace(/^Microsoft\.Dynamics\.CRM\./, "")] : allowed;
  for (const entityName of candidates) {
    if (!allowed.includes(entityName)) continue;
    const entity = ctx.org.schema.entity(entityName);
    const id = entity ? param[entity.primaryIdAttribute] : undefined;
    if (typeof id === "string") {
      if (!ctx.org.row(entityName, id)) throw Errors.notFound(entityName, id);
      return { entity: entityName, id: id.toLowerCase() };
    }
  }
  throw Errors.invalidArgument(`${name} must be an entity reference to ${allowed.join(" or ")}.`);
}

const copy = (from: Row, columns: readonly string[]): Record<string, StoredValue> => {
  const out: Record<string, StoredValue> = {};
  for (const c of columns) {
    const v = from[c];
    if (v !== undefined && v !== null) out[c] = v;
  }
  return out;
};

const ADDRESS = ["address1_line1", "address1_line2", "address1_line3", "address1_city", "address1_stateorprovince", "address1_postalcode", "address1_country"];

/** QualifyLead: creates what is asked, links it to the lead and closes the lead as Qualified. */
export function qualifyLead(ctx: ApiContext, req: ApiRequest, leadId: string): ApiResponse {
  const { org } = ctx;
  const body = zodBody(QualifyBody, parseJsonBody(req.body), "QualifyLead");
  const leadTable = org.entity("lead");
  const lead = org.row("lead", leadId);
  if (!lead) throw Errors.notFound("lead", leadId);
  const status = leadTable.attributes.get("statuscode")?.optionSet?.options.find((o) => o.value === body.Status);
  if (!status || status.state !== 1) throw Errors.invalidArgument(`${body.Status} is not a valid status code for state code 1 (Qualified) on lead.`);
  if (lead.statecode !== 0) throw Errors.invalidArgument("The lead is already closed. Reactivate it before qualifying it.");

  const currency = body.OpportunityCurrencyId
    ? entityReference(ctx, body.OpportunityCurrencyId, ["transactioncurrency"], "OpportunityCurrencyId")
    : isLookupValue(lead.transactioncurrencyid)
      ? lead.transactioncurrencyid
      : undefined;
  const customer = body.OpportunityCustomerId
    ? entityReference(ctx, body.OpportunityCustomerId, ["account", "contact"], "OpportunityCustomerId")
    : undefined;
  const leadRef: LookupValue = { entity: "lead", id: leadId };
  const created: Array<{ entity: EntityMetadata; id: string }> = [];

  let account: LookupValue | undefined;
  if (body.CreateAccount && typeof lead.companyname === "string" && lead.companyname !== "") {
    const table = org.entity("account");
    const r = createRecord(org, ctx.scope, table, {
      name: lead.companyname,
      ...copy(lead, [...ADDRESS, "telephone1", "emailaddress1", "websiteurl", "transactioncurrencyid"]),
      originatingleadid: leadRef,
    });
    account = { entity: "account", id: r.id };
    created.push({ entity: table, id: r.id });
  }
  let contact: LookupValue | undefined;
  if (body.CreateContact && (lead.lastname || lead.firstname)) {
    const table = org.entity("contact");
    const parent = account ?? (isLookupValue(lead.parentaccountid) ? lead.parentaccountid : undefined);
    const r = createRecord(org, ctx.scope, table, {
      ...copy(lead, ["firstname", "lastname", "jobtitle", "emailaddress1", "telephone1", "mobilephone", ...ADDRESS, "transactioncurrencyid"]),
      ...(parent ? { parentcustomerid: parent } : {}),
      originatingleadid: leadRef,
    });
    contact = { entity: "contact", id: r.id };
    created.push({ entity: table, id: r.id });
  }
  let opportunity: LookupValue | undefined;
  if (body.CreateOpportunity) {
    const table = org.entity("opportunity");
    const parentAccount = account ?? (isLookupValue(lead.parentaccountid) ? lead.parentaccountid : undefined);
    const parentContact = contact ?? (isLookupValue(lead.parentcontactid) ? lead.parentcontactid : undefined);
    const customerRef = customer ?? parentAccount ?? parentContact;
    const r = createRecord(org, ctx.scope, table, {
      name: typeof lead.subject === "string" ? lead.subject : null,
      ...copy(lead, ["description", "estimatedclosedate"]),
      ...(typeof lead.estimatedamount === "number" ? { estimatedvalue: lead.estimatedamount } : {}),
      ...(customerRef ? { customerid: customerRef } : {}),
      ...(parentAccount ? { parentaccountid: parentAccount } : {}),
      ...(parentContact ? { parentcontactid: parentContact } : {}),
      ...(currency ? { transactioncurrencyid: currency } : {}),
      originatingleadid: leadRef,
    });
    opportunity = { entity: "opportunity", id: r.id };
    created.push({ entity: table, id: r.id });
  }
  const refs = created.map((c) => ({ entity: c.entity.logicalName, id: c.id }));
  const inputParameters: MessageParameter[] = [
    { key: "LeadId", value: { kind: "entityReference", entity: "lead", id: leadId } },
    { key: "CreateAccount", value: { kind: "plain", value: body.CreateAccount } },
    { key: "CreateContact", value: { kind: "plain", value: body.CreateContact } },
    { key: "CreateOpportunity", value: { kind: "plain", value: body.CreateOpportunity } },
    { key: "Status", value: { kind: "optionSet", value: body.Status } },
    ...(currency ? [{ key: "OpportunityCurrencyId", value: { kind: "entityReference" as const, ...currency } }] : []),
    ...(customer ? [{ key: "OpportunityCustomerId", value: { kind: "entityReference" as const, ...customer } }] : []),
  ];
  updateRecord(
    org,
    ctx.scope,
    leadTable,
    leadId,
    {
      statecode: 1,
      statuscode: body.Status,
      ...(opportunity ? { qualifyingopportunityid: opportunity } : {}),
    },
    { message: "QualifyLead", inputParameters },
  );
  // The output parameter rides on the recorded QualifyLead operation.
  const op = ctx.scope.operations[ctx.scope.operations.length - 1];
  if (op && op.message === "QualifyLead")
    ctx.scope.operations[ctx.scope.operations.length - 1] = {
      ...op,
      outputParameters: [{ key: "CreatedEntities", value: { kind: "entityReferenceCollection", refs } }],
    };
  return jsonResponse(200, {
    "@odata.context": `${ctx.apiUrl}/$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)`,
    value: created.map((c) => ({ "@odata.type": `#Microsoft.Dynamics.CRM.${c.entity.logicalName}`, [c.entity.primaryIdAttribute]: c.id })),
  });
}

export function whoAmI(ctx: ApiContext): ApiResponse {
  return jsonResponse(200, {
    "@odata.context": `${ctx.apiUrl}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
    BusinessUnitId: ctx.scope.caller.businessunitid,
    UserId: ctx.scope.caller.systemuserid,
    OrganizationId: ctx.org.id,
  });
}
