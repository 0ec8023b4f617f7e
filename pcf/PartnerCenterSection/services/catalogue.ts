/** Reads the co-sell solution catalogue (`cosell_solution`) through dataverse-ify. */
import { isSolutionId } from "@cosell/contract";
import type { DataverseClient } from "dataverse-ify";
import { cosell_solutionMetadata, cosell_SolutionAttributes, type cosell_Solution } from "../dataverse-gen/entities/cosell_Solution";
import type { CatalogueEntry } from "../model/products";

/** One page is enough for a catalogue admins curate by hand; more would not fit a picker anyway. */
export const CATALOGUE_PAGE_SIZE = 5000;

export class CatalogueReadError extends Error {
  public override readonly name = "CatalogueReadError";
  constructor(cause: unknown) {
    super("The co-sell solution catalogue could not be read", { cause });
  }
}

export function catalogueQuery(): string {
  const select = [
    cosell_SolutionAttributes.cosell_Name,
    cosell_SolutionAttributes.cosell_SolutionCode,
    cosell_SolutionAttributes.cosell_Publisher,
  ].join(",");
  return (
    `?$select=${select}` +
    `&$filter=${cosell_SolutionAttributes.cosell_IsActive} eq true` +
    // The primary key last: paging over a non-unique order (two entries of one name) may lose or repeat rows.
    `&$orderby=${cosell_SolutionAttributes.cosell_Name} asc,${cosell_SolutionAttributes.cosell_SolutionId} asc`
  );
}

/** Active catalogue entries with a well-formed solution id, first occurrence of each id kept. */
export async function readCatalogue(client: DataverseClient): Promise<CatalogueEntry[]> {
  let rows: cosell_Solution[];
  try {
    const result = await client.retrieveMultiple<cosell_Solution>(catalogueQuery(), {
      logicalName: cosell_solutionMetadata.logicalName,
      maxPageSize: CATALOGUE_PAGE_SIZE,
    });
    rows = result.entities;
  } catch (error) {
    throw new CatalogueReadError(error);
  }
  const seen = new Set<string>();
  const entries: CatalogueEntry[] = [];
  for (const row of rows) {
    const id = (row.cosell_solutioncode ?? "").trim().toUpperCase();
    if (!isSolutionId(id) || seen.has(id)) continue;
    seen.add(id);
    entries.push({ solutionId: id, name: (row.cosell_name ?? "").trim() || id, publisher: row.cosell_publisher?.trim() || null });
  }
  return entries;
}
