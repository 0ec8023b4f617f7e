/**
 * The solution reader against the real exports in ../shared/fixtures/real-solutions (facts read
 * off the unzipped files) and against hand-built zips, one per way Dataverse refuses a package.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from "fflate";
import { XMLParser } from "fast-xml-parser";
import { readSolutionZip, SolutionReadError, type SolutionContents } from "../src/dataverse/solution-reader";

// ---- Hand-built zips: shaped like real environment exports (no BOM, no XML declaration), so
// ---- each test can break exactly one thing.

const CONTENT_TYPES =
  '<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="xml" ContentType="application/octet-stream" /></Types>';

function solutionXml(overrides: { managed?: string; version?: string; rootComponents?: string } = {}): string {
  return `<ImportExportXml version="9.2.24012.196" SolutionPackageVersion="9.2" languagecode="1033" generatedBy="CrmLive" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <SolutionManifest>
    <UniqueName>TestSolution</UniqueName>
    <LocalizedNames><LocalizedName description="Test Solution" languagecode="1033" /></LocalizedNames>
    <Descriptions />
    <Version>${overrides.version ?? "1.2.3.4"}</Version>
    <Managed>${overrides.managed ?? "1"}</Managed>
    <Publisher>
      <UniqueName>testpublisher</UniqueName>
      <LocalizedNames><LocalizedName description="Test Publisher" languagecode="1033" /></LocalizedNames>
      <EMailAddress xsi:nil="true"></EMailAddress>
      <CustomizationPrefix>test</CustomizationPrefix>
      <CustomizationOptionValuePrefix>12345</CustomizationOptionValuePrefix>
    </Publisher>
    <RootComponents>${overrides.rootComponents ?? '<RootComponent type="1" schemaName="test_widget" behavior="0" />'}</RootComponents>
    <MissingDependencies />
  </SolutionManifest>
</ImportExportXml>`;
}

/** A column as exports write it; `tail` is the type-specific part. */
function attributeXml(physicalName: string, type: string, tail = "", isCustom = true): string {
  return `<attribute PhysicalName="${physicalName}">
  <Type>${type}</Type><Name>${physicalName.toLowerCase()}</Name><LogicalName>${physicalName.toLowerCase()}</LogicalName>
  <RequiredLevel>none</RequiredLevel><DisplayMask>ValidForAdvancedFind|ValidForForm|ValidForGrid</DisplayMask>
  <IsCustomField>${isCustom ? 1 : 0}</IsCustomField><IntroducedVersion>1.0.0.0</IntroducedVersion>
  ${tail}
  <displaynames><displayname description="${physicalName}" languagecode="1033" /></displaynames>
</attribute>`;
}

const PRIMARY_KEY = attributeXml("test_WidgetId", "primarykey", "", false);
const PRIMARY_NAME = attributeXml("test_Name", "nvarchar", "<Format>text</Format><MaxLength>100</MaxLength><Length>200</Length>").replace(
  "ValidForAdvancedFind|",
  "PrimaryName|ValidForAdvancedFind|",
);

function entityXml(schemaName: string, attributes: string[], extra = ""): string {
  return `<Entity>
  <Name LocalizedName="${schemaName}" OriginalName="${schemaName}">${schemaName}</Name>
  <EntityInfo>
    <entity Name="${schemaName}">
      <LocalizedNames><LocalizedName description="Widget" languagecode="1033" /></LocalizedNames>
      <LocalizedCollectionNames><LocalizedCollectionName description="Widgets" languagecode="1033" /></LocalizedCollectionNames>
      <attributes>${attributes.join("\n")}</attributes>
      ${extra}
      <EntitySetName>${schemaName.toLowerCase()}s</EntitySetName>
      <OwnershipTypeMask>UserOwned</OwnershipTypeMask>
    </entity>
  </EntityInfo>
  <RibbonDiffXml />
</Entity>`;
}

function customizationsXml(parts: { entities?: string[]; root?: string } = {}): string {
  const entities = parts.entities ?? [entityXml("test_Widget", [PRIMARY_KEY, PRIMARY_NAME])];
  return `<ImportExportXml xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Entities>${entities.join("\n")}</Entities>
  <Roles></Roles>
  <Workflows></Workflows>
  ${parts.root ?? "<optionsets />"}
  <Languages><Language>1033</Language></Languages>
</ImportExportXml>`;
}

/** A zip of text (string) and binary (Uint8Array) files; `undefined` leaves a file out. */
function buildZip(files: Record<string, string | Uint8Array | undefined>): Uint8Array {
  const zippable: Zippable = {};
  for (const [name, content] of Object.entries(files)) {
    if (content === undefined) continue;
    zippable[name] = typeof content === "string" ? strToU8(content) : content;
  }
  return zipSync(zippable, { mtime: new Date("2024-01-01T00:00:00Z") });
}

/** A valid solution zip, with `files` replacing or adding entries. */
function solutionZip(files: Record<string, string | Uint8Array | undefined> = {}): Uint8Array {
  return buildZip({
    "[Content_Types].xml": CONTENT_TYPES,
    "solution.xml": solutionXml(),
    "customizations.xml": customizationsXml(),
    ...files,
  });
}

/** The SolutionReadError a read throws (the test fails when it does not throw one). */
function readError(zip: Uint8Array, options?: Parameters<typeof readSolutionZip>[1]): SolutionReadError {
  try {
    readSolutionZip(zip, options);
  } catch (error) {
    if (error instanceof SolutionReadError) return error;
    throw error;
  }
  throw new Error("expected a SolutionReadError, the zip was read");
}

/** Sets the declared (central directory and local header) uncompressed size of every entry. */
function lieAboutSizes(zip: Uint8Array, size: number): Uint8Array {
  const patched = zip.slice();
  const view = new DataView(patched.buffer);
  for (let i = 0; i + 4 <= patched.length; i++) {
    const signature = view.getUint32(i, true);
    if (signature === 0x02014b50) view.setUint32(i + 24, size, true);
    if (signature === 0x04034b50) view.setUint32(i + 22, size, true);
  }
  return patched;
}

const REAL_SOLUTIONS = path.resolve(__dirname, "../../../shared/fixtures/real-solutions");
const haveRealSolutions = existsSync(REAL_SOLUTIONS);
if (!haveRealSolutions) {
  console.warn(`solution-reader: ${REAL_SOLUTIONS} is absent (no ../shared beside the checkout); real-export tests skipped`);
}
const describeReal = haveRealSolutions ? describe : describe.skip;

function readReal(file: string): SolutionContents {
  return readSolutionZip(readFileSync(path.join(REAL_SOLUTIONS, file)));
}

describeReal("real exports in ../shared/fixtures/real-solutions", () => {
  test("Contoso_sample: an environment variable with its current value, account as a shell", () => {
    const solution = readReal("Contoso_sample_1_0_0_1_managed.zip");
    expect(solution).toMatchObject({
      uniqueName: "Contoso_sample",
      friendlyName: "Contoso sample",
      version: "1.0.0.1",
      managed: true,
      publisher: { uniqueName: "DefaultPublisherorg8a403877", customizationPrefix: "new", optionValuePrefix: 10000 },
      rootComponents: [{ type: 1, schemaName: "account", behavior: 2 }],
    });
    expect(solution.environmentVariables).toEqual([
      {
        schemaName: "new_ContosoURL",
        displayName: "Contoso URL",
        description: "Contains the internet address of Contoso, Inc.",
        type: 100000000,
        isRequired: false,
        value: { id: "02b34632-9c07-ec11-94ef-00224826aa05", value: "https://contoso.com" },
      },
    ]);
    expect(solution.entities).toEqual([
      expect.objectContaining({ logicalName: "account", schemaName: "Account", isCustomEntity: false, attributes: [] }),
    ]);
  });

  test("UpsertSample (2015 export): the alternate key, and a root component without behavior", () => {
    const solution = readReal("UpsertSample_1_0_0_0_managed.zip");
    expect(solution.rootComponents).toEqual([{ type: 1, schemaName: "sample_product", behavior: 0 }]);
    const product = solution.entities.find((e) => e.logicalName === "sample_product");
    expect(product?.keys).toEqual([
      {
        logicalName: "sample_productcode",
        attributes: ["sample_productcode"],
        displayNames: [{ label: "product code", languageCode: 1033 }],
      },
    ]);
    expect(product).toMatchObject({ isCustomEntity: true, primaryIdAttribute: "sample_productid", primaryNameAttribute: "sample_name" });
    // Exports of that age carry no EntitySetName.
    expect(product?.entitySetName).toBeUndefined();
    expect(product?.attributes.find((a) => a.logicalName === "sample_productcode")).toMatchObject({
      type: "nvarchar",
      format: "text",
      maxLength: 100,
      isCustomField: true,
    });
  });

  test("CodeInterpreterControlSolution (pac output, BOM + declaration): the PCF control and its files", () => {
    const solution = readReal("CodeInterpreterControlSolution.zip");
    expect(solution).toMatchObject({ uniqueName: "CodeInterpreterControlSolution", version: "1.0", managed: true });
    expect(solution.rootComponents).toEqual([
      { type: 66, schemaName: "dev_CodeInterpreterSample.CodeInterpreterControl", behavior: 0 },
    ]);
    expect(solution.customControls).toHaveLength(1);
    const control = solution.customControls[0];
    const folder = "Controls/dev_CodeInterpreterSample.CodeInterpreterControl";
    expect(control?.name).toBe("dev_CodeInterpreterSample.CodeInterpreterControl");
    expect(control?.manifestPath).toBe(`${folder}/ControlManifest.xml`);
    expect(control?.manifestXml).toContain('constructor="CodeInterpreterControl"');
    expect([...(control?.files.keys() ?? [])].sort()).toEqual([
      `${folder}/ControlManifest.xml`,
      `${folder}/bundle.js`,
      `${folder}/bundle.js.LICENSE.txt`,
      `${folder}/strings/CodeInterpreterControl.1033.resx`,
    ]);
    expect(control?.files.get(`${folder}/bundle.js`)?.length).toBe(833111);
    expect(solution.entities).toEqual([]);
  });

  test("SecondaryRecordSource: account form diffs and the JavaScript web resource with its bytes", () => {
    const solution = readReal("SecondaryRecordSource_SampleSolution_1_23091_1_managed.zip");
    expect(solution.rootComponents).toEqual([
      { type: 1, schemaName: "account", behavior: 1 },
      { type: 61, schemaName: "new_SecondaryRecordSource", behavior: 0 },
    ]);
    expect(solution.webResources).toHaveLength(1);
    const script = solution.webResources[0];
    expect(script).toMatchObject({
      id: "cd98d4c6-4a21-ec11-b1b6-000d3af6f140",
      name: "new_SecondaryRecordSource",
      displayName: "SecondaryRecordSource",
      webResourceType: 3,
      fileName: "/WebResources/new_SecondaryRecordSourceCD98D4C6-4A21-EC11-B1B6-000D3AF6F140",
    });
    expect(script?.content?.length).toBe(31827);
    expect(Buffer.from(script?.content ?? []).toString("utf8")).toContain("SecondaryRecordSource");

    expect(solution.forms.map((f) => [f.entity, f.formType, f.formId, f.name])).toEqual([
      ["account", "main", "ff49442f-8c60-4877-bdae-8fe51e6f4636", "Account for Multisession experience"],
      ["account", "main", "a72c7955-442b-4ea4-9499-b10cd18b4256", "Account for Interactive experience"],
    ]);
    const multisession = solution.forms[0]?.formXml ?? "";
    expect(multisession.startsWith("<form>")).toBe(true);
    expect(multisession.endsWith("</form>")).toBe(true);
    expect(multisession).toContain('<tab name="tab_recordwall"');
    expect(multisession).toContain('solutionaction="Added"');
    expect(multisession).toContain('<Library name="msdyn_/ActivityFeeds.Form.js" libraryUniqueId="{4181da4c-6d13-ba3c-c859-be404e4ee2e3}"/>');
  });

  test("SecondaryRecordSource: each <form> comes back as the same XML, element order and all", () => {
    const zip = readFileSync(path.join(REAL_SOLUTIONS, "SecondaryRecordSource_SampleSolution_1_23091_1_managed.zip"));
    const customizations = strFromU8(unzipSync(zip)["customizations.xml"] ?? new Uint8Array());
    const originals = [...customizations.matchAll(/<form[\s>][\s\S]*?<\/form>/g)].map((m) => m[0]);
    const forms = readSolutionZip(zip).forms;
    expect(forms).toHaveLength(originals.length);
    const ordered = new XMLParser({ preserveOrder: true, ignoreAttributes: false, trimValues: true });
    forms.forEach((form, i) => expect(ordered.parse(form.formXml)).toEqual(ordered.parse(originals[i] ?? "")));
    // Text survives escaping: the record-source JSON inside a control parameter.
    expect(JSON.stringify(ordered.parse(forms[0]?.formXml ?? ""))).toContain('\\"name\\": \\"new_SecondaryRecordSource\\"');
  });

  test("ColumnLevelSecurity: the unmanaged and the managed export differ in the managed flag", () => {
    const unmanaged = readReal("ColumnLevelSecuritySampleSolution.zip");
    const managed = readReal("ColumnLevelSecuritySampleSolution_managed.zip");
    expect([unmanaged.managed, unmanaged.managedFlag]).toEqual([false, 0]);
    expect([managed.managed, managed.managedFlag]).toEqual([true, 1]);
    expect(managed.entities.map((e) => e.attributes.length)).toEqual(unmanaged.entities.map((e) => e.attributes.length));
    expect(unmanaged.roles).toHaveLength(1);
    expect(unmanaged.roles[0]).toMatchObject({
      id: "346c8295-a669-f011-bec2-00224823101f",
      name: "Column-level security sample role",
    });
    expect(unmanaged.roles[0]?.privileges).toHaveLength(17);
    expect(unmanaged.roles[0]?.privileges).toContainEqual({ name: "prvReadsample_Example", level: "Global" });
    expect(unmanaged.rootComponents).toContainEqual({ type: 20, id: "346c8295-a669-f011-bec2-00224823101f", behavior: 0 });
  });

  test("CodeInterpreterSample: a custom table with text, money, date, a local choice and state/status", () => {
    const solution = readReal("CodeInterpreterSample_1_0_0_0_managed.zip");
    const table = solution.entities.find((e) => e.logicalName === "sample_example");
    expect(table).toMatchObject({
      schemaName: "sample_Example",
      isCustomEntity: true,
      entitySetName: "sample_examples",
      primaryIdAttribute: "sample_exampleid",
      primaryNameAttribute: "sample_name",
      ownershipType: "UserOwned",
      displayNames: [{ label: "Example", languageCode: 1033 }],
      displayCollectionNames: [{ label: "Examples", languageCode: 1033 }],
    });
    const column = (name: string) => table?.attributes.find((a) => a.logicalName === name);
    expect(column("sample_category")).toEqual({
      logicalName: "sample_category",
      schemaName: "sample_Category",
      type: "picklist",
      isCustomField: true,
      requiredLevel: "none",
      defaultValue: 2,
      optionSet: {
        name: "sample_example_sample_category",
        optionSetType: "picklist",
        isGlobal: false,
        displayNames: [{ label: "Category", languageCode: 1033 }],
        options: [
          { value: 1, labels: [{ label: "Small", languageCode: 1033 }] },
          { value: 2, labels: [{ label: "Medium", languageCode: 1033 }] },
          { value: 3, labels: [{ label: "Large", languageCode: 1033 }] },
        ],
      },
      displayNames: [{ label: "Category", languageCode: 1033 }],
    });
    expect(column("sample_creditlimit")).toMatchObject({ type: "money", precision: 2, minValue: -922337203685477, maxValue: 922337203685477 });
    expect(column("sample_accountnumber")).toMatchObject({ type: "nvarchar", format: "text", maxLength: 100 });
    expect(column("createdon")).toMatchObject({ type: "datetime", format: "datetime", dateTimeBehavior: 1, isCustomField: false });
    expect(column("overriddencreatedon")).toMatchObject({ format: "date", dateTimeBehavior: 1 });
    expect(column("exchangerate")).toMatchObject({ type: "decimal", minValue: 1e-10, precision: 12 });
    expect(column("ownerid")?.lookupTargets).toEqual(expect.arrayContaining(["systemuser", "team"]));
    expect(column("transactioncurrencyid")?.lookupTargets).toEqual(["transactioncurrency"]);
    expect(column("statecode")?.optionSet?.options).toEqual([
      { value: 0, labels: [{ label: "Active", languageCode: 1033 }], defaultStatus: 1 },
      { value: 1, labels: [{ label: "Inactive", languageCode: 1033 }], defaultStatus: 2 },
    ]);
    expect(column("statuscode")?.optionSet?.options).toEqual([
      { value: 1, labels: [{ label: "Active", languageCode: 1033 }], state: 0 },
      { value: 2, labels: [{ label: "Inactive", languageCode: 1033 }], state: 1 },
    ]);
    expect(solution.forms.map((f) => f.formType).sort()).toEqual(["card", "main", "quick"]);
  });
});
