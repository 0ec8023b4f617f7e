/**
 * `npm run pack -w solution`: builds dist/PartnerCenterCoSell.zip and dist/PartnerCenterCoSell_managed.zip
 * from the PCF build output and the form script bundle, validating both. Exit code 1 on any problem.
 */
import path from "node:path";
import { Command } from "commander";
import { buildPackages } from "../build";
import { DEFAULT_INPUTS, MissingBuildOutputError, REPO_ROOT } from "../inputs";
import { unpackedDrift } from "../unpacked";
import { PackageValidationError, XmllintMissingError } from "../validate";

const program = new Command()
  .name("pack")
  .description("Build and validate the unmanaged and managed solution zips")
  .option("--out <dir>", "output folder", path.join(REPO_ROOT, "dist"))
  .option("--control-dir <dir>", "PCF build output folder", DEFAULT_INPUTS.controlDir)
  .option("--form-script <file>", "bundled form script", DEFAULT_INPUTS.formScript)
  .option("--schemas <dir>", "folder of Microsoft's XSDs (xmllint copy)")
  .parse();

const opts = program.opts<{ out: string; controlDir: string; formScript: string; schemas?: string }>();

try {
  const built = buildPackages({
    outDir: path.resolve(opts.out),
    inputs: { controlDir: path.resolve(opts.controlDir), formScript: path.resolve(opts.formScript) },
    ...(opts.schemas ? { schemaDir: path.resolve(opts.schemas) } : {}),
  });
  for (const b of built) {
    if (b.xsd.status === "skipped")
      console.warn(
        `\n!!! XSD VALIDATION SKIPPED for ${b.fileName}: ${b.xsd.reason}.\n!!! Only our own rules ran. Put the shared folder beside the checkout (../shared) to validate against Microsoft's schemas.\n`,
      );
    console.log(`${path.relative(process.cwd(), b.file)}  ${b.bytes.length} bytes  sha256 ${b.sha256}  xsd ${b.xsd.status}`);
  }
  const drift = unpackedDrift();
  if (drift.length > 0)
    console.warn(`warning: solution/src/unpacked/ is out of date (${drift.join(", ")}); run \`npm run generate -w solution\` and commit it`);
} catch (err) {
  if (err instanceof MissingBuildOutputError || err instanceof PackageValidationError || err instanceof XmllintMissingError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
