import { XrmMockGenerator } from "xrm-mock";
import { DataverseReadError, bareId, describeWebApiFailure, xrmWebApiReader } from "../src/dataverse";
import { installHandlers } from "../src/namespace";

beforeEach(() => XrmMockGenerator.initialise());
afterEach(() => jest.restoreAllMocks());

describe("describeWebApiFailure", () => {
  test.each<[unknown, string]>([
    [{ errorCode: 2147746327, message: " Account With Id = x Does Not Exist " }, "Account With Id = x Does Not Exist"],
    [new Error("Failed to fetch"), "Failed to fetch"],
    ["offline", "offline"],
    [{ errorCode: 1 }, "the request to Dataverse failed"],
    [undefined, "the request to Dataverse failed"],
  ])("%p → %p", (error, words) => {
    expect(describeWebApiFailure(error)).toBe(words);
  });
});

test("bareId strips braces and case", () => {
  expect(bareId("{ABC-1}")).toBe("abc-1");
});

describe("xrmWebApiReader", () => {
  test("reads a record by its bare id", async () => {
    const spy = jest.spyOn(Xrm.WebApi, "retrieveRecord").mockResolvedValue({ name: "Contoso" } as never);
    await expect(xrmWebApiReader.retrieveRecord("account", "{AB-1}", "?$select=name")).resolves.toEqual({ name: "Contoso" });
    expect(spy).toHaveBeenCalledWith("account", "ab-1", "?$select=name");
  });

  test("a rejection becomes a DataverseReadError keeping the cause and the words", async () => {
    const rejection = { errorCode: 2147746327, message: "Access is denied." };
    jest.spyOn(Xrm.WebApi, "retrieveRecord").mockRejectedValue(rejection as never);
    const error = (await xrmWebApiReader.retrieveRecord("account", "x", "").catch((e: unknown) => e)) as DataverseReadError;
    expect(error).toBeInstanceOf(DataverseReadError);
    expect(error.reason).toBe("Access is denied.");
    expect(error.cause).toBe(rejection);
  });

  test("a query answers its entities; an answer without a list is an error", async () => {
    const spy = jest.spyOn(Xrm.WebApi, "retrieveMultipleRecords").mockResolvedValue({ entities: [{ a: 1 }, null] } as never);
    await expect(xrmWebApiReader.retrieveMultipleRecords("t", "?x")).resolves.toEqual([{ a: 1 }]);
    spy.mockResolvedValue({} as never);
    await expect(xrmWebApiReader.retrieveMultipleRecords("t", "?x")).rejects.toBeInstanceOf(DataverseReadError);
  });
});

describe("installHandlers", () => {
  test("creates the dotted path and merges into what exists", () => {
    const root: Record<string, unknown> = { CoSell: { Other: 1 } };
    const onLoad = (): void => undefined;
    installHandlers(root, "CoSell.OpportunityForm", { onLoad });
    expect(root).toEqual({ CoSell: { Other: 1, OpportunityForm: { onLoad } } });
  });

  test("replaces a non-object in the way rather than failing", () => {
    const root: Record<string, unknown> = { CoSell: "stale" };
    installHandlers(root, "CoSell.OpportunityForm", { a: 1 });
    expect(root).toEqual({ CoSell: { OpportunityForm: { a: 1 } } });
  });
});
