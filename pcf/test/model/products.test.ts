import {
  addProduct,
  removeProduct,
  searchCatalogue,
  selectedProducts,
  typedSolutionId,
  type CatalogueEntry,
} from "../../PartnerCenterSection/model/products";

const CATALOGUE: CatalogueEntry[] = [
  { solutionId: "SOL-15974-MQF", name: "Contoso Field Service", publisher: "Contoso" },
  { solutionId: "SOL-34104-EBB", name: "Fabrikam Analytics", publisher: "Fabrikam" },
  { solutionId: "SOL-1234-PQRS", name: "Contoso Analytics Plus", publisher: null },
];

describe("selectedProducts", () => {
  test("names from the catalogue; unknown and malformed ids kept and flagged", () => {
    expect(selectedProducts("SOL-15974-MQF, sol-9-zz, PRODUCT-1", CATALOGUE)).toEqual([
      { id: "SOL-15974-MQF", name: "Contoso Field Service", publisher: "Contoso", valid: true, inCatalogue: true },
      { id: "SOL-9-ZZ", name: null, publisher: null, valid: true, inCatalogue: false },
      { id: "PRODUCT-1", name: null, publisher: null, valid: false, inCatalogue: false },
    ]);
  });

  test("before the catalogue is read, ids alone", () => {
    expect(selectedProducts("SOL-15974-MQF", null)).toEqual([
      { id: "SOL-15974-MQF", name: null, publisher: null, valid: true, inCatalogue: false },
    ]);
  });
});

describe("searchCatalogue", () => {
  test.each([
    ["", [], ["SOL-15974-MQF", "SOL-34104-EBB", "SOL-1234-PQRS"]],
    ["contoso", [], ["SOL-15974-MQF", "SOL-1234-PQRS"]],
    ["ANALYTICS contoso", [], ["SOL-1234-PQRS"]],
    ["34104", [], ["SOL-34104-EBB"]],
    ["fabrikam", [], ["SOL-34104-EBB"]],
    ["contoso", ["SOL-15974-MQF"], ["SOL-1234-PQRS"]],
    ["nothing like this", [], []],
  ] as [string, string[], string[]][])("%p without %p → %p", (query, chosen, expected) => {
    expect(searchCatalogue(CATALOGUE, query, chosen).map((e) => e.solutionId)).toEqual(expected);
  });

  test("at most `limit` results", () => {
    expect(searchCatalogue(CATALOGUE, "", [], 2)).toHaveLength(2);
  });
});

describe("typedSolutionId", () => {
  test.each([
    ["sol-777-abc", [], "SOL-777-ABC"],
    ["  SOL-777-ABC ", [], "SOL-777-ABC"],
    ["SOL-15974-MQF", [], null], // in the catalogue: pick it from the list instead
    ["SOL-777-ABC", ["SOL-777-ABC"], null], // already chosen
    ["contoso", [], null],
    ["SOL-777", [], null], // not the id shape
  ] as [string, string[], string | null][])("%p (chosen %p) → %p", (query, chosen, expected) => {
    expect(typedSolutionId(query, CATALOGUE, chosen)).toBe(expected);
  });
});

describe("addProduct / removeProduct write the contract format", () => {
  test.each([
    [null, "SOL-1-A", "SOL-1-A"],
    ["SOL-1-A", "SOL-2-B", "SOL-1-A, SOL-2-B"],
    ["SOL-1-A, SOL-2-B", "sol-1-a", "SOL-1-A, SOL-2-B"],
  ] as [string | null, string, string][])("add to %p: %p → %p", (value, id, expected) => {
    expect(addProduct(value, id)).toBe(expected);
  });

  test.each([
    ["SOL-1-A, SOL-2-B", "SOL-1-A", "SOL-2-B"],
    ["SOL-1-A", "SOL-1-A", null],
    ["SOL-1-A;SOL-2-B", "sol-2-b", "SOL-1-A"],
    [null, "SOL-1-A", null],
  ] as [string | null, string, string | null][])("remove from %p: %p → %p", (value, id, expected) => {
    expect(removeProduct(value, id)).toBe(expected);
  });
});
