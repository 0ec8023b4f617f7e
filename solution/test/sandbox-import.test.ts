/**
 * Round trip: the sandbox's solution reader (written independently, from real exports) reads both
 * of our zips and finds the contract's schema in them, as the emulated ImportSolution will.
 */
import {
  ALTERNATE_KEYS,
  ENVIRONMENT_VARIABLES,
  GLOBAL_CHOICES,
  LEAD_COLUMNS,
  OPPORTUNITY_COLUMNS,
  PCF_CONTROL,
  SOLUTION,
  SOLUTION_CATALOG_TABLE,
  WEB_RESOURCE,
  solutionVersion,
} from "@cosell/contract";
import { readSolutionZip } from "@cosell/sandbox/src/dataverse/solution-reader";
import { buildFixture, type BuiltFixture } from "./helpers";

let fx: BuiltFixture;
beforeAll(() => {
  fx = buildFixture();
});
afterAll(() => fx.cleanup());

test.each(["unmanaged", "managed"] as const)("the sandbox reads the %s zip as the contract describes it", (kind) => {
  const c = readSolutionZip(fx.built.find((b) => b.kind === kind)!.bytes);
  expect(c.uniqueName).toBe(SOLUTION.uniqueName);
  expect(c.version).toBe(solutionVersion());
  expect(c.managed).toBe(kind === "managed");
  const entity = (name: string) => c.entities.find((e) => e.logicalName === name)!;
  const names = (name: string) => entity(name).attributes.map((a) => a.logicalName).sort();
  expect(names("opportunity")).toEqual(OPPORTUNITY_COLUMNS.map((x) => x.logicalName).sort());
  expect(names("lead")).toEqual(LEAD_COLUMNS.map((x) => x.logicalName).sort());
  const catalogue = entity(SOLUTION_CATALOG_TABLE.logicalName);
  expect(catalogue.isCustomEntity).toBe(true);
  expect(catalogue.primaryIdAttribute).toBe(SOLUTION_CATALOG_TABLE.primaryIdAttribute);
  expect(catalogue.entitySetName).toBe(SOLUTION_CATALOG_TABLE.entitySetName);
  for (const k of Object.values(ALTERNATE_KEYS))
    expect(entity(k.table).keys.find((x) => x.logicalName === k.logicalName)?.attributes).toEqual([...k.attributes]);
  expect(c.optionSets.map((o) => o.name).sort()).toEqual(Object.values(GLOBAL_CHOICES).map((g) => g.name).sort());
  for (const g of Object.values(GLOBAL_CHOICES))
    expect(c.optionSets.find((o) => o.name === g.name)!.options.map((o) => o.value)).toEqual(g.options.map((o) => o.value));
  expect(c.environmentVariables.map((v) => [v.schemaName, v.type, v.defaultValue ?? ""])).toEqual(
    ENVIRONMENT_VARIABLES.map((v) => [v.schemaName, v.type, v.defaultValue]),
  );
  expect(c.webResources.map((w) => w.name)).toEqual([WEB_RESOURCE.name]);
  expect(c.customControls.map((x) => x.name)).toEqual([PCF_CONTROL.fullName]);
  expect(c.forms.map((f) => f.entity).sort()).toEqual(["cosell_solution", "lead", "opportunity"]);
  expect(c.roles).toHaveLength(2);
});
