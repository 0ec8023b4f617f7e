/** Every check a package must pass before it is written: the XSD and our rules. */
import { PackageValidationError, type ValidationIssue } from "./errors";
import { checkPackageRules, type RuleOptions } from "./rules";
import { DEFAULT_SCHEMA_DIR, validateAgainstXsd, type XsdResult } from "./xsd";

export { PackageValidationError, type ValidationIssue } from "./errors";
export { POST_SCHEMA_NODES, schemaView, XmllintMissingError, DEFAULT_SCHEMA_DIR } from "./xsd";
export { checkPackageRules } from "./rules";

export interface ValidationReport {
  readonly xsd: XsdResult;
}

export function validatePackage(
  packageName: string,
  files: ReadonlyMap<string, Uint8Array>,
  options: RuleOptions & { schemaDir?: string },
): ValidationReport {
  const issues: ValidationIssue[] = [];
  const customizations = files.get("customizations.xml");
  let xsd: XsdResult = { status: "skipped", reason: "customizations.xml missing" };
  if (customizations) {
    const r = validateAgainstXsd(Buffer.from(customizations).toString("utf8"), options.schemaDir ?? DEFAULT_SCHEMA_DIR);
    xsd = r.result;
    issues.push(...r.issues);
  }
  issues.push(...checkPackageRules(files, options));
  if (issues.length > 0) throw new PackageValidationError(packageName, issues);
  return { xsd };
}
