/**
 * The solution reader against the real exports in ../shared/fixtures/real-solutions (facts read
 * off the unzipped files) and against hand-built zips, one per way Dataverse refuses a package.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from "fflate";
import { XMLParser } from "fast-xml-parser";
import { describeWith, sharedFile } from "../../tests/support/prerequisites";
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
const describeReal = describeWith("sandbox/test/solution-reader (real exports)", [sharedFile("fixtures/real-solutions")]);

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

describe("hand-built packages that read", () => {
  test("a minimal export-shaped zip: manifest, custom table with primary columns", () => {
    const solution = readSolutionZip(solutionZip());
    expect(solution).toMatchObject({
      uniqueName: "TestSolution",
      friendlyName: "Test Solution",
      version: "1.2.3.4",
      managed: true,
      managedFlag: 1,
      publisher: { uniqueName: "testpublisher", customizationPrefix: "test", optionValuePrefix: 12345 },
      rootComponents: [{ type: 1, schemaName: "test_widget", behavior: 0 }],
    });
    expect(solution.entities).toEqual([
      expect.objectContaining({
        logicalName: "test_widget",
        isCustomEntity: true,
        entitySetName: "test_widgets",
        primaryIdAttribute: "test_widgetid",
        primaryNameAttribute: "test_name",
      }),
    ]);
  });

  test("with and without BOM and XML declaration (pac writes both, environment exports neither)", () => {
    const bom = "\uFEFF";
    const declaration = '<?xml version="1.0" encoding="utf-8"?>\n';
    for (const prefix of ["", bom, declaration, bom + declaration]) {
      const zip = solutionZip({
        "solution.xml": prefix + solutionXml(),
        "customizations.xml": prefix + customizationsXml(),
        "[Content_Types].xml": prefix + CONTENT_TYPES.replace(/^<\?xml[^>]*\?>/, ""),
      });
      expect(readSolutionZip(zip).uniqueName).toBe("TestSolution");
    }
  });

  test("UTF-16 with a byte order mark", () => {
    const utf16 = new Uint8Array(Buffer.from(`\uFEFF<?xml version="1.0" encoding="utf-16"?>${solutionXml()}`, "utf16le"));
    expect(readSolutionZip(solutionZip({ "solution.xml": utf16 })).friendlyName).toBe("Test Solution");
  });

  test('Managed 2 ("Both", pac source) reads as unmanaged and keeps the flag', () => {
    const solution = readSolutionZip(solutionZip({ "solution.xml": solutionXml({ managed: "2" }) }));
    expect([solution.managed, solution.managedFlag]).toEqual([false, 2]);
  });

  test("column types: text formats, memo, whole number, decimal, Yes/No with default, date-only, lookup", () => {
    const columns = [
      PRIMARY_KEY,
      PRIMARY_NAME,
      attributeXml("test_Link", "nvarchar", "<Format>url</Format><MaxLength>500</MaxLength><Length>1000</Length>"),
      attributeXml("test_Audit", "ntext", "<Format>text</Format><MaxLength>100000</MaxLength>"),
      attributeXml("test_Count", "int", "<Format>none</Format><MinValue>0</MinValue><MaxValue>1000</MaxValue>"),
      attributeXml("test_Rate", "decimal", "<MinValue>-100.5</MinValue><MaxValue>1E+3</MaxValue><Accuracy>4</Accuracy>"),
      attributeXml(
        "test_IsActive",
        "bit",
        `<AppDefaultValue>1</AppDefaultValue>
         <optionset Name="test_widget_test_isactive"><OptionSetType>bit</OptionSetType>
           <displaynames><displayname description="Local Enumeration" languagecode="1033" /></displaynames>
           <options>
             <option value="1"><labels><label description="Yes" languagecode="1033" /></labels></option>
             <option value="0"><labels><label description="No" languagecode="1033" /></labels></option>
           </options></optionset>`,
      ),
      attributeXml("test_Due", "datetime", "<Format>date</Format><CanChangeDateTimeBehavior>0</CanChangeDateTimeBehavior><Behavior>2</Behavior>"),
      attributeXml("test_AccountId", "lookup", "<LookupStyle>single</LookupStyle><LookupTypes />"),
    ];
    const relationship = `<EntityRelationships><EntityRelationship Name="test_account_test_widget">
      <EntityRelationshipType>OneToMany</EntityRelationshipType><ReferencingEntityName>test_Widget</ReferencingEntityName>
      <ReferencedEntityName>Account</ReferencedEntityName><ReferencingAttributeName>test_AccountId</ReferencingAttributeName>
    </EntityRelationship></EntityRelationships><optionsets />`;
    const solution = readSolutionZip(
      solutionZip({ "customizations.xml": customizationsXml({ entities: [entityXml("test_Widget", columns)], root: relationship }) }),
    );
    const byName = new Map(solution.entities[0]?.attributes.map((a) => [a.logicalName, a]));
    expect(byName.get("test_link")).toMatchObject({ type: "nvarchar", format: "url", maxLength: 500 });
    expect(byName.get("test_audit")).toMatchObject({ type: "ntext", maxLength: 100000 });
    expect(byName.get("test_count")).toMatchObject({ type: "int", minValue: 0, maxValue: 1000 });
    expect(byName.get("test_rate")).toMatchObject({ type: "decimal", minValue: -100.5, maxValue: 1000, precision: 4 });
    expect(byName.get("test_isactive")).toMatchObject({
      type: "bit",
      defaultValue: 1,
      optionSet: { optionSetType: "bit", isGlobal: false, options: [{ value: 1 }, { value: 0 }] },
    });
    expect(byName.get("test_due")).toMatchObject({ type: "datetime", format: "date", dateTimeBehavior: 2 });
    expect(byName.get("test_accountid")).toMatchObject({ type: "lookup", lookupTargets: ["account"] });
  });

  test("a global choice is resolved against the root <optionsets>; a system one is left by name", () => {
    const globalSet = `<optionsets><optionset Name="test_syncstate" localizedName="Sync state">
      <OptionSetType>picklist</OptionSetType><IsGlobal>1</IsGlobal>
      <displaynames><displayname description="Sync state" languagecode="1033" /></displaynames>
      <options>
        <option value="123450000" ExternalValue=""><labels><label description="Not synced" languagecode="1033" /></labels></option>
        <option value="123450001" ExternalValue=""><labels><label description="Synced" languagecode="1033" /></labels></option>
      </options></optionset></optionsets>`;
    const columns = [
      PRIMARY_KEY,
      PRIMARY_NAME,
      attributeXml("test_SyncState", "picklist", "<AppDefaultValue>123450000</AppDefaultValue><OptionSetName>test_syncstate</OptionSetName>"),
      attributeXml("test_Community", "multiselectpicklist", "<AppDefaultValue>-1</AppDefaultValue><OptionSetName>socialprofile_community</OptionSetName>"),
    ];
    const solution = readSolutionZip(
      solutionZip({ "customizations.xml": customizationsXml({ entities: [entityXml("test_Widget", columns)], root: globalSet }) }),
    );
    expect(solution.optionSets).toEqual([
      {
        name: "test_syncstate",
        optionSetType: "picklist",
        isGlobal: true,
        displayNames: [{ label: "Sync state", languageCode: 1033 }],
        options: [
          { value: 123450000, labels: [{ label: "Not synced", languageCode: 1033 }] },
          { value: 123450001, labels: [{ label: "Synced", languageCode: 1033 }] },
        ],
      },
    ]);
    const [, , syncState, community] = solution.entities[0]?.attributes ?? [];
    expect(syncState).toMatchObject({ globalOptionSetName: "test_syncstate", defaultValue: 123450000, optionSet: solution.optionSets[0] });
    expect(community).toMatchObject({ globalOptionSetName: "socialprofile_community", defaultValue: -1 });
    expect(community?.optionSet).toBeUndefined();
  });

  test("new columns and a key on a system table carried as a shell", () => {
    const shell = `<Entity><Name LocalizedName="Opportunity" OriginalName="">Opportunity</Name>
      <EntityInfo><entity Name="Opportunity"><attributes>
        ${attributeXml("test_ReferralId", "nvarchar", "<Format>text</Format><MaxLength>100</MaxLength><Length>200</Length>")}
      </attributes>
      <EntityKeys><EntityKey><Name>test_opportunity_referralid</Name><LogicalName>test_opportunity_referralid</LogicalName>
        <EntityKeyAttributes><AttributeName>test_referralid</AttributeName></EntityKeyAttributes>
        <displaynames><displayname description="Referral id" languagecode="1033" /></displaynames></EntityKey></EntityKeys>
      </entity></EntityInfo><RibbonDiffXml /></Entity>`;
    const solution = readSolutionZip(solutionZip({ "customizations.xml": customizationsXml({ entities: [shell] }) }));
    expect(solution.entities[0]).toMatchObject({
      logicalName: "opportunity",
      isCustomEntity: false,
      attributes: [{ logicalName: "test_referralid", maxLength: 100 }],
      keys: [{ logicalName: "test_opportunity_referralid", attributes: ["test_referralid"] }],
    });
  });

  test("environment variables: folder files, a customizations.xml definition, values json", () => {
    const definition = (schema: string, body: string) =>
      `<environmentvariabledefinition schemaname="${schema}">${body}
        <displayname default="${schema} name"><label description="${schema} name" languagecode="1033" /></displayname>
        <introducedversion>1.0.0.0</introducedversion><iscustomizable>1</iscustomizable><isrequired>1</isrequired>
        <type>100000002</type></environmentvariabledefinition>`;
    const zip = solutionZip({
      "customizations.xml": customizationsXml({
        root: `<optionsets /><environmentvariabledefinitions>${definition("test_Legacy", "")}</environmentvariabledefinitions>`,
      }),
      "environmentvariabledefinitions/test_Checkmark/environmentvariabledefinition.xml": definition("test_Checkmark", "<defaultvalue>yes</defaultvalue>"),
      "environmentvariabledefinitions/test_Checkmark/environmentvariablevalues.json": JSON.stringify({
        environmentvariablevalues: { environmentvariablevalue: { "@environmentvariablevalueid": "{02B34632-9C07-EC11-94EF-00224826AA05}", iscustomizable: "1", value: "no" } },
      }),
    });
    expect(readSolutionZip(zip).environmentVariables).toEqual([
      { schemaName: "test_Legacy", displayName: "test_Legacy name", type: 100000002, isRequired: true },
      {
        schemaName: "test_Checkmark",
        displayName: "test_Checkmark name",
        type: 100000002,
        isRequired: true,
        defaultValue: "yes",
        value: { id: "02b34632-9c07-ec11-94ef-00224826aa05", value: "no" },
      },
    ]);
  });
});

/** The read fails with a SolutionReadError whose message contains every `parts`. */
function expectRefused(zip: Uint8Array, ...parts: string[]): SolutionReadError {
  const error = readError(zip);
  for (const part of parts) expect(error.message).toContain(part);
  return error;
}

const widgetWith = (...columns: string[]) =>
  solutionZip({ "customizations.xml": customizationsXml({ entities: [entityXml("test_Widget", [PRIMARY_KEY, PRIMARY_NAME, ...columns])] }) });

describe("hand-built packages that Dataverse would refuse", () => {
  test.each([
    ["../evil.txt"],
    ["Controls/../../evil.txt"],
    ["/etc/evil.txt"],
    ["C:/evil.txt"],
    ["..\\evil.txt"],
  ])("zip-slip entry name %s", (name) => {
    const error = expectRefused(solutionZip({ [name]: "x" }), "solution zip", `entry name '${name}' points outside the package`);
    expect(error.path).toBe("solution zip");
  });

  test("more entries than allowed", () => {
    const error = readError(solutionZip({ "a.txt": "1", "b.txt": "2" }), { maxEntries: 4 });
    expect(error.message).toBe("solution zip: holds more than 4 entries");
  });

  test("more bytes than allowed once inflated (a small zip of zeros)", () => {
    const zeros = new Uint8Array(4 * 1024 * 1024);
    const zip = solutionZip({ "WebResources/big": zeros });
    expect(zip.length).toBeLessThan(64 * 1024);
    const error = readError(zip, { maxTotalBytes: 1024 * 1024 });
    expect(error.message).toContain("inflates to more than 1048576 bytes (limit reached at 'WebResources/big')");
  });

  test("the declared size is judged before anything is inflated", () => {
    // 4 GB declared: inflating into a buffer of that size would throw a RangeError, not this.
    const error = readError(lieAboutSizes(solutionZip(), 0xfffffff0));
    expect(error.message).toContain("inflates to more than");
  });

  test("not a zip at all", () => {
    const error = expectRefused(strToU8("this is not a zip file, just some text that goes on"), "solution zip: is not a readable zip file");
    expect(error.cause).toBeInstanceOf(Error);
  });

  test("two entries whose names differ only in case", () => {
    expectRefused(solutionZip({ "Solution.xml": solutionXml() }), "entry 'Solution.xml' appears twice");
  });

  test.each([["solution.xml"], ["customizations.xml"], ["[Content_Types].xml"]])("missing %s", (name) => {
    const error = expectRefused(solutionZip({ [name]: undefined }), `${name}: the zip has no ${name}`);
    expect(error.path).toBe(name);
  });

  test("malformed XML names the file, line and column", () => {
    const broken = customizationsXml().replace("</Workflows>", "</Workflow>");
    expectRefused(solutionZip({ "customizations.xml": broken }), "customizations.xml: malformed XML at line", "column", "Workflow");
  });

  test("XML with two root elements", () => {
    expectRefused(solutionZip({ "solution.xml": solutionXml() + "<Extra/>" }), "solution.xml: malformed XML: a document has exactly one root element");
  });

  test("an entity XML does not define (&nbsp;), a bare & and a DOCTYPE are refused", () => {
    expectRefused(
      solutionZip({ "solution.xml": solutionXml().replace("Test Solution", "Test&nbsp;Solution") }),
      "solution.xml: malformed XML: undefined entity &nbsp;",
    );
    expectRefused(
      solutionZip({ "solution.xml": '<!DOCTYPE x [<!ENTITY a "aaaa">]>' + solutionXml() }),
      "solution.xml: malformed XML: a DOCTYPE declaration is not allowed",
    );
    expectRefused(
      solutionZip({ "solution.xml": solutionXml().replace('languagecode="1033" generatedBy', 'languagecode="1033" a="R&D" generatedBy') }),
      "solution.xml: malformed XML: a bare & (write &amp;)",
    );
    // Inside CDATA and comments anything goes.
    const quoted = solutionXml().replace("<Descriptions />", "<Descriptions><![CDATA[<!DOCTYPE &nbsp; R&D]]></Descriptions><!-- & -->");
    expect(readSolutionZip(solutionZip({ "solution.xml": quoted })).uniqueName).toBe("TestSolution");
  });

  test("elements nested deeper than the parser allows", () => {
    const deep = "<x>".repeat(120) + "</x>".repeat(120);
    expectRefused(
      solutionZip({ "customizations.xml": customizationsXml().replace("<Workflows></Workflows>", `<Workflows>${deep}</Workflows>`) }),
      "customizations.xml: malformed XML: Maximum nested tags exceeded",
    );
  });

  test("text that is not UTF-8", () => {
    const bytes = strToU8(solutionXml());
    const latin1 = new Uint8Array([...bytes.slice(0, 20), 0xe9, ...bytes.slice(20)]);
    expectRefused(solutionZip({ "solution.xml": latin1 }), "solution.xml: is not valid UTF-8 or UTF-16 text");
  });

  test("wrong root element", () => {
    expectRefused(solutionZip({ "customizations.xml": "<Customizations/>" }), "customizations.xml: the root element is <Customizations>, expected <ImportExportXml>");
  });

  test("unknown column type, named by file and element path", () => {
    const second = entityXml("test_Gadget", [PRIMARY_KEY.replace(/test_WidgetId/g, "test_GadgetId").replace(/test_widgetid/g, "test_gadgetid"), PRIMARY_NAME, attributeXml("test_Size", "hugeint")]);
    const zip = solutionZip({ "customizations.xml": customizationsXml({ entities: [entityXml("test_Widget", [PRIMARY_KEY, PRIMARY_NAME]), second] }) });
    const error = readError(zip);
    expect(error.message).toBe(
      "customizations.xml: ImportExportXml/Entities/Entity[2]/EntityInfo/entity/attributes/attribute[@PhysicalName='test_Size']/Type: unknown column type 'hugeint'",
    );
    expect(error.path).toBe(
      "customizations.xml: ImportExportXml/Entities/Entity[2]/EntityInfo/entity/attributes/attribute[@PhysicalName='test_Size']/Type",
    );
  });

  test("the same column twice", () => {
    const column = attributeXml("test_Code", "nvarchar", "<Format>text</Format><MaxLength>10</MaxLength>");
    expectRefused(widgetWith(column, column), "attribute[@PhysicalName='test_Code']: column 'test_code' is defined twice");
  });

  test("the same table twice", () => {
    const table = entityXml("test_Widget", [PRIMARY_KEY, PRIMARY_NAME]);
    expectRefused(solutionZip({ "customizations.xml": customizationsXml({ entities: [table, table] }) }), "Entities/Entity[2]: table 'test_Widget' appears twice");
  });

  test.each([
    ["a MaxLength that is not a number", attributeXml("test_X", "nvarchar", "<MaxLength>ten</MaxLength>"), "/MaxLength: <MaxLength> 'ten' is not an integer"],
    ["a text column longer than 4000", attributeXml("test_X", "nvarchar", "<MaxLength>5000</MaxLength>"), "<MaxLength> 5000 is above 4000"],
    ["a custom text column without MaxLength", attributeXml("test_X", "nvarchar", "<Format>text</Format>"), "a text column needs <MaxLength>"],
    ["MinValue above MaxValue", attributeXml("test_X", "int", "<MinValue>10</MinValue><MaxValue>1</MaxValue>"), "/MinValue: 10 is above <MaxValue> 1"],
    ["a MinValue that is not a number", attributeXml("test_X", "decimal", "<MinValue>low</MinValue>"), "<MinValue> 'low' is not a number"],
    ["a date format Dataverse does not know", attributeXml("test_X", "datetime", "<Format>dateonly</Format><Behavior>1</Behavior>"), "the format dateonly is not valid for a date and time column"],
    ["an unknown date-time behaviour", attributeXml("test_X", "datetime", "<Format>date</Format><Behavior>4</Behavior>"), "<Behavior> 4 is above 3"],
    ["date-only behaviour with a date-and-time format", attributeXml("test_X", "datetime", "<Format>datetime</Format><Behavior>2</Behavior>"), "a date-only column (Behavior 2) must have the format date"],
    ["an unknown requirement level", attributeXml("test_X", "nvarchar", "<MaxLength>5</MaxLength>").replace("<RequiredLevel>none", "<RequiredLevel>sometimes"), "unknown requirement level 'sometimes'"],
    ["IsCustomField that is not 0/1", attributeXml("test_X", "nvarchar", "<MaxLength>5</MaxLength>").replace("<IsCustomField>1", "<IsCustomField>yes"), "<IsCustomField> 'yes' must be 0 or 1"],
    ["a LogicalName that is not the PhysicalName", attributeXml("test_X", "int").replace("<LogicalName>test_x", "<LogicalName>test_y"), "'test_y' is not the lower-case PhysicalName 'test_X'"],
    ["a custom choice without options", attributeXml("test_X", "picklist", "<AppDefaultValue>-1</AppDefaultValue>"), "a picklist column needs an inline <optionset> or an <OptionSetName>"],
    [
      "a Yes/No set without the No option",
      attributeXml("test_X", "bit", '<optionset Name="s"><OptionSetType>bit</OptionSetType><options><option value="1"><labels /></option></options></optionset>'),
      "optionset[@Name='s']: a Yes/No option set has exactly the options 0 and 1, found [1]",
    ],
    [
      "an option value twice",
      attributeXml("test_X", "picklist", '<optionset Name="s"><OptionSetType>picklist</OptionSetType><options><option value="1" /><option value="1" /></options></optionset>'),
      "option value 1 appears twice",
    ],
    [
      "a default that is not an option",
      attributeXml("test_X", "picklist", '<AppDefaultValue>7</AppDefaultValue><optionset Name="s"><OptionSetType>picklist</OptionSetType><options><option value="1" /></options></optionset>'),
      "/AppDefaultValue: 7 is not an option of 's'",
    ],
    [
      "a choice column with a status option set",
      attributeXml("test_X", "picklist", '<optionset Name="s"><OptionSetType>status</OptionSetType><statuses /></optionset>'),
      "a picklist column needs an option set of type picklist, not status",
    ],
    ["an unknown option set type", attributeXml("test_X", "picklist", '<optionset Name="s"><OptionSetType>flags</OptionSetType></optionset>'), "/OptionSetType: unknown option set type 'flags'"],
    ["an option without a value", attributeXml("test_X", "picklist", '<optionset Name="s"><OptionSetType>picklist</OptionSetType><options><option /></options></optionset>'), "option: attribute value is missing or empty"],
    ["a label without a language", attributeXml("test_X", "int").replace(' languagecode="1033" /></displayname', " /></displayname"), "displayname: attribute languagecode is missing or empty"],
    ["a Type element twice", attributeXml("test_X", "int").replace("<Type>int</Type>", "<Type>int</Type><Type>bigint</Type>"), "Type[2]: <Type> appears 2 times; it may appear once"],
  ])("a column with %s", (_case, column, message) => {
    expectRefused(widgetWith(column), "customizations.xml: ImportExportXml/Entities/Entity/EntityInfo/entity/attributes/attribute[@PhysicalName='test_X']", message);
  });

  test("a key on a column the table does not have, and an empty key", () => {
    const key = (columns: string) =>
      `<EntityKeys><EntityKey><Name>test_key</Name><LogicalName>test_key</LogicalName><EntityKeyAttributes>${columns}</EntityKeyAttributes></EntityKey></EntityKeys>`;
    const table = (extra: string) => solutionZip({ "customizations.xml": customizationsXml({ entities: [entityXml("test_Widget", [PRIMARY_KEY, PRIMARY_NAME], extra)] }) });
    expectRefused(table(key("<AttributeName>test_missing</AttributeName>")), "EntityKey/EntityKeyAttributes/AttributeName: key column 'test_missing' is not a column of the table");
    expectRefused(table(key("")), "EntityKeys/EntityKey: a key needs at least one <EntityKeyAttributes/AttributeName>");
  });

  test.each([
    ["a version that is not one", solutionXml({ version: "one" }), "solution.xml: ImportExportXml/SolutionManifest/Version: 'one' is not a version"],
    ["Managed 3", solutionXml({ managed: "3" }), "SolutionManifest/Managed: <Managed> 3 is above 2"],
    ["a root component with neither name nor id", solutionXml({ rootComponents: '<RootComponent type="1" behavior="0" />' }), "RootComponents/RootComponent: has neither schemaName nor id"],
    ["a root component behavior 5", solutionXml({ rootComponents: '<RootComponent type="1" schemaName="x" behavior="5" />' }), "behavior 5 is above 2"],
    ["a root component id that is not a GUID", solutionXml({ rootComponents: '<RootComponent type="20" id="{nope}" />' }), "id '{nope}' is not a GUID"],
    ["a customization prefix of one letter", solutionXml().replace("<CustomizationPrefix>test", "<CustomizationPrefix>t"), "Publisher/CustomizationPrefix: 't' is not a prefix"],
    ["no UniqueName", solutionXml().replace("<UniqueName>TestSolution</UniqueName>", ""), "solution.xml: ImportExportXml/SolutionManifest: <UniqueName> is missing"],
  ])("solution.xml with %s", (_case, xml, message) => {
    expectRefused(solutionZip({ "solution.xml": xml }), message);
  });

  test("a web resource whose file is not in the zip", () => {
    const resources = `<optionsets /><WebResources><WebResource><WebResourceId>{cd98d4c6-4a21-ec11-b1b6-000d3af6f140}</WebResourceId>
      <Name>test_/form.js</Name><DisplayName>form</DisplayName><WebResourceType>3</WebResourceType>
      <FileName>/WebResources/test_formjsCD98D4C6-4A21-EC11-B1B6-000D3AF6F140</FileName></WebResource></WebResources>`;
    const customizations = customizationsXml({ root: resources });
    expectRefused(solutionZip({ "customizations.xml": customizations }), "WebResources/WebResource/FileName: names '/WebResources/test_formjsCD98D4C6-4A21-EC11-B1B6-000D3AF6F140', which is not in the zip");
    const withFile = readSolutionZip(
      solutionZip({ "customizations.xml": customizations, "WebResources/test_formjsCD98D4C6-4A21-EC11-B1B6-000D3AF6F140": "var x;" }),
    );
    expect(withFile.webResources[0]).toMatchObject({ id: "cd98d4c6-4a21-ec11-b1b6-000d3af6f140", name: "test_/form.js", content: strToU8("var x;") });
    expectRefused(solutionZip({ "customizations.xml": customizations.replace("<WebResourceType>3", "<WebResourceType>42") }), "<WebResourceType> 42 is above 12");
  });

  test("a custom control whose name does not match its manifest, or whose manifest is missing", () => {
    const controls = `<optionsets /><CustomControls><CustomControl><Name>test_CoSell.Section</Name>
      <FileName>/Controls/test_CoSell.Section/ControlManifest.xml</FileName></CustomControl></CustomControls>`;
    const customizations = customizationsXml({ root: controls });
    const manifest = (constructor: string) =>
      `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><manifest><control namespace="CoSell" constructor="${constructor}" version="1.0.0"><resources><code path="bundle.js" order="1"/></resources></control></manifest>`;
    expectRefused(solutionZip({ "customizations.xml": customizations }), "CustomControl/FileName: names '/Controls/test_CoSell.Section/ControlManifest.xml', which is not in the zip");
    expectRefused(
      solutionZip({ "customizations.xml": customizations, "Controls/test_CoSell.Section/ControlManifest.xml": manifest("Other") }),
      "CustomControl/Name: 'test_CoSell.Section' does not match the manifest's control CoSell.Other",
    );
    const read = readSolutionZip(
      solutionZip({
        "customizations.xml": customizations,
        "Controls/test_CoSell.Section/ControlManifest.xml": manifest("Section"),
        "Controls/test_CoSell.Section/bundle.js": "bundle",
        "Controls/test_CoSell.SectionTwo/bundle.js": "another control's",
      }),
    );
    expect([...(read.customControls[0]?.files.keys() ?? [])]).toEqual([
      "Controls/test_CoSell.Section/ControlManifest.xml",
      "Controls/test_CoSell.Section/bundle.js",
    ]);
  });

  test("environment variables that are malformed", () => {
    const definition = (schema: string, type = "100000000") =>
      `<environmentvariabledefinition schemaname="${schema}"><displayname default="D" /><type>${type}</type></environmentvariabledefinition>`;
    const folder = "environmentvariabledefinitions/test_Url";
    expectRefused(
      solutionZip({ [`${folder}/environmentvariabledefinition.xml`]: definition("test_Other") }),
      "environmentvariabledefinition.xml: environmentvariabledefinition[@schemaname='test_Other']: schemaname 'test_Other' does not match its folder 'test_Url'",
    );
    expectRefused(solutionZip({ [`${folder}/environmentvariabledefinition.xml`]: definition("test_Url", "7") }), "/type: <type> 7 is below 100000000");
    expectRefused(
      solutionZip({ [`${folder}/environmentvariabledefinition.xml`]: definition("test_Url"), [`${folder}/environmentvariablevalues.json`]: "{ nope" }),
      `${folder}/environmentvariablevalues.json: is not valid JSON`,
    );
    expectRefused(
      solutionZip({
        [`${folder}/environmentvariabledefinition.xml`]: definition("test_Url"),
        [`${folder}/environmentvariablevalues.json`]: JSON.stringify({ environmentvariablevalues: { environmentvariablevalue: { value: 5 } } }),
      }),
      `${folder}/environmentvariablevalues.json: environmentvariablevalues/environmentvariablevalue/value: Invalid input: expected string`,
    );
    expectRefused(solutionZip({ [`${folder}/environmentvariablevalues.json`]: "{}" }), "a value file without its environmentvariabledefinition.xml");
  });

  test("a role privilege with an unknown depth", () => {
    const roles = `<Roles><Role id="{346c8295-a669-f011-bec2-00224823101f}" name="Seller"><RolePrivileges>
      <RolePrivilege name="prvReadOpportunity" level="Everywhere" /></RolePrivileges></Role></Roles>`;
    const customizations = customizationsXml().replace("<Roles></Roles>", roles);
    expectRefused(
      solutionZip({ "customizations.xml": customizations }),
      "customizations.xml: ImportExportXml/Roles/Role[@name='Seller']/RolePrivileges/RolePrivilege[@name='prvReadOpportunity']: unknown privilege level 'Everywhere'",
    );
  });

  test("a form without a <form>, and a formid that is not a GUID", () => {
    const form = (id: string, body: string) =>
      `<FormXml><forms type="main"><systemform><formid>${id}</formid>${body}</systemform></forms></FormXml>`;
    const table = (formXml: string) =>
      solutionZip({
        "customizations.xml": customizationsXml({
          entities: [entityXml("test_Widget", [PRIMARY_KEY, PRIMARY_NAME]).replace("<RibbonDiffXml />", `${formXml}<RibbonDiffXml />`)],
        }),
      });
    expectRefused(table(form("{e8d67922-2a89-4277-a0a5-31109ddbb9f2}", "")), "FormXml/forms/systemform: <form> is missing");
    expectRefused(table(form("42", "<form />")), "systemform/formid: formid '42' is not a GUID");
  });
});

test("a table with 200 columns reads whole", () => {
  const zip = widgetWith(
    ...Array.from({ length: 200 }, (_, i) => attributeXml(`test_Column${i}`, "nvarchar", "<Format>text</Format><MaxLength>100</MaxLength>")),
  );
  const solution = readSolutionZip(zip);
  expect(solution.entities[0]?.attributes).toHaveLength(202);
});
