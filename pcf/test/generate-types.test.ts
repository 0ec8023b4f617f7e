import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SOLUTION_CATALOG_TABLE } from "@cosell/contract";
import { generateTypes, staleFiles } from "../scripts/generate-types";

test("the committed dataverse-gen types match the contract (run scripts/generate-types.ts if not)", () => {
  expect(staleFiles()).toEqual([]);
});

test("the output has dataverse-gen's shape for cosell_solution", () => {
  const entity = generateTypes().get(path.join("entities", "cosell_Solution.ts")) ?? "";
  expect(entity).toContain(`export const ${SOLUTION_CATALOG_TABLE.logicalName}Metadata = {`);
  expect(entity).toContain(`collectionName: "${SOLUTION_CATALOG_TABLE.entitySetName}"`);
  expect(entity).toContain(`primaryIdAttribute: "${SOLUTION_CATALOG_TABLE.primaryIdAttribute}"`);
  expect(entity).toContain("export const enum cosell_SolutionAttributes {");
  expect(entity).toContain("export interface cosell_Solution extends IEntity {");
  expect(entity).toContain("cosell_isactive?: boolean | null;");
  expect(generateTypes().get("metadata.ts")).toContain("cosell_solution: cosell_solutionMetadata,");
});

test("a changed or missing file is reported stale", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-gen-"));
  try {
    fs.mkdirSync(path.join(dir, "entities"));
    fs.writeFileSync(path.join(dir, "metadata.ts"), generateTypes().get("metadata.ts") ?? "");
    fs.writeFileSync(path.join(dir, "entities", "cosell_Solution.ts"), "// edited by hand\n");
    expect(staleFiles(dir)).toEqual([path.join("entities", "cosell_Solution.ts")]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
