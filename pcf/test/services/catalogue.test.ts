import { CatalogueReadError, catalogueQuery, readCatalogue } from "../../PartnerCenterSection/services/catalogue";
import { dataverseClientFor } from "../../PartnerCenterSection/services/dataverse";
import { fakeWebApi } from "../__mocks__/fakeWebApi";

test("the query selects active solutions by name, with the generated attribute names", () => {
  expect(catalogueQuery()).toBe(
    "?$select=cosell_name,cosell_solutioncode,cosell_publisher&$filter=cosell_isactive eq true&$orderby=cosell_name asc,cosell_solutionid asc",
  );
});

test("rows become entries; malformed and duplicate ids are dropped, ids upper-cased", async () => {
  const webAPI = fakeWebApi({
    solutions: [
      { cosell_name: "Contoso Field Service", cosell_solutioncode: "SOL-15974-MQF", cosell_publisher: "Contoso" },
      { cosell_name: "Lower case", cosell_solutioncode: " sol-34104-ebb " },
      { cosell_name: "Duplicate", cosell_solutioncode: "SOL-15974-MQF" },
      { cosell_name: "Not an id", cosell_solutioncode: "PRODUCT-1" },
      { cosell_name: "", cosell_solutioncode: "SOL-1-A" },
      { cosell_name: "Inactive", cosell_solutioncode: "SOL-2-B", cosell_isactive: false },
    ],
  });
  await expect(readCatalogue(dataverseClientFor(webAPI))).resolves.toEqual([
    { solutionId: "SOL-15974-MQF", name: "Contoso Field Service", publisher: "Contoso" },
    { solutionId: "SOL-34104-EBB", name: "Lower case", publisher: null },
    { solutionId: "SOL-1-A", name: "SOL-1-A", publisher: null },
  ]);
  expect(webAPI.calls[0]?.maxPageSize).toBe(5000);
});

test("a failed read is a CatalogueReadError carrying the cause", async () => {
  const cause = new Error("403 Forbidden: no read privilege on cosell_solution");
  const read = readCatalogue(dataverseClientFor(fakeWebApi({ failWith: cause })));
  await expect(read).rejects.toBeInstanceOf(CatalogueReadError);
  await expect(read).rejects.toMatchObject({ cause });
});
