/**
 * The `cosell_Checkmark` environment variable, read the documented way: the definition's default
 * value, overridden by its current value when one exists (specs/dataverse.md §2.6).
 */
import { ENVIRONMENT_VARIABLES, EnvironmentVariable, parseEnvironmentBoolean } from "@cosell/contract";
import type { DataverseClient } from "dataverse-ify";

const DEFINITION_TABLE = "environmentvariabledefinition";
const VALUES_RELATIONSHIP = "environmentvariabledefinition_environmentvariablevalue";

const CHECKMARK_DEFAULT = parseEnvironmentBoolean(
  ENVIRONMENT_VARIABLES.find((v) => v.schemaName === EnvironmentVariable.checkmark)?.defaultValue,
  true,
);

export function checkmarkQuery(): string {
  return (
    `?$select=defaultvalue` +
    `&$filter=schemaname eq '${EnvironmentVariable.checkmark}'` +
    `&$expand=${VALUES_RELATIONSHIP}($select=value)`
  );
}

interface DefinitionRow {
  defaultvalue?: string | null;
  [VALUES_RELATIONSHIP]?: { value?: string | null }[];
}

/**
 * Whether to show ✔/✖. Falls back to the contract default when the variable is missing or cannot
 * be read: a cosmetic setting must never break the section.
 */
export async function readCheckmarksEnabled(client: DataverseClient): Promise<boolean> {
  try {
    const result = await client.retrieveMultiple(checkmarkQuery(), {
      logicalName: DEFINITION_TABLE,
      returnRawEntities: true,
    });
    const row = result.entities[0] as DefinitionRow | undefined;
    if (!row) return CHECKMARK_DEFAULT;
    const current = row[VALUES_RELATIONSHIP]?.[0]?.value;
    return parseEnvironmentBoolean(current ?? row.defaultvalue, CHECKMARK_DEFAULT);
  } catch {
    return CHECKMARK_DEFAULT;
  }
}
