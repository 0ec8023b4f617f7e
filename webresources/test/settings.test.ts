import { EnvironmentVariable } from "@cosell/contract";
import { DataverseReadError, type DataverseReader, type DataverseRecord } from "../src/dataverse";
import {
  DEFAULT_FORM_SETTINGS,
  FORM_ENVIRONMENT_VARIABLES,
  SettingsError,
  effectiveEnvironmentValues,
  environmentVariableQuery,
  loadFormSettings,
  parseFormSettings,
} from "../src/settings";

const definition = (schemaname: string, defaultvalue: string | null, ...values: (string | null)[]): DataverseRecord => ({
  schemaname,
  defaultvalue,
  environmentvariabledefinition_environmentvariablevalue: values.map((value) => ({ value })),
});

function readerAnswering(entities: readonly DataverseRecord[]): DataverseReader & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    retrieveRecord: () => Promise.reject(new Error("not used")),
    retrieveMultipleRecords: (table, options) => {
      queries.push(`${table}${options}`);
      return Promise.resolve(entities);
    },
  };
}

describe("environment variables", () => {
  test("one documented query reads every variable the form needs", () => {
    expect(environmentVariableQuery(FORM_ENVIRONMENT_VARIABLES)).toBe(
      "?$filter=schemaname eq 'cosell_DealValueField' or schemaname eq 'cosell_CountryCodeField'" +
        "&$select=schemaname,defaultvalue" +
        "&$expand=environmentvariabledefinition_environmentvariablevalue($select=value)",
    );
  });

  test("the current value wins over the default value", () => {
    const values = effectiveEnvironmentValues(
      [definition(EnvironmentVariable.dealValueField, "estimatedvalue", "new_dealamount")],
      [EnvironmentVariable.dealValueField],
    );
    expect(values.get(EnvironmentVariable.dealValueField)).toBe("new_dealamount");
  });

  test("the definition's default applies when no value is set", () => {
    const values = effectiveEnvironmentValues(
      [definition(EnvironmentVariable.countryCodeField, "address2_country")],
      [EnvironmentVariable.countryCodeField],
    );
    expect(values.get(EnvironmentVariable.countryCodeField)).toBe("address2_country");
  });

  test("blank values do not count; the first real value does", () => {
    const values = effectiveEnvironmentValues(
      [definition(EnvironmentVariable.countryCodeField, "address1_country", null, "  ", "new_iso")],
      [EnvironmentVariable.countryCodeField],
    );
    expect(values.get(EnvironmentVariable.countryCodeField)).toBe("new_iso");
  });

  test("the contract's default applies when the definition is missing or empty", () => {
    const values = effectiveEnvironmentValues(
      [definition(EnvironmentVariable.countryCodeField, "  ")],
      FORM_ENVIRONMENT_VARIABLES,
    );
    expect(values.get(EnvironmentVariable.dealValueField)).toBe("estimatedvalue");
    expect(values.get(EnvironmentVariable.countryCodeField)).toBe("address1_country");
  });

  test("schema names match without regard to case", () => {
    const values = effectiveEnvironmentValues([definition("COSELL_DEALVALUEFIELD", null, "new_x")], [EnvironmentVariable.dealValueField]);
    expect(values.get(EnvironmentVariable.dealValueField)).toBe("new_x");
  });
});

describe("parseFormSettings", () => {
  test("column names are trimmed and lower-cased", () => {
    expect(
      parseFormSettings(
        new Map([
          [EnvironmentVariable.dealValueField, " New_DealAmount "],
          [EnvironmentVariable.countryCodeField, "address1_country"],
        ]),
      ),
    ).toEqual({ dealValueColumn: "new_dealamount", countryCodeColumn: "address1_country" });
  });

  test("defaults fill what is absent", () => {
    expect(parseFormSettings(new Map())).toEqual(DEFAULT_FORM_SETTINGS);
    expect(DEFAULT_FORM_SETTINGS).toEqual({ dealValueColumn: "estimatedvalue", countryCodeColumn: "address1_country" });
  });

  test.each(["address1_country&$expand=x", "Deal Value", "1abc", "a'b"])("%p is refused as a column name", (value) => {
    expect(() => parseFormSettings(new Map([[EnvironmentVariable.countryCodeField, value]]))).toThrow(SettingsError);
    try {
      parseFormSettings(new Map([[EnvironmentVariable.countryCodeField, value]]));
    } catch (error) {
      expect((error as SettingsError).reason).toContain(`cosell_CountryCodeField holds "${value}"`);
    }
  });
});

describe("loadFormSettings", () => {
  test("reads the definitions with their values in one query", async () => {
    const reader = readerAnswering([definition(EnvironmentVariable.dealValueField, "estimatedvalue", "new_amount")]);
    await expect(loadFormSettings(reader)).resolves.toEqual({ dealValueColumn: "new_amount", countryCodeColumn: "address1_country" });
    expect(reader.queries).toEqual([`environmentvariabledefinition${environmentVariableQuery(FORM_ENVIRONMENT_VARIABLES)}`]);
  });

  test("a failed read becomes a SettingsError that keeps its cause and words", async () => {
    const cause = new DataverseReadError("querying failed: Access denied", "Access denied", { cause: { errorCode: 1 } });
    const reader: DataverseReader = {
      retrieveRecord: () => Promise.reject(new Error("not used")),
      retrieveMultipleRecords: () => Promise.reject(cause),
    };
    const error = (await loadFormSettings(reader).catch((e: unknown) => e)) as SettingsError;
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.reason).toBe("Access denied");
    expect(error.cause).toBe(cause);
  });
});
