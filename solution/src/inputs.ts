/**
 * The build outputs of the other parts that go into the package: the PCF control (pcf-scripts
 * output) and the form script bundle. Missing outputs fail with the command that builds them.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { WEB_RESOURCE } from "@cosell/contract";
import { parseControlManifest, type ControlManifest } from "./control-manifest";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface PackageInputs {
  /** The control's folder content: relative path (`ControlManifest.xml`, `bundle.js`, `strings/…`) → bytes. */
  readonly controlFiles: ReadonlyMap<string, Uint8Array>;
  readonly controlManifest: ControlManifest;
  /** The form script `cosell_/opportunityform.js`. */
  readonly formScript: Uint8Array;
}

export interface InputLocations {
  readonly controlDir: string;
  readonly formScript: string;
}

export const DEFAULT_INPUTS: InputLocations = {
  controlDir: path.join(REPO_ROOT, "pcf", "out", "controls", "PartnerCenterSection"),
  formScript: path.join(REPO_ROOT, "webresources", "dist", ...WEB_RESOURCE.name.split("/")),
};

export class MissingBuildOutputError extends Error {
  constructor(
    readonly missing: string,
    readonly buildCommand: string,
  ) {
    super(`${missing} is missing: build it first with \`${buildCommand}\` (root \`npm run pack\` builds everything)`);
    this.name = "MissingBuildOutputError";
  }
}

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(full).isDirectory()) out.push(...listFiles(full, rel));
    else out.push(rel);
  }
  return out;
}

export function readPackageInputs(locations: InputLocations = DEFAULT_INPUTS): PackageInputs {
  const manifestPath = path.join(locations.controlDir, "ControlManifest.xml");
  if (!existsSync(manifestPath))
    throw new MissingBuildOutputError(path.relative(REPO_ROOT, manifestPath), "npm run build -w pcf");
  if (!existsSync(locations.formScript))
    throw new MissingBuildOutputError(path.relative(REPO_ROOT, locations.formScript), "npm run build -w webresources");
  const controlFiles = new Map<string, Uint8Array>();
  for (const rel of listFiles(locations.controlDir)) {
    if (rel.endsWith(".map")) continue; // source maps stay out of a production package
    controlFiles.set(rel, readFileSync(path.join(locations.controlDir, rel)));
  }
  const controlManifest = parseControlManifest(readFileSync(manifestPath, "utf8"), path.relative(REPO_ROOT, manifestPath));
  for (const resource of controlManifest.resources) {
    if (!controlFiles.has(resource))
      throw new MissingBuildOutputError(
        `${path.relative(REPO_ROOT, path.join(locations.controlDir, resource))} (listed in the control's manifest)`,
        "npm run build -w pcf",
      );
  }
  return { controlFiles, controlManifest, formScript: readFileSync(locations.formScript) };
}
