/**
 * `cosell-bridge connect`: points both services at this bridge.
 *
 * Partner Center: one webhook registration per partner, one URL for all its events (specs §3.1).
 * POST when there is none; PUT when it is ours but lacks events; when it belongs to another URL
 * (Microsoft's connector, an old bridge) refuse unless `overwrite`, and say whose URL it replaces.
 *
 * Dataverse: a webhook service endpoint (contract 8, HttpHeader auth carrying the webhook key) and
 * asynchronous post-operation steps on it: Create and Update of opportunity and lead (Update
 * filtered to the columns the bridge must hear: what flows to Partner Center, the seller's action
 * columns — never the bridge's own bookkeeping columns, so its writes do not call it back), plus
 * Win / Lose (WinOpportunity / LoseOpportunity raise those messages, not Update, in Dataverse) and
 * QualifyLead. Every component is found by name, so running connect again changes nothing.
 */
import { BRIDGE_PRIVILEGES, EnvironmentVariable, LeadColumn, OpportunityColumn, SECURITY_ROLES } from "@cosell/contract";
import type { DataverseClient } from "../dataverse/client";
import { AuthError } from "../http/errors";
import { odataLiteral } from "../dataverse/client";
import { SystemColumn } from "../dataverse/model";
import type { Mapping } from "../mapping";
import { fieldsForLink } from "../mapping";
import { REFERRAL_EVENTS, type PartnerCenterClient } from "../partner-center/client";

export const SERVICE_ENDPOINT_NAME = "cosell-bridge";
const STEP_PREFIX = "cosell-bridge:";

export type ConnectAction = "create" | "update" | "unchanged" | "refused" | "skipped";

export interface ConnectStep {
  readonly target: "partner-center" | "dataverse";
  readonly what: string;
  readonly action: ConnectAction;
  readonly detail: string;
}

export interface ConnectPlan {
  readonly steps: readonly ConnectStep[];
  readonly applied: boolean;
  /** False when something was refused (the caller exits non-zero). */
  readonly ok: boolean;
}

export interface ConnectOptions {
  readonly publicUrl: string;
  readonly partnerCenter: Pick<PartnerCenterClient, "getWebhookRegistration" | "registerWebhook">;
  readonly dataverse: Pick<DataverseClient, "get" | "create" | "update">;
  /** The mapping, or how to read it: read only after the privilege check (it reads Dataverse settings). */
  readonly mapping: Mapping | (() => Promise<Mapping>);
  readonly webhookHeader: string;
  readonly webhookKey: string;
  readonly overwrite?: boolean;
  readonly dryRun?: boolean;
  /** Which parts to connect (default both). */
  readonly only?: "partner-center" | "dataverse";
}

function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, "").toLowerCase() === b.replace(/\/+$/, "").toLowerCase();
}

/** The columns whose change the bridge must hear, per table (Update steps' filteringattributes). */
export function filteringAttributes(mapping: Mapping, kind: "opportunity" | "lead"): string[] {
  const columns = new Set<string>();
  for (const f of fieldsForLink(mapping, kind)) {
    if (f.kind !== kind || f.direction === "pc-to-crm") continue;
    columns.add(f.dataverse);
  }
  if (kind === "opportunity") {
    for (const c of [
      OpportunityColumn.syncWithPartnerCenter,
      OpportunityColumn.referralAction,
      OpportunityColumn.declineReason,
      SystemColumn.opportunity.customer,
      SystemColumn.opportunity.parentAccount,
      SystemColumn.opportunity.parentContact,
      SystemColumn.opportunity.stateCode,
    ])
      columns.add(c);
  } else {
    columns.add(SystemColumn.lead.stateCode);
    columns.add(SystemColumn.lead.statusCode);
  }
  // Never the bridge's own columns: writing them must not call the bridge back.
  const bookkeeping = new Set<string>([
    OpportunityColumn.syncState,
    OpportunityColumn.lastSyncedOn,
    OpportunityColumn.syncError,
    OpportunityColumn.audit,
    OpportunityColumn.referralId,
    OpportunityColumn.engagementId,
    OpportunityColumn.referralLink,
    OpportunityColumn.referralStatus,
    OpportunityColumn.referralSubstatus,
    OpportunityColumn.microsoftCrmId,
    LeadColumn.referralId,
  ]);
  return [...columns].filter((c) => !bookkeeping.has(c)).sort();
}

interface StepSpec {
  readonly entity: "opportunity" | "lead";
  readonly message: string;
  readonly filtering?: string;
}

function stepSpecs(mapping: Mapping): StepSpec[] {
  return [
    { entity: "opportunity", message: "Create" },
    { entity: "opportunity", message: "Update", filtering: filteringAttributes(mapping, "opportunity").join(",") },
    { entity: "opportunity", message: "Win" },
    { entity: "opportunity", message: "Lose" },
    { entity: "lead", message: "Create" },
    { entity: "lead", message: "Update", filtering: filteringAttributes(mapping, "lead").join(",") },
    { entity: "lead", message: "QualifyLead" },
  ];
}

type Json = Record<string, unknown>;

async function first(dv: ConnectOptions["dataverse"], path: string): Promise<Json | undefined> {
  const json = (await dv.get(path)) as { value?: Json[] };
  return json.value?.[0];
}

/**
 * The privileges of the "Co-sell Bridge Service" role that the application user lacks, read with
 * WhoAmI and RetrieveUserPrivileges before connect changes anything: a role short of one fails
 * here, naming it, instead of with a 403 halfway through.
 */
export async function missingPrivileges(dv: ConnectOptions["dataverse"]): Promise<string[]> {
  const me = (await dv.get("/WhoAmI")) as { UserId?: unknown };
  if (typeof me.UserId !== "string") throw new Error("Dataverse WhoAmI did not answer a UserId");
  let held: { RolePrivileges?: Array<{ PrivilegeName?: unknown }> };
  try {
    held = (await dv.get(`/systemusers(${me.UserId})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`)) as typeof held;
  } catch (err) {
    // Reading one's own privileges takes prvReadUser, which the bridge's role holds: without it, the role is missing.
    if (err instanceof AuthError) return BRIDGE_PRIVILEGES.map((p) => p.name);
    throw err;
  }
  const names = new Set((held.RolePrivileges ?? []).map((p) => String(p.PrivilegeName ?? "").toLowerCase()));
  return BRIDGE_PRIVILEGES.map((p) => p.name).filter((n) => !names.has(n.toLowerCase()));
}

export async function connect(o: ConnectOptions): Promise<ConnectPlan> {
  const steps: ConnectStep[] = [];
  const apply = !o.dryRun;
  const base = o.publicUrl.replace(/\/+$/, "");

  if (o.only !== "partner-center") {
    const missing = await missingPrivileges(o.dataverse);
    if (missing.length > 0) {
      steps.push({
        target: "dataverse",
        what: "the application user's privileges",
        action: "refused",
        detail: `the bridge's application user lacks ${missing.join(", ")}. Give it the "${SECURITY_ROLES.bridge.name}" role of the PartnerCenterCoSell solution (docs/install.md, section 3.4); nothing was changed`,
      });
      return { steps, applied: false, ok: false };
    }
  }

  if (o.only !== "dataverse") {
    const url = `${base}/webhooks/partner-center`;
    const current = await o.partnerCenter.getWebhookRegistration();
    const events = [...REFERRAL_EVENTS];
    if (!current || !current.webhookUrl) {
      if (apply) await o.partnerCenter.registerWebhook(url, events, "create");
      steps.push({ target: "partner-center", what: "webhook registration", action: "create", detail: `${url} for ${events.join(", ")}` });
    } else if (sameUrl(current.webhookUrl, url)) {
      const missing = events.filter((e) => !current.webhookEvents.some((c) => c.toLowerCase() === e));
      if (missing.length === 0) steps.push({ target: "partner-center", what: "webhook registration", action: "unchanged", detail: `${url} already receives ${events.join(", ")}` });
      else {
        const all = [...new Set([...current.webhookEvents, ...events])];
        if (apply) await o.partnerCenter.registerWebhook(url, all, "replace");
        steps.push({ target: "partner-center", what: "webhook registration", action: "update", detail: `add ${missing.join(", ")}` });
      }
    } else if (!o.overwrite) {
      steps.push({
        target: "partner-center",
        what: "webhook registration",
        action: "refused",
        detail: `Partner Center sends its events (${current.webhookEvents.join(", ") || "none"}) to ${current.webhookUrl}. It keeps one URL per partner, so registering ${url} would replace that one. Run again with --overwrite to replace it.`,
      });
    } else {
      if (apply) await o.partnerCenter.registerWebhook(url, events, "replace");
      const dropped = current.webhookEvents.filter((e) => !events.some((x) => x === e.toLowerCase()));
      steps.push({
        target: "partner-center",
        what: "webhook registration",
        action: "update",
        detail: `replaces ${current.webhookUrl} with ${url}${dropped.length ? ` (no longer delivered: ${dropped.join(", ")})` : ""}`,
      });
    }
  }

  if (o.only !== "partner-center") {
    const dv = o.dataverse;
    const url = `${base}/webhooks/dataverse`;
    const authvalue = `<settings><setting name="${o.webhookHeader}" value="${xmlEscape(o.webhookKey)}" /></settings>`;
    const endpoint = await first(dv, `/serviceendpoints?$select=serviceendpointid,name,url,contract,authtype&$filter=${encodeURIComponent(`name eq ${odataLiteral(SERVICE_ENDPOINT_NAME)}`)}`);
    let endpointId = typeof endpoint?.serviceendpointid === "string" ? endpoint.serviceendpointid : undefined;
    const desired = { name: SERVICE_ENDPOINT_NAME, url, contract: 8, connectionmode: 1, authtype: 5, messageformat: 2, userclaim: 1, authvalue, description: "Co-sell bridge: opportunity and lead changes (cosell-bridge connect)." };
    if (!endpointId) {
      if (apply) endpointId = (await dv.create("serviceendpoints", desired)).id;
      steps.push({ target: "dataverse", what: `service endpoint ${SERVICE_ENDPOINT_NAME}`, action: "create", detail: `webhook ${url}, HttpHeader ${o.webhookHeader}` });
    } else {
      // The key (authvalue) cannot be read back: it is set again, which changes nothing when it is the same.
      const changed = !sameUrl(String(endpoint?.url ?? ""), url) || endpoint?.contract !== 8 || endpoint?.authtype !== 5;
      if (apply) await dv.update("serviceendpoints", endpointId, desired, { ifMatch: "*" });
      steps.push({ target: "dataverse", what: `service endpoint ${SERVICE_ENDPOINT_NAME}`, action: changed ? "update" : "unchanged", detail: changed ? `now ${url}` : `${url} (webhook key set again)` });
    }

    const mapping = typeof o.mapping === "function" ? await o.mapping() : o.mapping;
    for (const spec of stepSpecs(mapping)) {
      const name = `${STEP_PREFIX} ${spec.entity} ${spec.message}`;
      const message = await first(dv, `/sdkmessages?$select=sdkmessageid,name&$filter=${encodeURIComponent(`name eq ${odataLiteral(spec.message)}`)}`);
      const messageId = typeof message?.sdkmessageid === "string" ? message.sdkmessageid : undefined;
      const filter = messageId
        ? await first(dv, `/sdkmessagefilters?$select=sdkmessagefilterid&$filter=${encodeURIComponent(`primaryobjecttypecode eq ${odataLiteral(spec.entity)} and _sdkmessageid_value eq ${messageId}`)}`)
        : undefined;
      const filterId = typeof filter?.sdkmessagefilterid === "string" ? filter.sdkmessagefilterid : undefined;
      if (!messageId || !filterId) {
        steps.push({ target: "dataverse", what: `step ${name}`, action: "skipped", detail: `this environment has no ${spec.message} message for ${spec.entity}` });
        continue;
      }
      const existing = await first(
        dv,
        `/sdkmessageprocessingsteps?$select=sdkmessageprocessingstepid,filteringattributes,statecode,stage,mode,_eventhandler_value&$filter=${encodeURIComponent(`name eq ${odataLiteral(name)}`)}`,
      );
      const body: Json = {
        name,
        description: "Tells the co-sell bridge about this change (cosell-bridge connect).",
        stage: 40,
        mode: 1,
        rank: 1,
        supporteddeployment: 0,
        asyncautodelete: true,
        ...(spec.filtering !== undefined ? { filteringattributes: spec.filtering } : {}),
        ...(endpointId ? { "eventhandler_serviceendpoint@odata.bind": `/serviceendpoints(${endpointId})` } : {}),
        "sdkmessageid@odata.bind": `/sdkmessages(${messageId})`,
        "sdkmessagefilterid@odata.bind": `/sdkmessagefilters(${filterId})`,
      };
      const what = `step ${name}`;
      const detail = `async post-operation${spec.filtering ? ` on ${spec.filtering}` : ""}`;
      const existingId = typeof existing?.sdkmessageprocessingstepid === "string" ? existing.sdkmessageprocessingstepid : undefined;
      if (!existingId) {
        if (apply) await dv.create("sdkmessageprocessingsteps", body);
        steps.push({ target: "dataverse", what, action: "create", detail });
        continue;
      }
      const same =
        (existing?.filteringattributes ?? undefined) === (spec.filtering ?? undefined) &&
        existing?.statecode === 0 &&
        existing?.stage === 40 &&
        existing?.mode === 1 &&
        (!endpointId || String(existing?._eventhandler_value ?? "").toLowerCase() === endpointId.toLowerCase());
      if (same) {
        steps.push({ target: "dataverse", what, action: "unchanged", detail });
        continue;
      }
      if (apply) await dv.update("sdkmessageprocessingsteps", existingId, { ...body, statecode: 0, statuscode: 1 }, { ifMatch: "*" });
      steps.push({ target: "dataverse", what, action: "update", detail });
    }
    await connectBridgeUrl(dv, base, apply, steps);
  }
  return { steps, applied: apply, ok: !steps.some((s) => s.action === "refused") };
}

/** The solution's `cosell_BridgeUrl` environment variable: where sellers and admins find the status page. */
async function connectBridgeUrl(dv: ConnectOptions["dataverse"], base: string, apply: boolean, steps: ConnectStep[]): Promise<void> {
  const what = `environment variable ${EnvironmentVariable.bridgeUrl}`;
  const def = await first(dv, `/environmentvariabledefinitions?$select=environmentvariabledefinitionid&$filter=${encodeURIComponent(`schemaname eq ${odataLiteral(EnvironmentVariable.bridgeUrl)}`)}`);
  const defId = typeof def?.environmentvariabledefinitionid === "string" ? def.environmentvariabledefinitionid : undefined;
  if (!defId) {
    steps.push({ target: "dataverse", what, action: "skipped", detail: "not defined here (is the PartnerCenterCoSell solution imported?)" });
    return;
  }
  const value = await first(dv, `/environmentvariablevalues?$select=environmentvariablevalueid,value&$filter=${encodeURIComponent(`_environmentvariabledefinitionid_value eq ${defId}`)}`);
  const valueId = typeof value?.environmentvariablevalueid === "string" ? value.environmentvariablevalueid : undefined;
  if (valueId && value?.value === base) {
    steps.push({ target: "dataverse", what, action: "unchanged", detail: base });
    return;
  }
  if (apply) {
    if (valueId) await dv.update("environmentvariablevalues", valueId, { value: base }, { ifMatch: "*" });
    else await dv.create("environmentvariablevalues", { schemaname: EnvironmentVariable.bridgeUrl, value: base, "EnvironmentVariableDefinitionId@odata.bind": `/environmentvariabledefinitions(${defId})` });
  }
  steps.push({ target: "dataverse", what, action: valueId ? "update" : "create", detail: base });
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;");
}

/** The plan as lines for a terminal. */
export function formatPlan(plan: ConnectPlan): string {
  const mark: Record<ConnectAction, string> = { create: "+", update: "~", unchanged: "=", refused: "!", skipped: "-" };
  const lines = plan.steps.map((s) => `${mark[s.action]} ${s.target.padEnd(14)} ${s.what}: ${s.action}${s.detail ? ` — ${s.detail}` : ""}`);
  if (!plan.applied) lines.push("(dry run: nothing was changed)");
  return lines.join("\n");
}
