/**
 * The rules the XSD cannot express, checked on the package as read back from its bytes:
 *  - prefix: every custom name carries the publisher's prefix (`cosell_`);
 *  - option-range: option values of our choices lie in the publisher's range (OPTION_VALUE_RANGE);
 *  - crm-prefix: no name starts with `crm_` (the lookahead the xmllint copy of FormXml.xsd lost);
 *  - managed-flag: solution.xml says managed in the managed zip, unmanaged in the other;
 *  - version: solution.xml and the control manifest carry the product version;
 *  - reference: every root component, web resource file and control manifest exists in the zip;
 *  - content-types: [Content_Types].xml covers every file of the zip;
 *  - primary-key: a table we create has its primary key named `<table>id`, as Dataverse names it,
 *    and no other column of the table takes that name (Dataverse refuses such an import).
 */
import { OPTION_VALUE_RANGE, PRODUCT_VERSION, PUBLISHER, solutionVersion } from "@cosell/contract";
import { CONTENT_TYPES_PATH } from "../emit/content-types";
import { child, children, parseXml, path, textOf, type Node } from "../read";
import type { ValidationIssue } from "./errors";

const PREFIX = `${PUBLISHER.customizationPrefix}_`;

function label(node: Node): string {
  const key = node.attrs.PhysicalName ?? node.attrs.Name ?? node.attrs.name ?? node.attrs.schemaname ?? node.attrs.id;
  const inner = key ?? child(node, "Name")?.text ?? child(node, "formid")?.text;
  return inner ? `${node.name}[${inner}]` : node.name;
}

function where(file: string, trail: readonly Node[]): string {
  return `${file}: ${trail.map(label).join("/")}`;
}

/** Depth-first walk keeping the node trail (for messages that name the element). */
function* walkNodes(node: Node, trail: Node[] = []): Generator<{ node: Node; trail: Node[] }> {
  const here = [...trail, node];
  yield { node, trail: here };
  for (const c of node.children) yield* walkNodes(c, here);
}

export interface RuleOptions {
  readonly expectManaged: boolean;
  readonly expectedVersion?: string;
}

export function checkPackageRules(files: ReadonlyMap<string, Uint8Array>, options: RuleOptions): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (rule: string, element: string, message: string) => issues.push({ rule, element, message });
  const version = options.expectedVersion ?? PRODUCT_VERSION;

  const read = (name: string): Node | undefined => {
    const bytes = files.get(name);
    if (!bytes) {
      add("reference", name, "missing from the package");
      return undefined;
    }
    try {
      return parseXml(bytes);
    } catch (err) {
      add("xml", name, `not well-formed: ${(err as Error).message}`);
      return undefined;
    }
  };
  const solution = read("solution.xml");
  const customizations = read("customizations.xml");

  // managed-flag and version (solution.xml)
  if (solution) {
    const manifest = child(solution, "SolutionManifest");
    const managed = textOf(manifest, "Managed");
    const expected = options.expectManaged ? "1" : "0";
    if (managed !== expected)
      add("managed-flag", "solution.xml: ImportExportXml/SolutionManifest/Managed", `is ${managed ?? "absent"}, expected ${expected} in the ${options.expectManaged ? "managed" : "unmanaged"} package`);
    const v = textOf(manifest, "Version");
    if (v !== solutionVersion(version))
      add("version", "solution.xml: ImportExportXml/SolutionManifest/Version", `is ${v ?? "absent"}, expected ${solutionVersion(version)} (contract PRODUCT_VERSION ${version})`);
    const prefix = textOf(manifest && child(manifest, "Publisher"), "CustomizationPrefix");
    if (prefix !== PUBLISHER.customizationPrefix)
      add("prefix", "solution.xml: ImportExportXml/SolutionManifest/Publisher/CustomizationPrefix", `is ${prefix ?? "absent"}, expected ${PUBLISHER.customizationPrefix}`);
  }

  // crm_ anywhere a name is written, in every XML file
  for (const [name, bytes] of files) {
    if (!/\.xml$/i.test(name)) continue;
    let root: Node;
    try {
      root = parseXml(bytes);
    } catch {
      continue;
    }
    for (const { node, trail } of walkNodes(root)) {
      const names = [node.attrs.Name, node.attrs.name, node.attrs.PhysicalName, node.attrs.schemaName, node.attrs.schemaname];
      if (["Name", "LogicalName", "AttributeName", "UniqueName"].includes(node.name)) names.push(node.text);
      for (const n of names) if (n && /^crm_/i.test(n)) add("crm-prefix", where(name, trail), `name "${n}" starts with crm_, which Dataverse reserves`);
    }
  }

  if (customizations) checkCustomizations(customizations, add);

  // version of the control manifest(s)
  for (const [name, bytes] of files) {
    if (!/^Controls\/[^/]+\/ControlManifest\.xml$/.test(name)) continue;
    const control = child(parseXml(bytes), "control");
    const v = control?.attrs.version;
    if (v !== version) add("version", `${name}: manifest/control/@version`, `is ${v ?? "absent"}, expected ${version} (contract PRODUCT_VERSION)`);
  }

  // references: root components exist, files named in customizations.xml exist
  if (solution && customizations) checkReferences(solution, customizations, files, add);

  // content types cover every file
  const ct = files.get(CONTENT_TYPES_PATH);
  if (!ct) add("content-types", CONTENT_TYPES_PATH, "missing from the package");
  else {
    const types = parseXml(ct);
    const defaults = new Set(children(types, "Default").map((d) => (d.attrs.Extension ?? "").toLowerCase()));
    const overrides = new Set(children(types, "Override").map((o) => o.attrs.PartName ?? ""));
    for (const name of files.keys()) {
      if (name === CONTENT_TYPES_PATH) continue;
      const base = name.slice(name.lastIndexOf("/") + 1);
      const ext = base.includes(".") ? base.slice(base.lastIndexOf(".") + 1).toLowerCase() : "";
      if (!overrides.has(`/${name}`) && !defaults.has(ext))
        add("content-types", `${CONTENT_TYPES_PATH}: Types`, `no Default or Override covers ${name}`);
    }
  }
  return issues;
}

type Add = (rule: string, element: string, message: string) => void;

function needsPrefix(value: string | undefined): boolean {
  return !value || !value.toLowerCase().startsWith(PREFIX);
}

function checkCustomizations(root: Node, add: Add): void {
  const file = "customizations.xml";
  for (const { node, trail } of walkNodes(root)) {
    const at = () => where(file, trail);
    switch (node.name) {
      case "attribute": {
        if (textOf(node, "IsCustomField") !== "1") break;
        for (const n of [node.attrs.PhysicalName, textOf(node, "LogicalName")])
          if (needsPrefix(n)) add("prefix", at(), `custom column "${n ?? ""}" lacks the publisher prefix ${PREFIX}`);
        break;
      }
      case "EntityKey": {
        const n = textOf(node, "LogicalName") ?? textOf(node, "Name");
        if (needsPrefix(n)) add("prefix", at(), `alternate key "${n ?? ""}" lacks the publisher prefix ${PREFIX}`);
        break;
      }
      case "Entity": {
        // A table we create carries its properties (LocalizedCollectionNames); a shell does not.
        const entity = path(node, "EntityInfo", "entity")[0];
        if (!entity || !child(entity, "LocalizedCollectionNames")) break;
        if (needsPrefix(textOf(node, "Name")))
          add("prefix", at(), `custom table "${textOf(node, "Name") ?? ""}" lacks the publisher prefix ${PREFIX}`);
        checkPrimaryKey(textOf(node, "Name") ?? "", path(entity, "attributes", "attribute"), at(), add);
        break;
      }
      case "EntityRelationship": {
        const n = node.attrs.Name ?? "";
        if (!n.toLowerCase().includes(PREFIX)) add("prefix", at(), `relationship "${n}" names no ${PREFIX} table`);
        break;
      }
      case "WebResource":
      case "CustomControl": {
        const n = textOf(node, "Name");
        if (needsPrefix(n)) add("prefix", at(), `${node.name} "${n ?? ""}" lacks the publisher prefix ${PREFIX}`);
        break;
      }
      case "tab":
      case "section": {
        // Only what we add to a system form must be ours; skeletons of existing tabs keep their names.
        const added = node.attrs.solutionaction === "Added" || trail.some((t) => t.attrs.solutionaction === "Added");
        if (added && node.attrs.name !== undefined && needsPrefix(node.attrs.name))
          add("prefix", at(), `form ${node.name} "${node.attrs.name}" added to a system form lacks the publisher prefix ${PREFIX}`);
        break;
      }
      case "optionset": {
        const type = textOf(node, "OptionSetType");
        const isGlobal = textOf(node, "IsGlobal") === "1";
        if (isGlobal && needsPrefix(node.attrs.Name)) add("prefix", at(), `choice "${node.attrs.Name ?? ""}" lacks the publisher prefix ${PREFIX}`);
        if (type === "picklist") {
          for (const o of path(node, "options", "option")) {
            const v = Number(o.attrs.value);
            if (!Number.isInteger(v) || v < OPTION_VALUE_RANGE.min || v > OPTION_VALUE_RANGE.max)
              add("option-range", `${at()}/options/option[${o.attrs.value ?? ""}]`, `value ${o.attrs.value ?? ""} is outside the publisher's range ${OPTION_VALUE_RANGE.min}–${OPTION_VALUE_RANGE.max}`);
          }
        }
        break;
      }
    }
  }
}

/**
 * Dataverse names the primary key of a new table `<table logical name>id` and gives no other column
 * that name: a table whose column collides with its key, or whose key has another name, is not one a
 * real environment could have exported.
 */
function checkPrimaryKey(table: string, attributes: readonly Node[], at: string, add: Add): void {
  const expected = `${table.toLowerCase()}id`;
  const nameOf = (a: Node) => (textOf(a, "LogicalName") ?? a.attrs.PhysicalName ?? "").toLowerCase();
  const keys = attributes.filter((a) => textOf(a, "Type") === "primarykey");
  if (keys.length !== 1)
    add("primary-key", at, `table "${table}" has ${keys.length} primary key columns, expected one named ${expected}`);
  for (const k of keys)
    if (nameOf(k) !== expected)
      add("primary-key", `${at}/attribute[${k.attrs.PhysicalName ?? ""}]`, `table "${table}": primary key "${nameOf(k)}" must be named ${expected}, as Dataverse names it`);
  for (const a of attributes)
    if (textOf(a, "Type") !== "primarykey" && nameOf(a) === expected)
      add(
        "primary-key",
        `${at}/attribute[${a.attrs.PhysicalName ?? ""}]`,
        `table "${table}": column "${nameOf(a)}" takes the name of the table's primary key; rename the column`,
      );
}

function checkReferences(solution: Node, customizations: Node, files: ReadonlyMap<string, Uint8Array>, add: Add): void {
  const entities = new Set(path(customizations, "Entities", "Entity").map((e) => (textOf(e, "Name") ?? "").toLowerCase()));
  const optionSets = new Set(path(customizations, "optionsets", "optionset").map((o) => o.attrs.Name ?? ""));
  const webResources = path(customizations, "WebResources", "WebResource");
  const controls = path(customizations, "CustomControls", "CustomControl");
  const roles = new Set(path(customizations, "Roles", "Role").map((r) => (r.attrs.id ?? "").toLowerCase()));
  const known: Record<string, (r: Node) => boolean> = {
    "1": (r) => entities.has((r.attrs.schemaName ?? "").toLowerCase()),
    "9": (r) => optionSets.has(r.attrs.schemaName ?? ""),
    "20": (r) => roles.has((r.attrs.id ?? "").toLowerCase()),
    "61": (r) => webResources.some((w) => textOf(w, "Name") === r.attrs.schemaName),
    "66": (r) => controls.some((c) => textOf(c, "Name") === r.attrs.schemaName),
  };
  for (const r of path(solution, "SolutionManifest", "RootComponents", "RootComponent")) {
    const check = known[r.attrs.type ?? ""];
    const name = r.attrs.schemaName ?? r.attrs.id ?? "";
    if (check && !check(r))
      add("reference", `solution.xml: RootComponents/RootComponent[type ${r.attrs.type}, ${name}]`, "names nothing that customizations.xml defines");
  }
  for (const w of webResources) {
    const f = (textOf(w, "FileName") ?? "").replace(/^\//, "");
    if (!files.has(f)) add("reference", `customizations.xml: WebResources/WebResource[${textOf(w, "Name") ?? ""}]/FileName`, `${f} is not in the package`);
  }
  for (const c of controls) {
    const f = (textOf(c, "FileName") ?? "").replace(/^\//, "");
    if (!files.has(f)) add("reference", `customizations.xml: CustomControls/CustomControl[${textOf(c, "Name") ?? ""}]/FileName`, `${f} is not in the package`);
  }
}


