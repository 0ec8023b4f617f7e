export interface ValidationIssue {
  /** Which rule: xsd, prefix, option-range, crm-prefix, managed-flag, version, reference, content-types, primary-key. */
  readonly rule: string;
  /** The file in the package and the element, e.g. `customizations.xml: …/attribute[cosell_Audit]`. */
  readonly element: string;
  readonly message: string;
}

/** A package that must not ship. The message lists every issue with the element it concerns. */
export class PackageValidationError extends Error {
  constructor(
    readonly packageName: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    super(
      `${packageName} is broken (${issues.length} issue${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  [${i.rule}] ${i.element}: ${i.message}`).join("\n"),
    );
    this.name = "PackageValidationError";
  }
}
