/**
 * Components whose content lives beside customizations.xml in the zip: web resources
 * (`<WebResources>` + the file named by `FileName`), PCF controls (`<CustomControls>` + the
 * control's folder) and environment variables (`environmentvariabledefinitions/<schema>/`).
 * Security roles live in customizations.xml alone.
 */
import { z } from "zod";
import type { SolutionArchive } from "./archive";
import type {
  CustomControlContents,
  EnvironmentVariableDefinitionContents,
  RoleContents,
  WebResourceContents,
} from "./types";
import { SolutionReadError } from "./types";
import {
  checkSchemaName,
  labels,
  normaliseGuid,
  optionalFlag,
  parseGuid,
  pickLabel,
  requiredInteger,
  requiredText,
} from "./values";
import { decodeText, parseXml, type XmlElement } from "./xml";

/** webresourcetype: 1 HTML, 2 CSS, 3 JScript, 4 XML, 5 PNG, 6 JPG, 7 GIF, 8 XAP, 9 XSL, 10 ICO, 11 SVG, 12 RESX. */
const WEB_RESOURCE_TYPES = { min: 1, max: 12 };
/** 100000000 String, …001 Number, …002 Boolean, …003 JSON, …004 Data source, …005 Secret. */
const ENVIRONMENT_VARIABLE_TYPES = { min: 100_000_000, max: 100_000_005 };
const PRIVILEGE_DEPTHS = new Set(["Basic", "Local", "Deep", "Global"]);

export function readWebResources(root: XmlElement, archive: SolutionArchive): WebResourceContents[] {
  const names = new Set<string>();
  return root.list("WebResources/WebResource").map((element) => {
    const id = parseGuid(element.required("WebResourceId"), requiredText(element, "WebResourceId"), "WebResourceId");
    const name = requiredText(element, "Name");
    if (names.has(name.toLowerCase())) element.fail(`web resource '${name}' appears twice`);
    names.add(name.toLowerCase());
    const displayName = element.one("DisplayName")?.text.trim() || undefined;
    const webResourceType = requiredInteger(element, "WebResourceType", WEB_RESOURCE_TYPES);
    const fileName = element.one("FileName")?.text.trim() || undefined;
    let content: Uint8Array | undefined;
    if (fileName !== undefined) {
      const file =
        archive.get(fileName) ?? element.required("FileName").fail(`names '${fileName}', which is not in the zip`);
      content = file.bytes;
    }
    return {
      id,
      name,
      ...(displayName === undefined ? {} : { displayName }),
      webResourceType,
      ...(fileName === undefined ? {} : { fileName }),
      ...(content === undefined ? {} : { content }),
    };
  });
}

export function readCustomControls(root: XmlElement, archive: SolutionArchive): CustomControlContents[] {
  const names = new Set<string>();
  return root.list("CustomControls/CustomControl").map((element) => {
    const name = requiredText(element, "Name");
    if (names.has(name.toLowerCase())) element.fail(`custom control '${name}' appears twice`);
    names.add(name.toLowerCase());
    const fileName = requiredText(element, "FileName");
    const manifest =
      archive.get(fileName) ?? element.required("FileName").fail(`names '${fileName}', which is not in the zip`);
    const manifestXml = decodeText(manifest.name, manifest.bytes).replace(/^\uFEFF/, "");
    const control = parseXml(manifest.name, manifestXml, "manifest").required("control");
    const namespace = control.requiredAttribute("namespace");
    const constructor = control.requiredAttribute("constructor");
    // The control's name is `<publisher prefix>_<namespace>.<constructor>`.
    if (!name.toLowerCase().endsWith(`_${namespace}.${constructor}`.toLowerCase())) {
      element.required("Name").fail(`'${name}' does not match the manifest's control ${namespace}.${constructor}`);
    }
    const folder = manifest.name.includes("/") ? manifest.name.slice(0, manifest.name.lastIndexOf("/")) : "";
    const files = new Map<string, Uint8Array>();
    for (const file of folder === "" ? [manifest] : archive.under(folder)) files.set(file.name, file.bytes);
    return { name, manifestPath: manifest.name, manifestXml, files };
  });
}

export function readRoles(root: XmlElement): RoleContents[] {
  return root.list("Roles/Role").map((element) => {
    const name = element.requiredAttribute("name");
    const rawId = element.attribute("id");
    const privileges = element.list("RolePrivileges/RolePrivilege").map((privilege) => {
      const level = privilege.requiredAttribute("level");
      if (!PRIVILEGE_DEPTHS.has(level)) {
        privilege.fail(`unknown privilege level '${level}' (Basic, Local, Deep, Global)`);
      }
      return { name: privilege.requiredAttribute("name"), level };
    });
    return { ...(rawId === undefined ? {} : { id: parseGuid(element, rawId, "id") }), name, privileges };
  });
}

const ENVIRONMENT_VARIABLE_FOLDER = "environmentvariabledefinitions";
const DEFINITION_FILE = "environmentvariabledefinition.xml";
const VALUES_FILE = "environmentvariablevalues.json";

const ValueRowSchema = z
  .object({ "@environmentvariablevalueid": z.string().optional(), value: z.string() })
  .passthrough();
const ValuesFileSchema = z.object({
  environmentvariablevalues: z.object({
    environmentvariablevalue: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]),
  }),
});

/**
 * Definitions from their own folders (modern exports) and from a root
 * `<environmentvariabledefinitions>` in customizations.xml (older ones), each with the value
 * from `environmentvariablevalues.json` when the export carries one.
 */
export function readEnvironmentVariables(
  root: XmlElement,
  archive: SolutionArchive,
  languageCode: number,
): EnvironmentVariableDefinitionContents[] {
  const bySchemaName = new Map<string, EnvironmentVariableDefinitionContents>();
  const add = (element: XmlElement, definition: EnvironmentVariableDefinitionContents): void => {
    const key = definition.schemaName.toLowerCase();
    if (bySchemaName.has(key)) element.fail(`environment variable '${definition.schemaName}' is defined twice`);
    bySchemaName.set(key, definition);
  };

  for (const element of root.list("environmentvariabledefinitions/environmentvariabledefinition")) {
    add(element, readDefinition(element, languageCode));
  }

  type ZipFile = { name: string; bytes: Uint8Array };
  const folders = new Map<string, { definition?: ZipFile; values?: ZipFile }>();
  for (const file of archive.under(ENVIRONMENT_VARIABLE_FOLDER)) {
    const parts = file.name.split("/");
    const folder = parts[1] ?? "";
    const leaf = (parts[2] ?? "").toLowerCase();
    if (parts.length !== 3 || (leaf !== DEFINITION_FILE && leaf !== VALUES_FILE)) continue;
    const entry = folders.get(folder.toLowerCase()) ?? {};
    if (leaf === DEFINITION_FILE) entry.definition = file;
    else entry.values = file;
    folders.set(folder.toLowerCase(), entry);
  }

  for (const [folder, { definition, values }] of folders) {
    if (definition === undefined) {
      throw new SolutionReadError("a value file without its environmentvariabledefinition.xml", values?.name ?? folder);
    }
    const text = decodeText(definition.name, definition.bytes);
    const element = parseXml(definition.name, text, "environmentvariabledefinition");
    const read = readDefinition(element, languageCode);
    if (read.schemaName.toLowerCase() !== folder) {
      element.fail(`schemaname '${read.schemaName}' does not match its folder '${definition.name.split("/")[1]}'`);
    }
    add(element, values === undefined ? read : { ...read, value: readValue(values) });
  }
  return [...bySchemaName.values()];
}

function readDefinition(element: XmlElement, languageCode: number): EnvironmentVariableDefinitionContents {
  const schemaName = checkSchemaName(element, element.requiredAttribute("schemaname"), "schemaname");
  const displayNameElement = element.required("displayname");
  const displayName =
    (displayNameElement.attribute("default")?.trim() || pickLabel(labels(displayNameElement, "label"), languageCode)) ||
    displayNameElement.fail("has neither a default nor a label");
  const descriptionElement = element.one("description");
  const description =
    descriptionElement === undefined
      ? undefined
      : descriptionElement.attribute("default") ?? pickLabel(labels(descriptionElement, "label"), languageCode);
  const type = requiredInteger(element, "type", ENVIRONMENT_VARIABLE_TYPES);
  // Values are kept as written (no trimming): a default is data.
  const defaultElement = element.one("defaultvalue");
  return {
    schemaName,
    displayName,
    ...(description === undefined ? {} : { description }),
    type,
    ...(defaultElement === undefined ? {} : { defaultValue: defaultElement.text }),
    isRequired: optionalFlag(element, "isrequired", false),
  };
}

function readValue(file: { name: string; bytes: Uint8Array }): { id?: string; value: string } {
  let json: unknown;
  try {
    json = JSON.parse(decodeText(file.name, file.bytes).replace(/^\uFEFF/, ""));
  } catch (cause) {
    throw new SolutionReadError("is not valid JSON", file.name, { cause });
  }
  const values = ValuesFileSchema.safeParse(json);
  if (!values.success) {
    throw new SolutionReadError("has no environmentvariablevalues/environmentvariablevalue", file.name, {
      cause: values.error,
    });
  }
  // One value is written as an object; a list would mean several current values.
  const rows = values.data.environmentvariablevalues.environmentvariablevalue;
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length !== 1) {
    throw new SolutionReadError(`holds ${list.length} values; a variable has exactly one current value`, file.name);
  }
  const parsed = ValueRowSchema.safeParse(list[0]);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = `environmentvariablevalues/environmentvariablevalue/${issue?.path.join("/") ?? ""}`;
    throw new SolutionReadError(
      `${where}: ${issue?.message ?? "is malformed"}`,
      file.name,
      { cause: parsed.error },
    );
  }
  const row = parsed.data;
  const rawId = row["@environmentvariablevalueid"];
  if (rawId === undefined) return { value: row.value };
  const id = normaliseGuid(rawId);
  if (id === undefined) throw new SolutionReadError(`@environmentvariablevalueid '${rawId}' is not a GUID`, file.name);
  return { id, value: row.value };
}

