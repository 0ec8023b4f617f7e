/**
 * Dataverse emulator against the requests specs/dataverse.md documents, verbatim
 * (fixtures/dataverse/spec-samples.json): the §4.2 opportunity query, the §3.1 webhook
 * registration and queries, the §4.5 key URLs, the §4.1 binds, the §2.6 environment variable read
 * and the §7.9 error bodies.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { EnvironmentVariable } from "@cosell/contract";
import { Errors } from "../src/dataverse/errors";
import { DEFAULT_LIMITS } from "../src/dataverse/protection";
import { entityIdOf, eventually, startHarness, type Harness } from "./fixtures/dataverse/harness";
import { startReceiver, type Receiver } from "./fixtures/dataverse/receiver";

const samples = JSON.parse(readFileSync(path.join(__dirname, "fixtures/dataverse/spec-samples.json"), "utf8"));
const fill = (text: string, values: Record<string, string>) => text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? "");
const fillObject = (obj: Record<string, unknown>, values: Record<string, string>) =>
  Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, typeof v === "string" ? fill(v, values) : v]));

let h: Harness;
let rx: Receiver;
beforeAll(async () => {
  h = await startHarness();
  rx = await startReceiver();
  h.dv.provisionContract();
});
afterAll(async () => {
  await h.close();
  await rx.close();
});

it("§4.2: the open-opportunities query with the §4.1 headers and maxpagesize 500", async () => {
  const acc = entityIdOf(await h.api("POST", "accounts", { body: { name: "Sample customer" } }));
  const binds = fillObject(samples.s4_1_binds, { accountId: acc, currencyId: h.dv.seededIds.usdCurrencyId });
  for (const name of ["first", "second"]) expect((await h.api("POST", "opportunities", { body: { name, ...binds } })).status).toBe(204);
  const res = await h.api("GET", samples.s4_2_openOpportunities.path, {
    headers: { ...samples.s4_1_headers, Prefer: samples.s4_2_openOpportunities.prefer },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("preference-applied")).toBe("odata.maxpagesize=500");
  expect(res.json.value.map((r: { name: string }) => r.name)).toEqual(["second", "first"]);
  expect(res.json.value[0]).toEqual({
    "@odata.etag": expect.stringMatching(/^W\/"\d+"$/),
    name: "second",
    estimatedvalue: null,
    estimatedclosedate: null,
    statecode: 0,
    statuscode: 1,
    _customerid_value: acc,
    description: null,
    _transactioncurrencyid_value: h.dv.seededIds.usdCurrencyId,
    opportunityid: expect.any(String),
  });
});

it("§3.1: registers the documented endpoint and step, finds them, and delivers", async () => {
  const endpoint = await h.api("POST", "serviceendpoints", { body: fillObject(samples.s3_1_serviceEndpoint, { receiverUrl: `${rx.url}/dv` }) });
  expect(endpoint.status).toBe(204);
  const endpointId = entityIdOf(endpoint);
  const listed = await h.api("GET", samples.s3_1_endpointQuery);
  expect(listed.json.value).toEqual([
    { "@odata.etag": expect.any(String), serviceendpointid: endpointId, name: "bridge", authtype: 5, url: `${rx.url}/dv` },
  ]);
  const updateMessageId = h.dv.seededIds.sdkMessageIds.Update!;
  const filters = await h.api("GET", `sdkmessagefilters?$filter=primaryobjecttypecode eq 'opportunity' and _sdkmessageid_value eq ${updateMessageId}&$select=sdkmessagefilterid`);
  const filterId = filters.json.value[0].sdkmessagefilterid as string;
  const step = await h.api("POST", "sdkmessageprocessingsteps", { body: fillObject(samples.s3_1_step, { endpointId, updateMessageId, filterId }) });
  expect(step.status).toBe(204);
  const stepId = entityIdOf(step);
  const expanded = await h.api("GET", `sdkmessageprocessingsteps(${stepId})?$select=name&$expand=eventhandler_serviceendpoint($select=name,url)`);
  expect(expanded.json.eventhandler_serviceendpoint).toMatchObject({ name: "bridge", url: `${rx.url}/dv` });

  const opp = entityIdOf(await h.api("POST", "opportunities", { body: { name: "hooked" } }));
  await h.api("PATCH", `opportunities(${opp})`, { body: { estimatedclosedate: "2026-09-30" } });
  const hook = await eventually(() => rx.received[0]);
  expect(hook.headers["x-bridge-key"]).toBe("k-123");
  expect(hook.body.OwningExtension).toMatchObject({ Id: stepId, Name: "Opportunity Update → bridge" });

  rx.respond = () => 504;
  await h.api("PATCH", `opportunities(${opp})`, { body: { estimatedvalue: 1 } });
  await h.dv.webhooks.idle();
  const failed = await h.api("GET", fill(samples.s3_1_failedJobsQuery, { stepId }));
  expect(failed.json.value).toEqual([
    expect.objectContaining({ name: "Opportunity Update → bridge", errorcode: expect.any(Number), friendlymessage: expect.any(String), completedon: expect.any(String) }),
  ]);
});

it("§4.5: key URLs — single, multi-part and lookup keys", async () => {
  for (const [table, key, attrs] of [
    ["account", "sample_accountnumber", ["accountnumber"]],
    ["contact", "sample_name_email", ["firstname", "emailaddress1"]],
    ["account", "sample_primarycontact", ["primarycontactid"]],
  ] as const)
    h.dv.schema.addKey(table, { logicalName: key, schemaName: key, displayName: key, attributes: attrs, metadataId: randomUUID() });
  const urls = samples.s4_5_keyUrls;
  expect((await h.api("PATCH", urls.single, { body: { name: "ABC" } })).status).toBe(204);
  expect((await h.api("PATCH", urls.multiPart, { body: { lastname: "Doe" } })).status).toBe(204);
  const contactId = (await h.api("GET", `${urls.multiPart}?$select=fullname`)).json.contactid as string;
  await h.api("PATCH", urls.single, { body: { "primarycontactid@odata.bind": `/${urls.multiPart}` } });
  const byLookup = await h.api("GET", `${fill(urls.lookup, { contactId })}?$select=name,accountnumber`);
  expect(byLookup.json).toMatchObject({ name: "ABC", accountnumber: "ABC123" });
});

it("§2.6: the environment variable read (value wins over default)", async () => {
  const url = fill(samples.s2_6_environmentVariableQuery, { schemaName: EnvironmentVariable.syncCoSellOnly });
  const res = await h.api("GET", url);
  expect(res.json.value).toEqual([
    expect.objectContaining({ defaultvalue: "no", environmentvariabledefinition_environmentvariablevalue: [] }),
  ]);
});

describe("§7.9 error bodies", () => {
  const expectError = (res: { status: number; json: unknown }, e: { status: number; code: string; message: string }) => {
    expect(res.status).toBe(e.status);
    expect(res.json).toEqual({ error: { code: e.code, message: e.message } });
  };
  const errors = samples.s7_9_errors;

  it("unknown $select column, unknown entity set", async () => {
    expectError(await h.api("GET", "accounts?$select=Name"), errors.unknownSelect);
    expectError(await h.api("GET", "Account"), errors.unknownEntitySet);
  });

  it("If-Match mismatch, If-None-Match on an existing row", async () => {
    const id = entityIdOf(await h.api("POST", "accounts", { body: { name: "e" } }));
    expectError(await h.api("PATCH", `accounts(${id})`, { body: { name: "f" }, headers: { "If-Match": 'W/"1"' } }), errors.ifMatchMismatch);
    expectError(await h.api("PATCH", `accounts(${id})`, { body: { name: "f" }, headers: { "If-None-Match": "*" } }), errors.ifNoneMatchExists);
  });

  it("service protection messages at the documented default limits", () => {
    const { maxConcurrentPerUser, requestsPerWindow, windowSeconds } = DEFAULT_LIMITS;
    expect(Errors.concurrencyLimit(maxConcurrentPerUser, 1).body.error).toEqual({ code: errors.concurrency.code, message: errors.concurrency.message });
    expect(Errors.rateLimit(requestsPerWindow, windowSeconds, 1).body.error).toEqual({ code: errors.rate.code, message: errors.rate.message });
  });
});
