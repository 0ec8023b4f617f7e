/**
 * An in-memory `context.webAPI`: the catalogue table and the cosell_Checkmark environment variable,
 * answering the way Dataverse's Web API does (rows as OData JSON with annotations). Records calls.
 */
import { EnvironmentVariable, EnvironmentVariableTable, SOLUTION_CATALOG_TABLE, SolutionCatalogColumn } from "@cosell/contract";

export interface CatalogueRow {
  cosell_name: string;
  cosell_solutioncode: string;
  cosell_publisher?: string | null;
  cosell_isactive?: boolean;
}

export interface FakeWebApiOptions {
  solutions?: CatalogueRow[];
  /** Current value of cosell_Checkmark ("yes"/"no"); undefined = no value row, default only. */
  checkmark?: string;
  /** Default value of the definition; null = the definition does not exist. */
  checkmarkDefault?: string | null;
  /** Make every read fail with this error. */
  failWith?: Error;
}

export interface FakeWebApi extends ComponentFramework.WebApi {
  readonly calls: { entity: string; options: string | undefined; maxPageSize: number | undefined }[];
}

export function fakeWebApi(options: FakeWebApiOptions = {}): FakeWebApi {
  const calls: FakeWebApi["calls"] = [];
  const retrieveMultipleRecords = async (
    entity: string,
    query?: string,
    maxPageSize?: number,
  ): Promise<ComponentFramework.WebApi.RetrieveMultipleResponse> => {
    calls.push({ entity, options: query, maxPageSize });
    if (options.failWith) throw options.failWith;
    if (entity === SOLUTION_CATALOG_TABLE.logicalName) {
      const rows = (options.solutions ?? []).filter((r) => r.cosell_isactive !== false);
      return {
        entities: rows.map((r, i) => ({
          "@odata.etag": `W/"${i + 1}"`,
          [SOLUTION_CATALOG_TABLE.primaryIdAttribute]: `00000000-0000-0000-0000-${String(i + 1).padStart(12, "0")}`,
          [SolutionCatalogColumn.name]: r.cosell_name,
          [SolutionCatalogColumn.solutionCode]: r.cosell_solutioncode,
          [SolutionCatalogColumn.publisher]: r.cosell_publisher ?? null,
        })),
        nextLink: "",
      };
    }
    if (entity === EnvironmentVariableTable.definition && query?.includes(EnvironmentVariable.checkmark)) {
      if (options.checkmarkDefault === null) return { entities: [], nextLink: "" };
      return {
        entities: [
          {
            [EnvironmentVariableTable.defaultValue]: options.checkmarkDefault ?? "yes",
            [EnvironmentVariableTable.values]:
              options.checkmark === undefined ? [] : [{ [EnvironmentVariableTable.value]: options.checkmark }],
          },
        ],
        nextLink: "",
      };
    }
    throw new Error(`fakeWebApi: unexpected read of ${entity}`);
  };
  const notHere = (name: string) => () => Promise.reject(new Error(`fakeWebApi: ${name} not expected`));
  return {
    calls,
    retrieveMultipleRecords,
    createRecord: notHere("createRecord"),
    updateRecord: notHere("updateRecord"),
    deleteRecord: notHere("deleteRecord"),
    retrieveRecord: notHere("retrieveRecord"),
  };
}
