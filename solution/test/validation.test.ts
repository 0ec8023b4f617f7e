/**
 * Validation on every build: xmllint against Microsoft's XSDs, and one deliberately broken package
 * per rule the XSD cannot express, each failing with a message that names the element.
 */
import { PRODUCT_VERSION } from "@cosell/contract";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkPackageRules, PackageValidationError, POST_SCHEMA_NODES, schemaView, validatePackage, type ValidationIssue } from "../src/validate";
import { validateAgainstXsd } from "../src/validate/xsd";
import { checkRepositoryVersions } from "../src/versions";
import { describeWith } from "../../tests/support/prerequisites";
import { SCHEMAS, buildFixture, text, type BuiltFixture } from "./helpers";

let fx: BuiltFixture;
beforeAll(() => {
  fx = buildFixture();
});
afterAll(() => fx.cleanup());

/** A copy of the managed package with one file's text edited. */
function broken(file: string, edit: (s: string) => string): Map<string, Uint8Array> {
  const files = new Map(fx.managed);
  const before = text(files, file);
  const after = edit(before);
  expect(after).not.toBe(before); // the edit must have hit something
  files.set(file, Buffer.from(after, "utf8"));
  return files;
}

const issuesFor = (files: Map<string, Uint8Array>, rule: string, expectManaged = true): ValidationIssue[] =>
  checkPackageRules(files, { expectManaged }).filter((i) => i.rule === rule);

describe("the built packages pass", () => {
  test("our rules find nothing in either package", () => {
    expect(checkPackageRules(fx.managed, { expectManaged: true })).toEqual([]);
    expect(checkPackageRules(fx.unmanaged, { expectManaged: false })).toEqual([]);
  });
});

describeWith("solution/test/validation (Microsoft's XSDs)", [SCHEMAS])("xmllint against Microsoft's XSDs", () => {
  test("customizations.xml validates", () => {
    const r = validateAgainstXsd(text(fx.managed, "customizations.xml"));
    expect(r.issues).toEqual([]);
    expect(r.result.status).toBe("checked");
    expect(fx.built.every((b) => b.xsd.status === "checked")).toBe(true);
  });

  test("an element the schema does not know fails, naming the element and its line", () => {
    const files = broken("customizations.xml", (s) => s.replace("<ImeMode>auto</ImeMode>", "<ImeMode>auto</ImeMode><Frobnicate>1</Frobnicate>"));
    const xml = text(files, "customizations.xml");
    const line = xml.split("\n").findIndex((l) => l.includes("<Frobnicate>")) + 1;
    const { issues } = validateAgainstXsd(xml);
    expect(issues[0]?.element).toBe(`customizations.xml line ${line} <Frobnicate>`);
    expect(() => validatePackage("broken.zip", files, { expectManaged: true })).toThrow(/Frobnicate/);
  });

  test("a wrong value type fails too (a flag that is not 0/1)", () => {
    const files = broken("customizations.xml", (s) => s.replace("<IsAuditEnabled>1</IsAuditEnabled>", "<IsAuditEnabled>yes</IsAuditEnabled>"));
    expect(validateAgainstXsd(text(files, "customizations.xml")).issues[0]?.element).toMatch(/<IsAuditEnabled>/);
  });
});

describe("without ../shared", () => {
  test("the XSD step is skipped and says where it looked; the other rules still fail a broken package", () => {
    const missing = path.join(os.tmpdir(), "no-such-shared", "xmllint");
    expect(validateAgainstXsd(text(fx.managed, "customizations.xml"), missing).result).toEqual({
      status: "skipped",
      reason: `Microsoft's XSDs not found at ${path.join(missing, "CustomizationsSolution.xsd")}`,
    });
    const files = broken("solution.xml", (s) => s.replace("<Managed>1</Managed>", "<Managed>0</Managed>"));
    expect(() => validatePackage("x.zip", files, { expectManaged: true, schemaDir: missing })).toThrow(/\[managed-flag\]/);
  });
});

describe("the schema view blanks only the listed post-9.0 nodes", () => {
  test("line numbers are kept and each listed node occurs in our package", () => {
    const xml = text(fx.managed, "customizations.xml");
    const view = schemaView(xml);
    expect(view.split("\n")).toHaveLength(xml.split("\n").length);
    for (const n of POST_SCHEMA_NODES) {
      expect(xml.match(n.pattern)?.length ?? 0).toBeGreaterThan(0);
      expect(view.match(n.pattern)).toBeNull();
    }
  });
});

describe("rules the XSD cannot express (each with a broken package)", () => {
  test("prefix: a custom column without cosell_", () => {
    const files = broken("customizations.xml", (s) =>
      s.replace('<attribute PhysicalName="cosell_Audit">', '<attribute PhysicalName="new_Audit">'),
    );
    const issues = issuesFor(files, "prefix");
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]!.element).toMatch(/customizations\.xml: .*Entity\[Lead\].*attribute\[new_Audit\]$/);
  });

  test("primary-key: a column that takes the name of its table's primary key", () => {
    const files = broken("customizations.xml", (s) =>
      s
        .replace('<attribute PhysicalName="cosell_SolutionCode">', '<attribute PhysicalName="cosell_SolutionId">')
        .replace("<LogicalName>cosell_solutioncode</LogicalName>", "<LogicalName>cosell_solutionid</LogicalName>"),
    );
    const issues = issuesFor(files, "primary-key");
    expect(issues).toEqual([
      {
        rule: "primary-key",
        element: "customizations.xml: ImportExportXml/Entities/Entity[cosell_Solution]/attribute[cosell_SolutionId]",
        message: 'table "cosell_Solution": column "cosell_solutionid" takes the name of the table\'s primary key; rename the column',
      },
    ]);
    expect(() => validatePackage("broken.zip", files, { expectManaged: true, schemaDir: path.join(os.tmpdir(), "no-such-shared") })).toThrow(
      /\[primary-key\] .*Entity\[cosell_Solution\].*column "cosell_solutionid" takes the name of the table's primary key/,
    );
  });

  test("primary-key: a primary key Dataverse would not have named so (the package before 2026-12)", () => {
    const files = broken("customizations.xml", (s) =>
      s
        .replace('<attribute PhysicalName="cosell_SolutionId">', '<attribute PhysicalName="cosell_solutionrecordid">')
        .replace(/<LogicalName>cosell_solutionid<\/LogicalName>/, "<LogicalName>cosell_solutionrecordid</LogicalName>"),
    );
    expect(issuesFor(files, "primary-key").map((i) => i.message)).toEqual([
      'table "cosell_Solution": primary key "cosell_solutionrecordid" must be named cosell_solutionid, as Dataverse names it',
    ]);
  });

  test("prefix: a global choice without cosell_", () => {
    const files = broken("customizations.xml", (s) => s.replace('<optionset Name="cosell_syncstate"', '<optionset Name="syncstate"'));
    expect(issuesFor(files, "prefix").map((i) => i.element)).toContain("customizations.xml: ImportExportXml/optionsets/optionset[syncstate]");
  });

  test("prefix: a section added to a system form without cosell_", () => {
    const files = broken("customizations.xml", (s) => s.replace('<section name="cosell_partnercenter"', '<section name="partnercenter"'));
    expect(issuesFor(files, "prefix").some((i) => /section\[partnercenter\]$/.test(i.element))).toBe(true);
  });

  test("option-range: a choice value outside 174200000–174209999", () => {
    const files = broken("customizations.xml", (s) => s.replace('<option value="174200001" ExternalValue="WorkloadSpecificValueProposition"', '<option value="100000001" ExternalValue="WorkloadSpecificValueProposition"'));
    const issues = issuesFor(files, "option-range");
    expect(issues).toHaveLength(1);
    expect(issues[0]!.element).toBe("customizations.xml: ImportExportXml/optionsets/optionset[cosell_helpneeded]/options/option[100000001]");
  });

  test("crm-prefix: a name starting with crm_", () => {
    const files = broken("customizations.xml", (s) => s.replace("<Name>cosell_lead_referralid</Name>", "<Name>crm_lead_referralid</Name>"));
    const issues = issuesFor(files, "crm-prefix");
    expect(issues[0]?.element).toMatch(/EntityKey\[crm_lead_referralid\]\/Name$/);
  });

  test("managed-flag: the unmanaged solution.xml inside the managed zip", () => {
    const files = new Map(fx.managed);
    files.set("solution.xml", fx.unmanaged.get("solution.xml")!);
    const issues = issuesFor(files, "managed-flag");
    expect(issues).toEqual([
      { rule: "managed-flag", element: "solution.xml: ImportExportXml/SolutionManifest/Managed", message: "is 0, expected 1 in the managed package" },
    ]);
    expect(issuesFor(new Map(fx.unmanaged), "managed-flag", true)).toHaveLength(1);
  });

  test("version: solution.xml bumped without the contract", () => {
    const files = broken("solution.xml", (s) => s.replace(/<Version>[^<]+<\/Version>/, "<Version>9.9.9.9</Version>"));
    expect(issuesFor(files, "version")[0]?.element).toBe("solution.xml: ImportExportXml/SolutionManifest/Version");
  });

  test("version: a control manifest with another version", () => {
    const file = "Controls/cosell_CoSell.PartnerCenterSection/ControlManifest.xml";
    const files = broken(file, (s) => s.replace(`version="${PRODUCT_VERSION}"`, 'version="0.0.9"'));
    expect(issuesFor(files, "version")[0]?.element).toBe(`${file}: manifest/control/@version`);
  });

  test("version: a package.json that disagrees with the contract", () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), "cosell-versions-"));
    try {
      writeFileSync(path.join(repo, "package.json"), JSON.stringify({ version: PRODUCT_VERSION, workspaces: ["pcf", "solution"] }));
      for (const [w, v] of [["pcf", "0.9.0"], ["solution", PRODUCT_VERSION]] as const) {
        mkdirSync(path.join(repo, w));
        writeFileSync(path.join(repo, w, "package.json"), JSON.stringify({ version: v }));
      }
      expect(checkRepositoryVersions(repo)).toEqual([
        { rule: "version", element: "pcf/package.json: version", message: `is 0.9.0, expected ${PRODUCT_VERSION} (contract PRODUCT_VERSION)` },
      ]);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  test("reference: a root component that names nothing, a missing web resource file", () => {
    const files = broken("solution.xml", (s) => s.replace('schemaName="cosell_referralaction"', 'schemaName="cosell_nosuchchoice"'));
    const wr = [...files.keys()].find((k) => k.startsWith("WebResources/"))!;
    files.delete(wr);
    const elements = issuesFor(files, "reference").map((i) => i.element);
    expect(elements).toContain("solution.xml: RootComponents/RootComponent[type 9, cosell_nosuchchoice]");
    expect(elements).toContain("customizations.xml: WebResources/WebResource[cosell_/opportunityform.js]/FileName");
  });

  test("content-types: a file no Default or Override covers", () => {
    const files = new Map(fx.managed);
    files.set("Controls/cosell_CoSell.PartnerCenterSection/css/section.css", Buffer.from("a{}"));
    expect(issuesFor(files, "content-types")[0]?.message).toBe("no Default or Override covers Controls/cosell_CoSell.PartnerCenterSection/css/section.css");
  });

  test("validatePackage throws one error listing every issue with its element", () => {
    const files = broken("customizations.xml", (s) => s.replace('<attribute PhysicalName="cosell_Audit">', '<attribute PhysicalName="new_Audit">'));
    let error: unknown;
    try {
      validatePackage("PartnerCenterCoSell_managed.zip", files, { expectManaged: true });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PackageValidationError);
    expect((error as Error).message).toMatch(/^PartnerCenterCoSell_managed\.zip is broken/);
    expect((error as Error).message).toMatch(/\[prefix\] customizations\.xml: .*attribute\[new_Audit\]/);
  });
});
