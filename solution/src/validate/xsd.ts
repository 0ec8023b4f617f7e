/**
 * customizations.xml against Microsoft's 9.0.0.2090 XSDs with xmllint (Debian libxml2-utils).
 *
 * The XSDs predate nodes that every modern export carries. Rather than leave them out of the package
 * (Dataverse writes them, and our package should read like its exports), we validate a view of the
 * file with exactly these nodes blanked, each listed here with the reason. Blanking keeps every line
 * in place, so xmllint's line numbers point into the shipped file. Everything else must validate.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../inputs";
import type { ValidationIssue } from "./errors";

export interface PostSchemaNode {
  readonly what: string;
  readonly pattern: RegExp;
  readonly why: string;
}

const textElement = (name: string) => new RegExp(`<${name}>[^<]*</${name}>|<${name} ?/>`, "g");

export const POST_SCHEMA_NODES: readonly PostSchemaNode[] = [
  { what: "attribute/AutoNumberFormat", pattern: textElement("AutoNumberFormat"), why: "autonumber columns (2018); empty in every export" },
  { what: "attribute/IsSearchable, IsFilterable, IsRetrievable, IsLocalizable", pattern: /<Is(Searchable|Filterable|Retrievable|Localizable)>[01]<\/Is\1>/g, why: "Dataverse search and localizable columns (2019+)" },
  { what: "entity/IsRetrieveAuditEnabled, IsRetrieveMultipleAuditEnabled", pattern: /<IsRetrieve(Multiple)?AuditEnabled>[01]<\/IsRetrieve\1AuditEnabled>/g, why: "read auditing (2021)" },
  { what: "entity/IsMSTeamsIntegrationEnabled", pattern: textElement("IsMSTeamsIntegrationEnabled"), why: "Teams integration (2020)" },
  { what: "entity/IsSolutionAware", pattern: textElement("IsSolutionAware"), why: "solution-aware tables (2021)" },
  { what: "EntityRelationship/CascadeArchive", pattern: textElement("CascadeArchive"), why: "long-term retention (2023)" },
  { what: "Role/IsAutoAssigned", pattern: textElement("IsAutoAssigned"), why: "auto-assigned roles (2020)" },
  { what: "Role/Description", pattern: /<Description>[^<]*<\/Description>/g, why: "role descriptions (2021); the only Description element with text content" },
  { what: "@solutionaction on form elements", pattern: / solutionaction="(Added|Removed|Modified)"/g, why: "form diff markers; FormXml.xsd declares them on few elements, exports put them on any" },
];

/** The file with the post-schema nodes blanked, line for line. */
export function schemaView(xml: string): string {
  let view = xml;
  for (const n of POST_SCHEMA_NODES) view = view.replace(n.pattern, "");
  return view;
}

export const DEFAULT_SCHEMA_DIR = path.resolve(REPO_ROOT, "..", "shared", "schemas", "dataverse", "xmllint");

export type XsdResult = { readonly status: "checked" } | { readonly status: "skipped"; readonly reason: string };

function findXmllint(): string | undefined {
  for (const candidate of ["/usr/bin/xmllint", "/usr/local/bin/xmllint"]) if (existsSync(candidate)) return candidate;
  try {
    return execFileSync("sh", ["-c", "command -v xmllint"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export class XmllintMissingError extends Error {
  constructor() {
    super("xmllint is not installed: install Debian/Ubuntu package libxml2-utils (apt-get install libxml2-utils)");
    this.name = "XmllintMissingError";
  }
}

/**
 * Validates; returns issues (empty when valid) or a skip when the schemas are absent (../shared is
 * not beside this checkout). A missing xmllint is an error, not a skip: the schemas are there.
 */
export function validateAgainstXsd(
  customizationsXml: string,
  schemaDir: string = DEFAULT_SCHEMA_DIR,
): { result: XsdResult; issues: ValidationIssue[] } {
  const xsd = path.join(schemaDir, "CustomizationsSolution.xsd");
  if (!existsSync(xsd))
    return { result: { status: "skipped", reason: `Microsoft's XSDs not found at ${xsd}` }, issues: [] };
  const xmllint = findXmllint();
  if (!xmllint) throw new XmllintMissingError();
  const dir = mkdtempSync(path.join(os.tmpdir(), "cosell-xsd-"));
  const file = path.join(dir, "customizations.xml");
  try {
    writeFileSync(file, schemaView(customizationsXml));
    execFileSync(xmllint, ["--noout", "--schema", xsd, file], { stdio: ["ignore", "pipe", "pipe"] });
    return { result: { status: "checked" }, issues: [] };
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message);
    const issues: ValidationIssue[] = [];
    for (const line of stderr.split("\n")) {
      // <file>:<line>: element <name>: Schemas validity error : <message>
      const m = /:(\d+): element ([^:]+): Schemas validity error : (.*)$/.exec(line);
      if (m) issues.push({ rule: "xsd", element: `customizations.xml line ${m[1]} <${m[2]}>`, message: m[3]! });
      else if (/parser error/.test(line))
        issues.push({ rule: "xsd", element: "customizations.xml", message: line.slice(line.indexOf(":") + 1).trim() });
    }
    if (issues.length === 0) issues.push({ rule: "xsd", element: "customizations.xml", message: stderr.trim() || "xmllint failed" });
    return { result: { status: "checked" }, issues };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
