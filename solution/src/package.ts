/**
 * Assembles the solution package: every file of the zip, then the zip itself. Pure: given the same
 * inputs it returns the same bytes (fixed entry order, fixed timestamps, fixed compression level).
 */
import { zipSync, type Zippable } from "fflate";
import type { PackageInputs } from "./inputs";
import type { ControlManifest } from "./control-manifest";
import { CONTENT_TYPES_PATH, contentTypesXml } from "./emit/content-types";
import { controlFolder, webResourceFileName } from "./emit/components";
import { customizationsXml } from "./emit/customizations";
import { environmentVariableFiles } from "./emit/environment-variables";
import { solutionManifestXml } from "./emit/solution-manifest";
import { SOLUTION } from "@cosell/contract";

export type PackageFiles = Map<string, Uint8Array>;

const utf8 = (s: string): Uint8Array => Buffer.from(s, "utf8");

/** The XML of the package that our generator writes (no build outputs of other parts). */
export function generatedXml(manifest: ControlManifest, options: { managed: boolean; version?: string }): Map<string, string> {
  const files = new Map<string, string>();
  files.set("customizations.xml", customizationsXml(manifest));
  files.set("solution.xml", solutionManifestXml(options));
  for (const [p, xml] of environmentVariableFiles()) files.set(p, xml);
  return files;
}

export function packageFiles(inputs: PackageInputs, options: { managed: boolean; version?: string }): PackageFiles {
  const xml = generatedXml(inputs.controlManifest, options);
  const rest = new Map<string, Uint8Array>();
  for (const [p, text] of xml) if (p !== "customizations.xml" && p !== "solution.xml") rest.set(p, utf8(text));
  rest.set(webResourceFileName().slice(1), inputs.formScript);
  for (const [rel, bytes] of [...inputs.controlFiles].sort(([a], [b]) => (a < b ? -1 : 1)))
    rest.set(`${controlFolder()}/${rel}`, bytes);

  // Entry order of environment exports: customizations.xml, [Content_Types].xml, solution.xml, the rest.
  const files: PackageFiles = new Map();
  files.set("customizations.xml", utf8(xml.get("customizations.xml")!));
  files.set(CONTENT_TYPES_PATH, utf8(contentTypesXml(["customizations.xml", "solution.xml", ...rest.keys()])));
  files.set("solution.xml", utf8(xml.get("solution.xml")!));
  for (const [p, b] of rest) files.set(p, b);
  return files;
}

/** Local midnight, 1 January 2000: DOS timestamps are local time, so this reads the same everywhere. */
export const FIXED_MTIME = (): Date => new Date(2000, 0, 1, 0, 0, 0);

export function zipPackage(files: PackageFiles): Uint8Array {
  const entries: Zippable = {};
  const mtime = FIXED_MTIME();
  for (const [p, bytes] of files) entries[p] = [bytes, { level: 6, mtime }];
  return zipSync(entries, { level: 6, mtime });
}

export const PACKAGE_FILE_NAMES = {
  unmanaged: `${SOLUTION.uniqueName}.zip`,
  managed: `${SOLUTION.uniqueName}_managed.zip`,
} as const;
