/**
 * The solution's environment variables (DESIGN §2) as typed settings. The caller reads the current
 * values from Dataverse; anything missing or blank falls back to the default the solution ships.
 */
import {
  ENVIRONMENT_VARIABLES,
  EnvironmentVariable,
  type EnvironmentVariableName,
  parseEnvironmentBoolean,
} from "@cosell/contract";

/** Current values by schema name, as Dataverse stores them (Booleans are `yes` / `no`). */
export type EnvironmentValues = Partial<Record<EnvironmentVariableName, string | null | undefined>>;

export interface CoSellSettings {
  /** Show ✔ / ✖ after the opportunity name. */
  readonly checkmark: boolean;
  /** Sync only co-sell referrals from Partner Center; marketplace and qualified leads are skipped. */
  readonly syncCoSellOnly: boolean;
  /** Logical name of the opportunity column holding the deal value. */
  readonly dealValueField: string;
  /** Logical name of the account column holding the ISO 3166 two-letter country code. */
  readonly countryCodeField: string;
}

/** The value of one variable: its current value, else the shipped default. */
export function environmentValue(env: EnvironmentValues, name: EnvironmentVariableName): string {
  const current = env[name];
  if (current !== null && current !== undefined && current.trim() !== "") return current.trim();
  return ENVIRONMENT_VARIABLES.find((d) => d.schemaName === name)?.defaultValue ?? "";
}

function defaultBoolean(name: EnvironmentVariableName): boolean {
  const d = ENVIRONMENT_VARIABLES.find((v) => v.schemaName === name)?.defaultValue;
  return parseEnvironmentBoolean(d, false);
}

export function resolveSettings(env: EnvironmentValues = {}): CoSellSettings {
  return {
    checkmark: parseEnvironmentBoolean(env[EnvironmentVariable.checkmark], defaultBoolean(EnvironmentVariable.checkmark)),
    syncCoSellOnly: parseEnvironmentBoolean(
      env[EnvironmentVariable.syncCoSellOnly],
      defaultBoolean(EnvironmentVariable.syncCoSellOnly),
    ),
    dealValueField: environmentValue(env, EnvironmentVariable.dealValueField),
    countryCodeField: environmentValue(env, EnvironmentVariable.countryCodeField),
  };
}
