/**
 * Dataverse emulator: service endpoints + SDK steps → RemoteExecutionContext webhooks (spec §3, §7.8):
 * exact payload shape, headers and auth, filtering attributes, images, async never blocking the
 * answer, the single retry for 502/503/504, failed system jobs, synchronous steps, faults.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { entityIdOf, eventually, startHarness, type Harness } from "./fixtures/dataverse/harness";
import { startReceiver, type Receiver } from "./fixtures/dataverse/receiver";
import type { ClosePrimaryEntityId } from "../src/dataverse/webhooks/context";

let h: Harness;
let rx: Receiver;
let accountId: string;

beforeAll(async () => {
  h = await startHarness();
  rx = await startReceiver();
  accountId = entityIdOf(await h.api("POST", "accounts", { body: { name: "Contoso" } }));
});
afterAll(async () => {
  await h.close();
  await rx.close();
});
beforeEach(async () => {
  await h.dv.webhooks.idle();
  rx.received.length = 0;
  rx.respond = () => 200;
  h.dv.faults.update({});
  // every test registers its own steps
  const steps = await h.api("GET", "sdkmessageprocessingsteps?$select=name");
  for (const s of steps.json.value) await h.api("DELETE", `sdkmessageprocessingsteps(${s.sdkmessageprocessingstepid})`);
  h.dv.webhooks.clear();
});

async function messageId(name: string): Promise<string> {
  const res = await h.api("GET", `sdkmessages?$filter=name eq '${name}'&$select=sdkmessageid`);
  return res.json.value[0].sdkmessageid;
}

async function filterId(message: string, entity: string): Promise<string> {
  const res = await h.api(
    "GET",
    `sdkmessagefilters?$filter=primaryobjecttypecode eq '${entity}' and _sdkmessageid_value eq ${await messageId(message)}&$select=sdkmessagefilterid`,
  );
  return res.json.value[0].sdkmessagefilterid;
}

async function endpoint(authtype = 5, authvalue = '<settings><setting name="x-bridge-key" value="s3cr&amp;t"/></settings>', url = `${rx.url}/webhooks/dataverse`): Promise<string> {
  const res = await h.api("POST", "serviceendpoints", { body: { name: "cosell-bridge", url, contract: 8, connectionmode: 1, userclaim: 1, authtype, authvalue } });
  expect(res.status).toBe(204);
  return entityIdOf(res);
}

async function step(opts: { message: string; entity: string; endpointId: string; mode?: 0 | 1; filtering?: string; name?: string; asyncautodelete?: boolean }): Promise<string> {
  const res = await h.api("POST", "sdkmessageprocessingsteps", {
    body: {
      name: opts.name ?? `${opts.message} step`,
      stage: 40,
      mode: opts.mode ?? 1,
      rank: 1,
      supporteddeployment: 0,
      asyncautodelete: opts.asyncautodelete ?? false,
      ...(opts.filtering ? { filteringattributes: opts.filtering } : {}),
      "eventhandler_serviceendpoint@odata.bind": `/serviceendpoints(${opts.endpointId})`,
      "sdkmessageid@odata.bind": `/sdkmessages(${await messageId(opts.message)})`,
      "sdkmessagefilterid@odata.bind": `/sdkmessagefilters(${await filterId(opts.message, opts.entity)})`,
    },
  });
  expect(res.status).toBe(204);
  return entityIdOf(res);
}

async function newOpportunity(): Promise<string> {
  return entityIdOf(
    await h.api("POST", "opportunities", { body: { name: "Deal", estimatedvalue: 100, "customerid_account@odata.bind": `/accounts(${accountId})` } }),
  );
}

function fill(template: unknown, values: Record<string, unknown>): unknown {
  if (typeof template === "string") {
    const m = /^\{\{(\w+)\}\}$/.exec(template);
    return m ? values[m[1]!] : template;
  }
  if (Array.isArray(template)) return template.map((t) => fill(t, values));
  if (template && typeof template === "object")
    return Object.fromEntries(Object.entries(template).filter(([k]) => k !== "_comment").map(([k, v]) => [k, fill(v, values)]));
  return template;
}

describe("Update webhook", () => {
  it("posts a RemoteExecutionContext exactly in the documented shape, with the auth header", async () => {
    const ep = await endpoint();
    const stepId = await step({ message: "Update", entity: "opportunity", endpointId: ep, filtering: "name,estimatedvalue,statecode", name: "Opportunity Update → bridge" });
    await h.api("POST", "sdkmessageprocessingstepimages", {
      body: {
        name: "PreImage",
        entityalias: "PreImage",
        imagetype: 0,
        messagepropertyname: "Target",
        attributes: "name,estimatedvalue,customerid",
        "sdkmessageprocessingstepid@odata.bind": `/sdkmessageprocessingsteps(${stepId})`,
      },
    });
    const id = await newOpportunity();
    const patch = await h.api("PATCH", `opportunities(${id})`, {
      body: { name: "Renamed deal", statuscode: 2, estimatedvalue: 2154.32, estimatedclosedate: "2026-06-30" },
      headers: { "If-Match": "*" },
    });
    expect(patch.status).toBe(204);
    const hook = await eventually(() => rx.received[0]);
    expect(hook.url).toBe("/webhooks/dataverse");
    expect(hook.headers).toMatchObject({
      "content-type": "application/json",
      "x-ms-dynamics-organization": "org.crm.dynamics.com",
      "x-ms-dynamics-entity-name": "opportunity",
      "x-ms-dynamics-request-name": "Update",
      "x-ms-correlation-request-id": hook.body.CorrelationId,
      "x-bridge-key": "s3cr&t",
    });
    expect(hook.raw).toContain('"__type":"Entity:http:\\/\\/schemas.microsoft.com\\/xrm\\/2011\\/Contracts"');
    expect(hook.raw).toMatch(/"OperationCreatedOn":"\\\/Date\(\d+\)\\\/"/);
    const row = (await h.api("GET", `opportunities(${id})?$select=modifiedon`)).json;
    const template = JSON.parse(readFileSync(path.join(__dirname, "fixtures/dataverse/remote-execution-context.update.json"), "utf8"));
    const expected = fill(template, {
      businessUnitId: h.dv.seededIds.businessUnitId,
      correlationId: hook.body.CorrelationId,
      userObjectId: hook.body.UserAzureActiveDirectoryObjectId,
      userId: h.appUserId,
      id,
      accountId,
      modifiedon: `/Date(${Date.parse(row.modifiedon)})/`,
      operationCreatedOn: hook.body.OperationCreatedOn,
      operationId: hook.body.OperationId,
      organizationId: h.dv.seededIds.organizationId,
      stepId,
      parentContext: hook.body.ParentContext,
    });
    expect(hook.body).toEqual(expected);
    expect(Object.keys(hook.body)).toEqual(Object.keys(expected as object));
    expect(hook.body.CorrelationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(hook.body.OperationId).toMatch(/^[0-9a-f-]{36}$/);
    // The stage-30 parent context carries only the submitted columns and the key.
    expect(hook.body.ParentContext).toMatchObject({ Stage: 30, MessageName: "Update", PrimaryEntityId: id });
    const parentTarget = hook.body.ParentContext.InputParameters[0].value.Attributes.map((a: { key: string }) => a.key);
    expect(parentTarget.sort()).toEqual(["estimatedclosedate", "estimatedvalue", "name", "opportunityid", "statuscode"]);
    // the delivery log masks the secret
    const log = await fetch(`${h.dv.url}/_emulator/webhook-deliveries`).then((r) => r.json() as Promise<{ value: Array<Record<string, unknown>> }>);
    expect(log.value[0]).toMatchObject({ outcome: "delivered", stepId, headers: expect.objectContaining({ "x-bridge-key": "***" }) });
    expect(JSON.stringify(log.value)).not.toContain("s3cr&t");
  });

  it("posts only when a submitted column is among the filtering attributes", async () => {
    const ep = await endpoint();
    await step({ message: "Update", entity: "opportunity", endpointId: ep, filtering: "estimatedvalue" });
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { description: "not watched" } });
    await h.api("PATCH", `opportunities(${id})`, { body: { estimatedvalue: 5 } });
    await h.dv.webhooks.idle();
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.body.InputParameters[0].value.Attributes.map((a: { key: string }) => a.key)).toContain("estimatedvalue");
  });

  it("names the caller: the bridge's own writes come back with its application user", async () => {
    const ep = await endpoint();
    await step({ message: "Update", entity: "opportunity", endpointId: ep });
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "by seller" }, token: h.userToken(h.dv.seededIds.sellerObjectId) });
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "by bridge" } });
    await h.dv.webhooks.idle();
    // async deliveries may arrive in either order: pair each with the name it carried
    const byName = Object.fromEntries(
      rx.received.map((r) => [r.body.InputParameters[0].value.Attributes.find((a: { key: string }) => a.key === "name").value, r.body]),
    );
    expect(byName["by seller"]).toMatchObject({
      UserId: h.dv.seededIds.sellerUserId,
      InitiatingUserId: h.dv.seededIds.sellerUserId,
      UserAzureActiveDirectoryObjectId: h.dv.seededIds.sellerObjectId,
    });
    expect(byName["by bridge"]).toMatchObject({ UserId: h.appUserId, InitiatingUserId: h.appUserId });
  });

  it("passes the ?tag= query option on as SharedVariables", async () => {
    const ep = await endpoint();
    await step({ message: "Update", entity: "opportunity", endpointId: ep });
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})?tag=cosell-bridge`, { body: { name: "tagged" } });
    const hook = await eventually(() => rx.received[0]);
    expect(hook.body.SharedVariables).toEqual([{ key: "tag", value: "cosell-bridge" }]);
  });

  it("ignores disabled steps and steps of other tables", async () => {
    const ep = await endpoint();
    const s = await step({ message: "Update", entity: "opportunity", endpointId: ep });
    await step({ message: "Update", entity: "lead", endpointId: ep });
    await h.api("PATCH", `sdkmessageprocessingsteps(${s})`, { body: { statecode: 1, statuscode: 2 } });
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "quiet" } });
    await h.dv.webhooks.idle();
    expect(rx.received).toHaveLength(0);
  });
});

describe("Create, Win and QualifyLead webhooks", () => {
  it("Create carries every set column typed, and the new id as output", async () => {
    const ep = await endpoint();
    await step({ message: "Create", entity: "opportunity", endpointId: ep });
    const id = await newOpportunity();
    const hook = await eventually(() => rx.received[0]);
    expect(hook.body).toMatchObject({ MessageName: "Create", PrimaryEntityId: id, OutputParameters: [{ key: "id", value: id }] });
    const attrs = Object.fromEntries(hook.body.InputParameters[0].value.Attributes.map((a: { key: string; value: unknown }) => [a.key, a.value]));
    expect(attrs).toMatchObject({
      name: "Deal",
      opportunityid: id,
      estimatedvalue: { __type: "Money:http://schemas.microsoft.com/xrm/2011/Contracts", Value: 100 },
      statecode: { __type: "OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts", Value: 0 },
      customerid: { __type: "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts", Id: accountId, LogicalName: "account" },
      createdon: expect.stringMatching(/^\/Date\(\d+\)\/$/),
    });
  });

  it("Win carries OpportunityClose and Status", async () => {
    const ep = await endpoint();
    await step({ message: "Win", entity: "opportunity", endpointId: ep });
    const id = await newOpportunity();
    await h.api("POST", "WinOpportunity", { body: { OpportunityClose: { subject: "won", "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 3 } });
    const hook = await eventually(() => rx.received[0]);
    expect(hook.headers["x-ms-dynamics-request-name"]).toBe("Win");
    expect(hook.body).toMatchObject({ MessageName: "Win", PrimaryEntityName: "opportunity", PrimaryEntityId: id });
    const params = Object.fromEntries(hook.body.InputParameters.map((p: { key: string; value: unknown }) => [p.key, p.value]));
    expect(params.Status).toEqual({ __type: "OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts", Value: 3 });
    expect(params.OpportunityClose).toMatchObject({ __type: "Entity:http://schemas.microsoft.com/xrm/2011/Contracts", LogicalName: "opportunityclose" });
    // Plug-ins read the opportunity from OpportunityClose.opportunityid (issue 10 §4).
    const close = Object.fromEntries(params.OpportunityClose.Attributes.map((p: { key: string; value: unknown }) => [p.key, p.value]));
    expect(close.opportunityid).toEqual({ __type: "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts", Id: id, KeyAttributes: [], LogicalName: "opportunity", Name: null, RowVersion: null });
  });

  it("QualifyLead names the created records", async () => {
    const ep = await endpoint();
    await step({ message: "QualifyLead", entity: "lead", endpointId: ep });
    const lead = entityIdOf(await h.api("POST", "leads", { body: { subject: "s", lastname: "L", companyname: "C" } }));
    const res = await h.api("POST", `leads(${lead})/Microsoft.Dynamics.CRM.QualifyLead`, {
      body: { CreateAccount: true, CreateContact: false, CreateOpportunity: true, Status: 3 },
    });
    const hook = await eventually(() => rx.received[0]);
    expect(hook.body).toMatchObject({ MessageName: "QualifyLead", PrimaryEntityId: lead });
    const created = hook.body.OutputParameters[0];
    expect(created.key).toBe("CreatedEntities");
    expect(created.value.map((r: { Id: string }) => r.Id)).toEqual([res.json.value[0].accountid, res.json.value[1].opportunityid]);
  });
});

const closeReadings: Array<[ClosePrimaryEntityId, (closeId: string) => string]> = [
  ["empty", (): string => "00000000-0000-0000-0000-000000000000"],
  ["opportunityclose", (closeId: string): string => closeId],
];

describe.each(closeReadings)("Win/Lose webhooks with PrimaryEntityId read as '%s'", (reading, expected) => {
  let main: Harness;
  let mainAccount: string;
  beforeAll(async () => {
    main = h;
    mainAccount = accountId;
    h = await startHarness({ closePrimaryEntityId: reading });
    accountId = entityIdOf(await h.api("POST", "accounts", { body: { name: "Contoso" } }));
  });
  afterAll(async () => {
    await h.close();
    h = main;
    accountId = mainAccount;
  });

  it("still names the opportunity in OpportunityClose.opportunityid", async () => {
    const ep = await endpoint();
    await step({ message: "Lose", entity: "opportunity", endpointId: ep });
    const id = await newOpportunity();
    const lose = await h.api("POST", "LoseOpportunity", { body: { OpportunityClose: { subject: "lost", "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 4 } });
    expect(lose.status).toBe(204);
    const hook = await eventually(() => rx.received[0]);
    const params = Object.fromEntries(hook.body.InputParameters.map((p: { key: string; value: unknown }) => [p.key, p.value]));
    const closeId: string = params.OpportunityClose.Id;
    expect(hook.body).toMatchObject({ MessageName: "Lose", PrimaryEntityName: "opportunity", PrimaryEntityId: expected(closeId) });
    expect(hook.body.PrimaryEntityId).not.toBe(id);
    const opportunityid = params.OpportunityClose.Attributes.find((p: { key: string }) => p.key === "opportunityid").value;
    expect(opportunityid).toMatchObject({ Id: id, LogicalName: "opportunity" });
  });
});
describe("delivery", () => {
  it("never holds the API answer for an async step", async () => {
    const ep = await endpoint();
    await step({ message: "Update", entity: "opportunity", endpointId: ep });
    let release!: () => void;
    const held = new Promise<number>((resolve) => (release = () => resolve(200)));
    rx.respond = () => held;
    const id = await newOpportunity();
    const res = await h.api("PATCH", `opportunities(${id})`, { body: { name: "fast" } });
    expect(res.status).toBe(204);
    await eventually(() => rx.received[0]);
    expect(h.dv.webhooks.deliveries[0]!.outcome).toBe("pending");
    release();
    await h.dv.webhooks.idle();
    expect(h.dv.webhooks.deliveries[0]!.outcome).toBe("delivered");
  });

  it("retries once on 503, then records the failed system job", async () => {
    const ep = await endpoint();
    const s = await step({ message: "Update", entity: "opportunity", endpointId: ep, name: "retrying" });
    rx.respond = () => 503;
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "x" } });
    await h.dv.webhooks.idle();
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.body.OperationId).toBe(rx.received[0]!.body.OperationId);
    const jobs = await h.api("GET", `asyncoperations?$filter=statuscode eq 31 and _owningextensionid_value eq ${s}&$select=name,friendlymessage,errorcode,message,completedon`);
    expect(jobs.json.value).toEqual([
      expect.objectContaining({ name: "retrying", message: expect.stringContaining("HTTP 503"), completedon: expect.any(String) }),
    ]);
    expect(jobs.json.value[0].asyncoperationid).toBe(rx.received[0]!.body.OperationId);
  });

  it("does not retry other failures", async () => {
    const ep = await endpoint();
    await step({ message: "Update", entity: "opportunity", endpointId: ep });
    rx.respond = () => 500;
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "x" } });
    await h.dv.webhooks.idle();
    expect(rx.received).toHaveLength(1);
    expect(h.dv.webhooks.deliveries[0]!.outcome).toBe("failed");
  });

  it("records a successful job unless asyncautodelete is set", async () => {
    const ep = await endpoint();
    const kept = await step({ message: "Update", entity: "opportunity", endpointId: ep, name: "kept" });
    const dropped = await step({ message: "Update", entity: "opportunity", endpointId: ep, name: "autodeleted", asyncautodelete: true });
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "x" } });
    await h.dv.webhooks.idle();
    const ok = async (s: string) => (await h.api("GET", `asyncoperations?$filter=statuscode eq 30 and _owningextensionid_value eq ${s}&$select=name`)).json.value.length;
    expect(await ok(kept)).toBe(1);
    expect(await ok(dropped)).toBe(0);
  });

  it("WebhookKey and HttpQueryString auth travel in the query string", async () => {
    const keyed = await endpoint(4, "the-key", `${rx.url}/key`);
    const query = await endpoint(6, '<settings><setting name="token" value="t 1"/></settings>', `${rx.url}/query?x=1`);
    await step({ message: "Update", entity: "opportunity", endpointId: keyed });
    await step({ message: "Update", entity: "opportunity", endpointId: query });
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "x" } });
    await h.dv.webhooks.idle();
    expect(rx.received.map((r) => r.url).sort()).toEqual(["/key?code=the-key", "/query?x=1&token=t%201"]);
    expect(JSON.stringify(h.dv.webhooks.deliveries.map((d) => d.url))).not.toContain("the-key");
  });

  it("a synchronous step is delivered before the answer, and its failure rolls the write back", async () => {
    const ep = await endpoint();
    await step({ message: "Update", entity: "opportunity", endpointId: ep, mode: 0 });
    const id = await newOpportunity();
    const ok = await h.api("PATCH", `opportunities(${id})`, { body: { name: "sync ok" } });
    expect(ok.status).toBe(204);
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.body).toMatchObject({ Mode: 0, IsInTransaction: true, RequestId: expect.any(String) });
    rx.respond = () => 400;
    const failed = await h.api("PATCH", `opportunities(${id})`, { body: { name: "sync refused" } });
    expect(failed.status).toBe(500);
    expect((await h.api("GET", `opportunities(${id})/name`)).json.value).toBe("sync ok");
  });

  it("drops deliveries under the webhookDropRate fault", async () => {
    const ep = await endpoint();
    await step({ message: "Update", entity: "opportunity", endpointId: ep });
    const put = await fetch(`${h.dv.url}/_emulator/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ webhookDropRate: 1 }) });
    expect(put.status).toBe(200);
    const id = await newOpportunity();
    await h.api("PATCH", `opportunities(${id})`, { body: { name: "x" } });
    await h.dv.webhooks.idle();
    expect(rx.received).toHaveLength(0);
    expect(h.dv.webhooks.deliveries.map((d) => d.outcome)).toEqual(["dropped"]);
    expect((await fetch(`${h.dv.url}/_emulator/webhook-deliveries`, { method: "DELETE" })).status).toBe(204);
    expect(h.dv.webhooks.deliveries).toHaveLength(0);
  });
});
