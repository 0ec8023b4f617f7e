/**
 * The reviewable copy of the package's XML, committed under solution/src/unpacked/: what ships,
 * generated from the contract and the control's source manifest, so a pull request that changes a
 * column shows the XML Dataverse will import. A test fails when it is out of date
 * (`npm run generate -w solution` rewrites it).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseControlManifest, type ControlManifest } from "./control-manifest";
import { REPO_ROOT } from "./inputs";
import { generatedXml } from "./package";

export const UNPACKED_DIR = path.join(REPO_ROOT, "solution", "src", "unpacked");
export const CONTROL_SOURCE_MANIFEST = path.join(REPO_ROOT, "pcf", "PartnerCenterSection", "ControlManifest.Input.xml");

export function sourceControlManifest(file: string = CONTROL_SOURCE_MANIFEST): ControlManifest {
  return parseControlManifest(readFileSync(file, "utf8"), path.relative(REPO_ROOT, file));
}

/** The files of the unpacked copy: the unmanaged package's XML (the managed one differs only in `<Managed>`). */
export function unpackedFiles(manifest: ControlManifest = sourceControlManifest()): Map<string, string> {
  return generatedXml(manifest, { managed: false });
}

function listFiles(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      return statSync(full).isDirectory() ? listFiles(full, rel) : [rel];
    });
}

export function writeUnpacked(dir: string = UNPACKED_DIR, files: Map<string, string> = unpackedFiles()): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, text] of files) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}

/** Paths that differ between the committed copy and a fresh generation (empty when in sync). */
export function unpackedDrift(dir: string = UNPACKED_DIR, files: Map<string, string> = unpackedFiles()): string[] {
  const drift: string[] = [];
  const onDisk = new Set(listFiles(dir));
  for (const [rel, text] of files) {
    if (!onDisk.has(rel)) drift.push(`${rel} (missing)`);
    else if (readFileSync(path.join(dir, rel), "utf8") !== text) drift.push(`${rel} (differs)`);
    onDisk.delete(rel);
  }
  for (const rel of onDisk) drift.push(`${rel} (no longer generated)`);
  return drift;
}
