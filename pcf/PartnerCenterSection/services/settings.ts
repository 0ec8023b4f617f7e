/**
 * The `cosell_Checkmark` environment variable, read the documented way: the definition's default
 * value, overridden by its current value when one exists (specs/dataverse.md §2.6).
 */
import {
  EnvironmentVariable,
  EnvironmentVariableDefault,
  EnvironmentVariableTable as T,
  parseEnvironmentBoolean,
} from "@cosell/contract";
import type { DataverseClient } from "dataverse-ify";

const CHECKMARK_DEFAULT = parseEnvironmentBoolean(
  EnvironmentVariableDefault[EnvironmentVariable.checkmark],
  true,
);

export function checkmarkQuery(): string {
  return (
    `?$select=${T.defaultValue}` +
    `&$filter=${T.schemaName} eq '${EnvironmentVariable.checkmark}'` +
    `&$expand=${T.values}($select=${T.value})`
  );
}

type DefinitionRow = Record<string, unknown>;

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Whether to show ✔/✖. Falls back to the contract default when the variable is missing or cannot
 * be read: a cosmetic setting must never break the section.
 */
export async function readCheckmarksEnabled(client: DataverseClient): Promise<boolean> {
  try {
    const result = await client.retrieveMultiple(checkmarkQuery(), {
      logicalName: T.definition,
      returnRawEntities: true,
    });
    const row = result.entities[0] as DefinitionRow | undefined;
    if (!row) return CHECKMARK_DEFAULT;
    const values = row[T.values];
    const current = Array.isArray(values) ? text((values[0] as DefinitionRow | undefined)?.[T.value]) : undefined;
    return parseEnvironmentBoolean(current ?? text(row[T.defaultValue]), CHECKMARK_DEFAULT);
  } catch {
    return CHECKMARK_DEFAULT;
  }
}
