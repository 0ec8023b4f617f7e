/**
 * SyncSettings.catalogue(): the active SOL-ids of the `cosell_solution` catalogue, read from the
 * table as Dataverse builds it — the GUID primary key `cosell_solutionid`, the SOL-id in
 * `cosell_solutioncode` (DESIGN §2).
 */
import { SOLUTION_CATALOG_TABLE, SolutionCatalogColumn, SolutionType } from "@cosell/contract";
import { SyncSettings } from "../src/engine/settings";

type CatalogueRow = Record<string, unknown>;

/** Answers GETs on the catalogue's entity set as the Web API does: $select'ed columns, the primary key always. */
function catalogueTable(rows: readonly CatalogueRow[]) {
  const requests: string[] = [];
  const known = new Set<string>([SOLUTION_CATALOG_TABLE.primaryIdAttribute, SOLUTION_CATALOG_TABLE.primaryName.logicalName, ...SOLUTION_CATALOG_TABLE.columns.map((c) => c.logicalName)]);
  const get = async (path: string): Promise<unknown> => {
    requests.push(path);
    const url = new URL(path, "https://org.example/api/data/v9.2");
    if (url.pathname !== `/${SOLUTION_CATALOG_TABLE.entitySetName}`) throw new Error(`unexpected GET ${path}`);
    const select = (url.searchParams.get("$select") ?? "").split(",").filter(Boolean);
    for (const s of select) if (!known.has(s)) throw new Error(`Could not find a property named '${s}' on type 'Microsoft.Dynamics.CRM.${SOLUTION_CATALOG_TABLE.logicalName}'.`);
    const activeOnly = url.searchParams.get("$filter") === `${SolutionCatalogColumn.isActive} eq true`;
    const value = rows
      .filter((r) => !activeOnly || r[SolutionCatalogColumn.isActive] === true)
      .map((r) => Object.fromEntries([SOLUTION_CATALOG_TABLE.primaryIdAttribute, ...select].map((c) => [c, r[c] ?? null])));
    return { value };
  };
  return { get, requests };
}

const row = (n: number, code: string, isActive = true): CatalogueRow => ({
  [SOLUTION_CATALOG_TABLE.primaryIdAttribute]: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
  [SolutionCatalogColumn.name]: `Solution ${n}`,
  [SolutionCatalogColumn.solutionCode]: code,
  [SolutionCatalogColumn.solutionType]: SolutionType.IP,
  [SolutionCatalogColumn.isActive]: isActive,
});

describe("SyncSettings.catalogue", () => {
  it("reads the SOL-ids from cosell_solutioncode, not the primary key cosell_solutionid", async () => {
    const dataverse = catalogueTable([row(1, "SOL-15974-MQF"), row(2, " sol-34104-ebb "), row(3, "SOL-1-OFF", false)]);
    const settings = new SyncSettings({ dataverse, adminMapping: {} });
    expect(await settings.catalogue()).toEqual(new Set(["SOL-15974-MQF", "SOL-34104-EBB"]));
    expect(dataverse.requests).toEqual([
      `/${SOLUTION_CATALOG_TABLE.entitySetName}?$select=cosell_solutioncode&$filter=${encodeURIComponent("cosell_isactive eq true")}`,
    ]);
  });

  it("is undefined when the catalogue is empty (ids are then checked for their shape only)", async () => {
    const settings = new SyncSettings({ dataverse: catalogueTable([]), adminMapping: {} });
    expect(await settings.catalogue()).toBeUndefined();
  });
});
