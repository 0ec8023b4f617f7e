/** The form's context.webAPI against the real Dataverse emulator (HTTP on port 0). */
import { SystemColumn, Table } from "@cosell/contract";
import { SANDBOX_SELLER, TokenService, startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox";
import { WebApiError, createWebApi } from "../../src/form-host/webApi";

let dataverse: DataverseEmulator;
let tokens: TokenService;

beforeAll(async () => {
  tokens = new TokenService();
  dataverse = await startDataverseEmulator({ tokens, port: 0 });
  dataverse.provisionContract();
});
afterAll(() => dataverse.close());

const webApi = () =>
  createWebApi({
    apiUrl: dataverse.apiUrl,
    accessToken: async () => tokens.issueUserAccessToken(SANDBOX_SELLER, dataverse.resourceUrl).accessToken,
    fetch: (url, init) => fetch(url, init),
  });

test("create, retrieve, update, delete by logical name (entity sets from the org's metadata)", async () => {
  const api = webApi();
  const created = await api.createRecord(Table.opportunity.logicalName, { [SystemColumn.opportunity.name]: "Web API test" });
  expect(created).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), entityType: "opportunity" });
  await api.updateRecord("opportunity", created.id, { [SystemColumn.opportunity.name]: "Renamed" });
  const row = await api.retrieveRecord("opportunity", created.id, `?$select=${SystemColumn.opportunity.name}`);
  expect(row[SystemColumn.opportunity.name]).toBe("Renamed");
  await api.deleteRecord("opportunity", created.id);
  await expect(api.retrieveRecord("opportunity", created.id)).rejects.toMatchObject({ status: 404 });
});

test("retrieveMultipleRecords pages with maxPageSize and returns the next link", async () => {
  const api = webApi();
  // The seller (Salesperson + Co-sell Seller) creates accounts; the catalogue is an admin's to fill.
  for (const n of [1, 2, 3]) await api.createRecord("account", { name: `Paged account ${n}` });
  const page = await api.retrieveMultipleRecords("account", "?$select=name", 2);
  expect(page.entities).toHaveLength(2);
  expect(decodeURIComponent(page.nextLink ?? "")).toContain("$skiptoken");
});

test("Dataverse errors come back as WebApiError with status, code and message", async () => {
  const error = await webApi()
    .createRecord(Table.opportunity.logicalName, { no_such_column: 1 })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WebApiError);
  expect(error).toMatchObject({ status: 400, code: expect.stringMatching(/^0x/) });
  expect((error as WebApiError).message).toContain("no_such_column");
});
