import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sharedFile, type Prerequisite } from "../../tests/support/prerequisites";
import { buildPackages, type BuiltPackage } from "../src/build";
import type { InputLocations } from "../src/inputs";
import { unzipPackage } from "../src/read";
import { DEFAULT_SCHEMA_DIR } from "../src/validate";

export const FIXTURES = path.join(__dirname, "fixtures");
export const FIXTURE_INPUTS: InputLocations = {
  controlDir: path.join(FIXTURES, "control"),
  formScript: path.join(FIXTURES, "webresources", "cosell_", "opportunityform.js"),
};

/** ../shared beside the checkout holds Microsoft's XSDs; CI has it (or fails), a bare clone may not. */
export const SCHEMAS: Prerequisite = {
  ...sharedFile("schemas/dataverse/xmllint/CustomizationsSolution.xsd"),
  present: () => existsSync(path.join(DEFAULT_SCHEMA_DIR, "CustomizationsSolution.xsd")),
};

export interface BuiltFixture {
  readonly dir: string;
  readonly built: readonly BuiltPackage[];
  readonly unmanaged: Map<string, Uint8Array>;
  readonly managed: Map<string, Uint8Array>;
  cleanup(): void;
}

/** Packs the fixture control and form script into a temporary folder and reads both zips back. */
export function buildFixture(): BuiltFixture {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cosell-pack-"));
  const built = buildPackages({ inputs: FIXTURE_INPUTS, outDir: dir, repoRoot: false });
  const get = (kind: string) => unzipPackage(built.find((b) => b.kind === kind)!.bytes);
  return { dir, built, unmanaged: get("unmanaged"), managed: get("managed"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const text = (files: ReadonlyMap<string, Uint8Array>, name: string): string => {
  const b = files.get(name);
  if (!b) throw new Error(`${name} not in package`);
  return Buffer.from(b).toString("utf8");
};
