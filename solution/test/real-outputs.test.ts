/**
 * The real pack: the PCF build output and the bundled form script of this checkout, when they have
 * been built (`npm run build -w pcf`, `npm run build -w webresources`; root `npm run pack` does both).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildOutput, describeWith } from "../../tests/support/prerequisites";
import { buildPackages } from "../src/build";
import { DEFAULT_INPUTS } from "../src/inputs";
import { unzipPackage } from "../src/read";
import { checkPackageRules } from "../src/validate";

const describeBuilt = describeWith("solution/test/real-outputs", [
  buildOutput("the built control and form script", path.join(DEFAULT_INPUTS.controlDir, "ControlManifest.xml"), DEFAULT_INPUTS.formScript),
]);

describeBuilt("pack from the other parts' build outputs", () => {
  test("both zips build, validate and carry the real control and script", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "cosell-real-"));
    try {
      const packages = buildPackages({ outDir: out });
      for (const p of packages) {
        const files = unzipPackage(p.bytes);
        expect(checkPackageRules(files, { expectManaged: p.kind === "managed" })).toEqual([]);
        expect([...files.keys()].some((k) => k.endsWith("/bundle.js"))).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
