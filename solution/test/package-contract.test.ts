/**
 * The built zip, read back and parsed, against the contract: every column, choice value, key,
 * environment variable, form binding and root component. Expectations come from @cosell/contract
 * and the control's manifest, never from strings the generator wrote.
 */
import {
  ALTERNATE_KEYS,
  ENVIRONMENT_VARIABLES,
  FORM_SECTION,
  GLOBAL_CHOICES,
  LEAD_COLUMNS,
  LeadColumn,
  OPPORTUNITY_COLUMNS,
  OPTION_VALUE_RANGE,
  OpportunityColumn,
  PCF_CONTROL,
  PUBLISHER,
  SECURITY_ROLES,
  SOLUTION,
  SOLUTION_CATALOG_TABLE,
  WEB_RESOURCE,
  solutionVersion,
  type ColumnDefinition,
} from "@cosell/contract";
import { FORM_EVENT_HANDLERS } from "@cosell/webresources";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseControlManifest } from "../src/control-manifest";
import { child, parseXml, path as at, textOf, type Node } from "../src/read";
import { FIXTURE_INPUTS, buildFixture, text, type BuiltFixture } from "./helpers";

let fx: BuiltFixture;
let customizations: Node;
let solution: Node;
beforeAll(() => {
  fx = buildFixture();
  customizations = parseXml(text(fx.managed, "customizations.xml"));
  solution = parseXml(text(fx.managed, "solution.xml"));
});
afterAll(() => fx.cleanup());

const manifest = () => parseControlManifest(readFileSync(path.join(FIXTURE_INPUTS.controlDir, "ControlManifest.xml"), "utf8"));

function entity(name: string): Node {
  const e = at(customizations, "Entities", "Entity").find((x) => textOf(x, "Name")?.toLowerCase() === name.toLowerCase());
  if (!e) throw new Error(`entity ${name} not in customizations.xml`);
  return e;
}
const attributesOf = (e: Node) => at(e, "EntityInfo", "entity", "attributes", "attribute");
const attribute = (e: Node, logical: string) => attributesOf(e).find((a) => textOf(a, "LogicalName") === logical);

function expectColumn(e: Node, c: ColumnDefinition): void {
  const a = attribute(e, c.logicalName);
  expect(a).toBeDefined();
  expect(a!.attrs.PhysicalName).toBe(c.schemaName);
  expect(textOf(a, "IsCustomField")).toBe("1");
  expect(at(a!, "displaynames", "displayname")[0]?.attrs.description).toBe(c.displayName);
  const t = c.type;
  switch (t.kind) {
    case "text":
      expect(textOf(a, "Type")).toBe("nvarchar");
      expect(textOf(a, "MaxLength")).toBe(String(t.maxLength));
      expect(textOf(a, "Format")).toBe(t.format);
      break;
    case "memo":
      expect(textOf(a, "Type")).toBe("ntext");
      expect(textOf(a, "MaxLength")).toBe(String(t.maxLength));
      break;
    case "boolean": {
      expect(textOf(a, "Type")).toBe("bit");
      expect(textOf(a, "AppDefaultValue")).toBe(t.default ? "1" : "0");
      const options = at(a!, "optionset", "options", "option");
      expect(options.map((o) => [o.attrs.value, at(o, "labels", "label")[0]?.attrs.description])).toEqual([
        ["1", t.trueLabel],
        ["0", t.falseLabel],
      ]);
      break;
    }
    case "choice":
      expect(textOf(a, "Type")).toBe("picklist");
      expect(textOf(a, "OptionSetName")).toBe(GLOBAL_CHOICES[t.globalChoice].name);
      break;
    case "datetime":
      expect(textOf(a, "Type")).toBe("datetime");
      expect(textOf(a, "Format")).toBe("datetime");
      break;
  }
}

describe("solution.xml", () => {
  const manifestNode = () => child(solution, "SolutionManifest")!;
  test("identity, version and publisher come from the contract", () => {
    const m = manifestNode();
    expect(textOf(m, "UniqueName")).toBe(SOLUTION.uniqueName);
    expect(textOf(m, "Version")).toBe(solutionVersion());
    const p = child(m, "Publisher")!;
    expect(textOf(p, "UniqueName")).toBe(PUBLISHER.uniqueName);
    expect(textOf(p, "CustomizationPrefix")).toBe(PUBLISHER.customizationPrefix);
    expect(textOf(p, "CustomizationOptionValuePrefix")).toBe(String(PUBLISHER.optionValuePrefix));
  });

  test("root components: tables, choices, roles, web resource, control with their types and behaviours", () => {
    const roots = at(manifestNode(), "RootComponents", "RootComponent").map((r) => ({ ...r.attrs }));
    const roleIds = at(customizations, "Roles", "Role").map((r) => r.attrs.id);
    const expected = [
      { type: "1", schemaName: "opportunity", behavior: "2" },
      { type: "1", schemaName: "lead", behavior: "2" },
      { type: "1", schemaName: SOLUTION_CATALOG_TABLE.logicalName, behavior: "0" },
      ...Object.values(GLOBAL_CHOICES).map((c) => ({ type: "9", schemaName: c.name, behavior: "0" })),
      ...roleIds.map((id) => ({ type: "20", id, behavior: "0" })),
      { type: "61", schemaName: WEB_RESOURCE.name, behavior: "0" },
      { type: "66", schemaName: PCF_CONTROL.fullName, behavior: "0" },
    ];
    const key = (r: Record<string, string | undefined>) => `${r.type}|${r.schemaName ?? r.id}|${r.behavior}`;
    expect(roots.map(key).sort()).toEqual(expected.map(key).sort());
    expect(roleIds).toHaveLength(2);
    // Environment variable definitions travel as files, not root components (as in Microsoft's exports).
    expect(roots.some((r) => r.type === "380")).toBe(false);
  });
});

describe("columns", () => {
  test.each(OPPORTUNITY_COLUMNS.map((c) => [c.logicalName, c] as const))("opportunity %s", (_name, c) => {
    expectColumn(entity("Opportunity"), c);
  });
  test.each(LEAD_COLUMNS.map((c) => [c.logicalName, c] as const))("lead %s", (_name, c) => {
    expectColumn(entity("Lead"), c);
  });
  test("system tables carry only our columns (shells)", () => {
    expect(attributesOf(entity("Opportunity")).map((a) => textOf(a, "LogicalName")).sort()).toEqual(OPPORTUNITY_COLUMNS.map((c) => c.logicalName).sort());
    expect(attributesOf(entity("Lead")).map((a) => textOf(a, "LogicalName")).sort()).toEqual(LEAD_COLUMNS.map((c) => c.logicalName).sort());
  });
  test.each([SOLUTION_CATALOG_TABLE.primaryName, ...SOLUTION_CATALOG_TABLE.columns].map((c) => [c.logicalName, c] as const))(
    "catalogue %s",
    (_name, c) => expectColumn(entity(SOLUTION_CATALOG_TABLE.schemaName), c),
  );
  test("catalogue table: entity set, primary key and primary name as the contract says", () => {
    const e = entity(SOLUTION_CATALOG_TABLE.schemaName);
    const info = at(e, "EntityInfo", "entity")[0]!;
    expect(textOf(info, "EntitySetName")).toBe(SOLUTION_CATALOG_TABLE.entitySetName);
    const pk = attributesOf(e).filter((a) => textOf(a, "Type") === "primarykey");
    expect(pk.map((a) => textOf(a, "LogicalName"))).toEqual([SOLUTION_CATALOG_TABLE.primaryIdAttribute]);
    const primaryName = attributesOf(e).filter((a) => (textOf(a, "DisplayMask") ?? "").split("|").includes("PrimaryName"));
    expect(primaryName.map((a) => textOf(a, "LogicalName"))).toEqual([SOLUTION_CATALOG_TABLE.primaryName.logicalName]);
  });
});

describe("global choices", () => {
  test.each(Object.values(GLOBAL_CHOICES).map((c) => [c.name, c] as const))("%s: every value and label", (_n, choice) => {
    const set = at(customizations, "optionsets", "optionset").find((o) => o.attrs.Name === choice.name);
    expect(set).toBeDefined();
    expect(textOf(set, "IsGlobal")).toBe("1");
    const options = at(set!, "options", "option").map((o) => ({ value: Number(o.attrs.value), label: at(o, "labels", "label")[0]?.attrs.description }));
    expect(options).toEqual(choice.options.map((o) => ({ value: o.value, label: o.label })));
    for (const o of options) {
      expect(o.value).toBeGreaterThanOrEqual(OPTION_VALUE_RANGE.min);
      expect(o.value).toBeLessThanOrEqual(OPTION_VALUE_RANGE.max);
    }
  });
});

describe("alternate keys", () => {
  test.each(Object.values(ALTERNATE_KEYS).map((k) => [k.logicalName, k] as const))("%s", (_n, k) => {
    const name = k.table === SOLUTION_CATALOG_TABLE.logicalName ? SOLUTION_CATALOG_TABLE.schemaName : k.table;
    const keys = at(entity(name), "EntityInfo", "entity", "EntityKeys", "EntityKey");
    const key = keys.find((x) => textOf(x, "LogicalName") === k.logicalName);
    expect(key).toBeDefined();
    expect(at(key!, "EntityKeyAttributes", "AttributeName").map((a) => a.text)).toEqual([...k.attributes]);
  });
});

describe("environment variables", () => {
  test.each(ENVIRONMENT_VARIABLES.map((v) => [v.schemaName, v] as const))("%s: type and default", (_n, v) => {
    const file = `environmentvariabledefinitions/${v.schemaName}/environmentvariabledefinition.xml`;
    const def = parseXml(text(fx.managed, file));
    expect(def.attrs.schemaname).toBe(v.schemaName);
    expect(textOf(def, "type")).toBe(String(v.type));
    expect(textOf(def, "defaultvalue")).toBe(v.defaultValue === "" ? undefined : v.defaultValue);
    expect(child(def, "displayname")?.attrs.default).toBe(v.displayName);
  });
  test("no values are shipped: they belong to each environment", () => {
    expect([...fx.managed.keys()].filter((k) => k.endsWith("environmentvariablevalues.json"))).toEqual([]);
  });
});

describe("forms", () => {
  function mainForm(table: string): Node {
    const forms = at(entity(table), "FormXml", "forms").filter((f) => f.attrs.type === "main");
    const systemforms = forms.flatMap((f) => at(f, "systemform"));
    expect(systemforms).toHaveLength(1);
    return child(systemforms[0]!, "form")!;
  }
  const allNodes = (n: Node): Node[] => [n, ...n.children.flatMap(allNodes)];

  test.each([
    ["opportunity", "Opportunity", OpportunityColumn, OPPORTUNITY_COLUMNS, OpportunityColumn.syncWithPartnerCenter],
    ["lead", "Lead", LeadColumn, LEAD_COLUMNS, LeadColumn.referralId],
  ] as const)("%s main form hosts the control with its properties bound to the columns", (kind, table, keys, columns, host) => {
    const form = mainForm(table);
    const section = allNodes(form).find((n) => n.name === "section" && n.attrs.name === FORM_SECTION[kind].name);
    expect(section).toBeDefined();
    expect(at(section!, "labels", "label")[0]?.attrs.description).toBe(FORM_SECTION[kind].label);

    const controls = allNodes(section!).filter((n) => n.name === "control");
    expect(controls.map((c) => c.attrs.datafieldname).sort()).toEqual(columns.map((c) => c.logicalName).sort());
    for (const c of columns) {
      const control = controls.find((x) => x.attrs.datafieldname === c.logicalName)!;
      if (c.readOnlyOnForm) expect(control.attrs.disabled).toBe("true");
    }
    const hostControl = controls.find((c) => c.attrs.datafieldname === host)!;
    expect(hostControl.attrs.uniqueid).toMatch(/^\{[0-9a-f-]{36}\}$/);

    const description = at(form, "controlDescriptions", "controlDescription").find((d) => d.attrs.forControl === hostControl.attrs.uniqueid);
    expect(description).toBeDefined();
    const pcf = at(description!, "customControl").filter((c) => c.attrs.name === PCF_CONTROL.fullName);
    expect(pcf.map((c) => c.attrs.formFactor).sort()).toEqual(["0", "1", "2"]);
    const columnByKey: Record<string, string> = keys;
    const expected: Record<string, string> = {};
    for (const p of manifest().properties.filter((x) => x.usage === "bound"))
      if (columnByKey[p.name] && columns.some((c) => c.logicalName === columnByKey[p.name])) expected[p.name] = columnByKey[p.name]!;
    for (const c of pcf) {
      const params = child(c, "parameters")!.children;
      const bound = Object.fromEntries(params.filter((p) => p.attrs.static !== "true").map((p) => [p.name, p.text]));
      expect(bound).toEqual(expected);
      expect(params.find((p) => p.name === "formKind")?.text).toBe(kind);
    }
  });

  test("the opportunity form registers the library and the onLoad/onChange/onSave handlers with the execution context", () => {
    const form = mainForm("Opportunity");
    expect(at(form, "formLibraries", "Library").map((l) => l.attrs.name)).toEqual([WEB_RESOURCE.name]);
    const events = at(form, "events", "event");
    const handlers = events.flatMap((e) =>
      at(e, "Handlers", "Handler").map((h) => ({
        event: e.attrs.name,
        attribute: e.attrs.attribute,
        functionName: h.attrs.functionName,
        libraryName: h.attrs.libraryName,
        passExecutionContext: h.attrs.passExecutionContext,
      })),
    );
    for (const h of handlers) {
      expect(h.libraryName).toBe(WEB_RESOURCE.name);
      expect(h.passExecutionContext).toBe("true");
      expect(h.functionName?.startsWith(`${WEB_RESOURCE.handlerNamespace}.`)).toBe(true);
    }
    expect(handlers.find((h) => h.event === "onload")?.functionName).toBe(`${WEB_RESOURCE.handlerNamespace}.onLoad`);
    expect(handlers.find((h) => h.event === "onsave")?.functionName).toBe(`${WEB_RESOURCE.handlerNamespace}.onSave`);
    // exactly the handlers the form scripts declare, each on its column
    const declared = FORM_EVENT_HANDLERS.map((h) => [h.event, "column" in h ? h.column : undefined, h.functionName]);
    expect(handlers.map((h) => [h.event, h.attribute, h.functionName])).toEqual(declared);
    expect(handlers.filter((h) => h.event === "onchange").map((h) => h.attribute)).toContain(OpportunityColumn.syncWithPartnerCenter);
    // none of our read-only columns (only the bridge writes them) fires a seller's onChange
    for (const h of handlers.filter((x) => x.event === "onchange"))
      expect(OPPORTUNITY_COLUMNS.find((c) => c.logicalName === h.attribute)?.readOnlyOnForm ?? false).toBe(false);
  });

  test("the lead form carries no form library (the script is the opportunity's)", () => {
    expect(at(mainForm("Lead"), "formLibraries")).toHaveLength(0);
  });
});

describe("web resource, control and roles", () => {
  test("the form script ships under its name, byte for byte", () => {
    const wr = at(customizations, "WebResources", "WebResource");
    expect(wr.map((w) => textOf(w, "Name"))).toEqual([WEB_RESOURCE.name]);
    expect(textOf(wr[0], "WebResourceType")).toBe("3");
    const file = textOf(wr[0], "FileName")!.replace(/^\//, "");
    expect(Buffer.from(fx.managed.get(file)!)).toEqual(readFileSync(FIXTURE_INPUTS.formScript));
  });

  test("the control ships with every file of its build output", () => {
    const cc = at(customizations, "CustomControls", "CustomControl");
    expect(cc.map((c) => textOf(c, "Name"))).toEqual([PCF_CONTROL.fullName]);
    const folder = `Controls/${PCF_CONTROL.fullName}/`;
    const shipped = [...fx.managed.keys()].filter((k) => k.startsWith(folder)).map((k) => k.slice(folder.length)).sort();
    expect(shipped).toEqual(["ControlManifest.xml", "bundle.js", "strings/PartnerCenterSection.1033.resx"]);
    expect(textOf(cc[0], "FileName")).toBe(`/${folder}ControlManifest.xml`);
  });

  test("two roles: the bridge's and the seller's, both able to read the catalogue", () => {
    const roles = at(customizations, "Roles", "Role");
    expect(roles.map((r) => r.attrs.name).sort()).toEqual([SECURITY_ROLES.bridge.name, SECURITY_ROLES.seller.name].sort());
    const privileges = (name: string) => at(roles.find((r) => r.attrs.name === name)!, "RolePrivileges", "RolePrivilege").map((p) => p.attrs.name);
    const readCatalogue = `prvRead${SOLUTION_CATALOG_TABLE.schemaName}`;
    expect(privileges(SECURITY_ROLES.seller.name)).toContain(readCatalogue);
    const bridge = privileges(SECURITY_ROLES.bridge.name);
    for (const p of [readCatalogue, "prvReadOpportunity", "prvWriteOpportunity", "prvReadLead", "prvWriteLead", "prvReadAccount", "prvWriteAccount", "prvReadContact", "prvWriteContact", "prvReadUser", "prvReadTransactionCurrency", "prvReadEnvironmentVariableValue"])
      expect(bridge).toContain(p);
    expect(bridge.filter((p) => p?.startsWith("prvDelete"))).toEqual([]);
  });
});
