/**
 * dataverse-ify over a PCF control's context.webAPI (specs/dataverse.md §5.1 left this [U]).
 * Pinned here: CRUD and retrieveMultiple work; execute cannot, because ComponentFramework.WebApi has
 * no `online.execute` — handed over raw it fails with a TypeError, through our adapter with a typed
 * error that says why.
 */
import { XrmContextDataverseClient, setMetadataCache, type CreateRequest } from "dataverse-ify";
import { metadataCache } from "../../PartnerCenterSection/dataverse-gen/metadata";
import type { cosell_Solution } from "../../PartnerCenterSection/dataverse-gen/entities/cosell_Solution";
import {
  UnsupportedInControlError,
  dataverseClientFor,
  xrmWebApiFrom,
} from "../../PartnerCenterSection/services/dataverse";
import { fakeWebApi } from "../__mocks__/fakeWebApi";

const SOLUTIONS = [{ cosell_name: "Contoso Field Service", cosell_solutioncode: "SOL-15974-MQF", cosell_publisher: "Contoso" }];
/** The simplest execute dataverse-ify builds without action metadata: a Create as a request. */
const CREATE_AS_EXECUTE: CreateRequest = {
  logicalName: "Create",
  target: { logicalName: "cosell_solution", cosell_name: "New", cosell_solutioncode: "SOL-9-Z" },
};

describe("dataverse-ify given context.webAPI as it is", () => {
  const raw = fakeWebApi({ solutions: SOLUTIONS });
  setMetadataCache(metadataCache);
  const client = new XrmContextDataverseClient(raw as unknown as Xrm.WebApi);

  test("retrieveMultiple works (CRUD is all it needs)", async () => {
    const result = await client.retrieveMultiple<cosell_Solution>("?$select=cosell_name", { logicalName: "cosell_solution" });
    expect(result.entities[0]).toMatchObject({ logicalName: "cosell_solution", cosell_solutioncode: "SOL-15974-MQF" });
  });

  test("execute fails with a TypeError: there is no webAPI.online", async () => {
    await expect(client.execute(CREATE_AS_EXECUTE)).rejects.toThrow(TypeError);
  });
});

describe("dataverse-ify through the control's adapter", () => {
  test("retrieveMultiple returns early-bound rows, annotations removed, page size passed on", async () => {
    const webAPI = fakeWebApi({ solutions: SOLUTIONS });
    const client = dataverseClientFor(webAPI);
    const result = await client.retrieveMultiple<cosell_Solution>("?$select=cosell_name,cosell_solutioncode", {
      logicalName: "cosell_solution",
      maxPageSize: 50,
    });
    expect(result.entities).toHaveLength(1);
    const row = result.entities[0] as cosell_Solution;
    expect(row.cosell_name).toBe("Contoso Field Service");
    expect(Object.keys(row).some((k) => k.startsWith("@"))).toBe(false);
    expect(webAPI.calls[0]).toEqual({ entity: "cosell_solution", options: "?$select=cosell_name,cosell_solutioncode", maxPageSize: 50 });
  });

  test.each([["execute"], ["executeMultiple"]] as const)("online.%s rejects with UnsupportedInControlError", async (op) => {
    const api = xrmWebApiFrom(fakeWebApi());
    const call = op === "execute" ? api.online.execute({}) : api.online.executeMultiple([]);
    await expect(call).rejects.toBeInstanceOf(UnsupportedInControlError);
    await expect(call).rejects.toMatchObject({ operation: op });
  });

  test("client.execute says why it cannot work", async () => {
    await expect(dataverseClientFor(fakeWebApi()).execute(CREATE_AS_EXECUTE)).rejects.toThrow(/not available to a PCF control/);
  });

  test("deleteRecord resolves to the id, as Xrm.WebApi does", async () => {
    const webAPI = fakeWebApi();
    webAPI.deleteRecord = jest.fn(async (entityType: string, id: string) => ({ entityType, id, name: "" }));
    await expect(xrmWebApiFrom(webAPI).deleteRecord("cosell_solution", "42")).resolves.toBe("42");
  });
});
