/**
 * Dataverse emulator: an alternate key added by solution import is built asynchronously
 * (`EntityKeyIndexStatus` Pending → Active, or Failed); until it is Active the key cannot address
 * a record. Uses UpsertSample from ../shared/fixtures/real-solutions.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { describeWith, sharedFile } from "../../tests/support/prerequisites";
import { eventually, startHarness, type Harness } from "./fixtures/dataverse/harness";

const ZIP = path.resolve(__dirname, "../../../shared/fixtures/real-solutions/UpsertSample_1_0_0_0_managed.zip");
const describeReal = describeWith("sandbox/test/dataverse-key-index", [sharedFile("fixtures/real-solutions")]);
const KEY_URL = "sample_products(sample_productcode='P-1')";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ keyIndexDelayMs: 300 });
});
afterAll(() => h.close());

async function importUpsertSample(): Promise<void> {
  h.dv.reset();
  const body = { CustomizationFile: readFileSync(ZIP).toString("base64"), OverwriteUnmanagedCustomizations: true, PublishWorkflows: true, ImportJobId: randomUUID() };
  expect((await h.api("POST", "ImportSolution", { body })).status).toBe(204);
}

async function keyStatus(): Promise<string> {
  const res = await h.api("GET", "EntityDefinitions(LogicalName='sample_product')/Keys?$select=LogicalName,EntityKeyIndexStatus");
  expect(res.status).toBe(200);
  return (res.json.value as Array<{ EntityKeyIndexStatus: string }>)[0]!.EntityKeyIndexStatus;
}

async function keyName(): Promise<string> {
  const res = await h.api("GET", "EntityDefinitions(LogicalName='sample_product')/Keys?$select=LogicalName");
  return (res.json.value as Array<{ LogicalName: string }>)[0]!.LogicalName;
}

(existsSync(ZIP) ? describeReal : describe.skip)("imported alternate keys are built in the background", () => {
  it("is Pending after import, refuses the key meanwhile, then is Active and usable", async () => {
    await importUpsertSample();
    expect(await keyStatus()).toBe("Pending");
    const refused = await h.api("PATCH", KEY_URL, { body: { sample_name: "early" } });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe("0x80060891");
    expect(refused.json.error.message).toMatch(/alternate key '.+' of entity 'sample_product' is not active \(EntityKeyIndexStatus: Pending\)/);
    expect((await h.api("GET", "sample_products?$select=sample_name")).json.value).toEqual([]);
    await eventually(async () => ((await keyStatus()) === "Active" ? true : undefined));
    expect((await h.api("PATCH", KEY_URL, { body: { sample_name: "later" } })).status).toBe(204);
    expect((await h.api("GET", `${KEY_URL}?$select=sample_name`)).json.sample_name).toBe("later");
  });

  it("a key the control failed stays Failed and refused until activated", async () => {
    await importUpsertSample();
    const name = await keyName();
    const failed = await fetch(`${h.dv.url}/_emulator/keys/sample_product/${name}/fail`, { method: "POST" });
    expect(failed.status).toBe(204);
    await new Promise((r) => setTimeout(r, 400));
    expect(await keyStatus()).toBe("Failed");
    const refused = await h.api("GET", KEY_URL);
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/EntityKeyIndexStatus: Failed/);
    expect((await fetch(`${h.dv.url}/_emulator/keys/sample_product/${name}/activate`, { method: "POST" })).status).toBe(204);
    expect(await keyStatus()).toBe("Active");
    expect((await h.api("GET", KEY_URL)).status).toBe(404);
  });

  it("the control refuses an unknown key or action", async () => {
    await importUpsertSample();
    expect((await fetch(`${h.dv.url}/_emulator/keys/sample_product/nokey/fail`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`${h.dv.url}/_emulator/keys/sample_product/${await keyName()}/explode`, { method: "POST" })).status).toBe(404);
  });
});

describe("contract-provisioned keys", () => {
  it("are Active at once", async () => {
    h.dv.reset();
    h.dv.provisionContract();
    const res = await h.api("GET", "EntityDefinitions(LogicalName='opportunity')/Keys?$select=LogicalName,EntityKeyIndexStatus");
    expect(res.json.value).toEqual([expect.objectContaining({ EntityKeyIndexStatus: "Active" })]);
  });
});
