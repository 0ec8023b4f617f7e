/**
 * What the form derives from the contract's tables, as plain data. The bundle build evaluates this
 * module and inlines the result (build.ts), so the form script does not carry the tables themselves.
 * Keep it pure data: no functions among its exports.
 */
import { ENVIRONMENT_VARIABLES, OPPORTUNITY_COLUMNS } from "@cosell/contract";

/** Opportunity columns only the bridge writes: locked on the form. */
export const READ_ONLY_OPPORTUNITY_COLUMNS: readonly string[] = OPPORTUNITY_COLUMNS.filter((c) => c.readOnlyOnForm).map(
  (c) => c.logicalName,
);

/** Each environment variable's default value, by schema name. */
export const ENVIRONMENT_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  ENVIRONMENT_VARIABLES.map((v) => [v.schemaName, v.defaultValue]),
);
