/**
 * The whole pack step as a function: read the other parts' build outputs, generate, validate and zip
 * both packages. The CLI and the tests call it; nothing here prints.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { DEFAULT_INPUTS, REPO_ROOT, readPackageInputs, type InputLocations } from "./inputs";
import { PACKAGE_FILE_NAMES, packageFiles, zipPackage } from "./package";
import { PackageValidationError, validatePackage } from "./validate";
import type { XsdResult } from "./validate/xsd";
import { checkRepositoryVersions } from "./versions";

export interface BuiltPackage {
  readonly kind: "unmanaged" | "managed";
  readonly fileName: string;
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly xsd: XsdResult;
}

export interface BuildOptions {
  readonly inputs?: InputLocations;
  readonly outDir?: string;
  readonly schemaDir?: string;
  /** Check package.json versions of this repository (off for tests that pack fixtures elsewhere). */
  readonly repoRoot?: string | false;
  readonly version?: string;
}

export const DEFAULT_OUT_DIR = path.join(REPO_ROOT, "dist");

export function buildPackages(options: BuildOptions = {}): BuiltPackage[] {
  const repoRoot = options.repoRoot === undefined ? REPO_ROOT : options.repoRoot;
  if (repoRoot) {
    const issues = checkRepositoryVersions(repoRoot, options.version);
    if (issues.length > 0) throw new PackageValidationError("repository", issues);
  }
  const inputs = readPackageInputs(options.inputs ?? DEFAULT_INPUTS);
  const outDir = options.outDir ?? DEFAULT_OUT_DIR;
  const built: BuiltPackage[] = [];
  for (const kind of ["unmanaged", "managed"] as const) {
    const managed = kind === "managed";
    const files = packageFiles(inputs, { managed, ...(options.version ? { version: options.version } : {}) });
    const fileName = PACKAGE_FILE_NAMES[kind];
    const { xsd } = validatePackage(fileName, files, {
      expectManaged: managed,
      ...(options.version ? { expectedVersion: options.version } : {}),
      ...(options.schemaDir ? { schemaDir: options.schemaDir } : {}),
    });
    const bytes = zipPackage(files);
    built.push({ kind, fileName, file: path.join(outDir, fileName), bytes, sha256: createHash("sha256").update(bytes).digest("hex"), xsd });
  }
  mkdirSync(outDir, { recursive: true });
  for (const b of built) writeFileSync(b.file, b.bytes);
  return built;
}
