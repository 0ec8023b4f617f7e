/**
 * A small element tree over fast-xml-parser's ordered output. Every element knows where it sits
 * (file + element path), so a bad value can be reported the way an import log would name it:
 * `customizations.xml: ImportExportXml/Entities/Entity[2]/…/attribute[@PhysicalName='x']: …`.
 */
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { SolutionReadError } from "./types";

/** One node of fast-xml-parser's `preserveOrder` output: `{ tag: children, ":@": attributes }`. */
type OrderedNode = Record<string, unknown>;

const ATTRIBUTE_PREFIX = "@_";

const PARSER_OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  // A prefix is required: without one fast-xml-parser refuses attributes such as a PCF
  // manifest's `constructor` (its prototype-pollution guard).
  attributeNamePrefix: ATTRIBUTE_PREFIX,
  parseTagValue: false,
  parseAttributeValue: false,
  // Whitespace is kept so a `<form>` can be written back as it came; values are trimmed where read.
  trimValues: false,
  processEntities: true,
  // Needed for numeric character references (&#13;); named HTML entities are refused before parsing.
  htmlEntities: true,
  suppressEmptyNode: true,
} as const;

const parser = new XMLParser(PARSER_OPTIONS);
const builder = new XMLBuilder(PARSER_OPTIONS);

/** Elements better named by an attribute than by their position among siblings. */
const KEY_ATTRIBUTE: Readonly<Record<string, string>> = {
  attribute: "PhysicalName",
  optionset: "Name",
  EntityRelationship: "Name",
  environmentvariabledefinition: "schemaname",
  Role: "name",
  RolePrivilege: "name",
};

/** XML knows five named entities; anything else (&nbsp;) is a well-formedness error. */
const XML_ENTITIES = new Set(["amp", "lt", "gt", "quot", "apos"]);

export class XmlElement {
  readonly children: XmlElement[] = [];
  text = "";
  /** 1-based position among same-named siblings, and how many there are. */
  position = 1;
  siblingsNamed = 1;

  constructor(
    readonly file: string,
    readonly name: string,
    readonly attributes: Readonly<Record<string, string>>,
    readonly parent: XmlElement | undefined,
    private readonly ordered: OrderedNode,
  ) {}

  /** `ImportExportXml/Entities/Entity[2]/…` — the element as an import log names it. */
  get path(): string {
    const key = KEY_ATTRIBUTE[this.name];
    const keyValue = key === undefined ? undefined : this.attributes[key];
    let segment = this.name;
    if (key !== undefined && keyValue !== undefined) segment += `[@${key}='${keyValue}']`;
    else if (this.siblingsNamed > 1) segment += `[${this.position}]`;
    return this.parent ? `${this.parent.path}/${segment}` : segment;
  }

  /** Where an error is: `file: element/path` (or a child element of this one that is missing). */
  location(child?: string): string {
    return `${this.file}: ${this.path}${child === undefined ? "" : `/${child}`}`;
  }

  fail(message: string, options?: { child?: string; cause?: unknown }): never {
    throw new SolutionReadError(message, this.location(options?.child), { cause: options?.cause });
  }

  all(name: string): XmlElement[] {
    return this.children.filter((c) => c.name === name);
  }

  /** The single child element `name`, if any; twice is malformed (the schema allows it once). */
  one(name: string): XmlElement | undefined {
    const found = this.all(name);
    if (found.length > 1) found[1]?.fail(`<${name}> appears ${found.length} times; it may appear once`);
    return found[0];
  }

  required(name: string): XmlElement {
    return this.one(name) ?? this.fail(`<${name}> is missing`);
  }

  /** Follows a path of single children (`EntityInfo/entity/attributes`). */
  at(path: string): XmlElement | undefined {
    return path.split("/").reduce<XmlElement | undefined>((current, step) => current?.one(step), this);
  }

  /** Items of a list element (`attributes/attribute`): empty when the list is absent. */
  list(path: string): XmlElement[] {
    const steps = path.split("/");
    const item = steps.pop() ?? path;
    const container = steps.length === 0 ? this : this.at(steps.join("/"));
    return container?.all(item) ?? [];
  }

  attribute(name: string): string | undefined {
    return this.attributes[name];
  }

  requiredAttribute(name: string): string {
    const value = this.attributes[name];
    if (value === undefined || value.trim() === "") this.fail(`attribute ${name} is missing or empty`);
    return value;
  }

  /** The element written back as XML text (used for `<form>`, which the emulator keeps whole). */
  toXml(): string {
    return builder.build([this.ordered]) as string;
  }
}

/**
 * Decodes a zip entry as text: UTF-8 (BOM optional, as pac writes it; none in environment
 * exports) or UTF-16 with a BOM. Invalid UTF-8 is refused rather than replaced.
 */
export function decodeText(file: string, bytes: Uint8Array): string {
  try {
    if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le", { fatal: true }).decode(bytes);
    if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be", { fatal: true }).decode(bytes);
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new SolutionReadError("is not valid UTF-8 or UTF-16 text", file, { cause });
  }
}

/** Parses an XML document and checks its root element; `text` has already been decoded. */
export function parseXml(file: string, text: string, expectedRoot: string): XmlElement {
  const xml = text.replace(/^\uFEFF/, "");
  const markup = xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "").replace(/<!--[\s\S]*?-->/g, "");
  if (/<!DOCTYPE/i.test(markup)) {
    // .NET's XmlReader, which Dataverse uses, prohibits DTDs; they are also how entity bombs get in.
    throw new SolutionReadError("malformed XML: a DOCTYPE declaration is not allowed", file);
  }
  const verdict = XMLValidator.validate(xml);
  if (verdict !== true) {
    const { msg, line, col } = verdict.err;
    throw new SolutionReadError(`malformed XML at line ${line}, column ${col}: ${msg}`, file);
  }
  // The validator lets these through; an XML reader does not.
  if (/&(?!(?:[A-Za-z_][\w.-]*|#\d+|#x[0-9A-Fa-f]+);)/.test(markup)) {
    throw new SolutionReadError("malformed XML: a bare & (write &amp;)", file);
  }
  for (const match of markup.matchAll(/&([A-Za-z_][\w.-]*);/g)) {
    const entity = match[1] ?? "";
    if (!XML_ENTITIES.has(entity)) throw new SolutionReadError(`malformed XML: undefined entity &${entity};`, file);
  }
  let ordered: unknown;
  try {
    ordered = parser.parse(xml);
  } catch (cause) {
    // e.g. "Maximum nested tags exceeded": fast-xml-parser stops at 100 levels; real exports reach 19.
    const reason = cause instanceof Error ? `: ${cause.message}` : "";
    throw new SolutionReadError(`malformed XML${reason}`, file, { cause });
  }
  const roots = (ordered as OrderedNode[]).filter((node) => {
    const tag = tagOf(node);
    return tag !== undefined && !tag.startsWith("?") && tag !== "#text" && tag !== "#comment";
  });
  const strayText = (ordered as OrderedNode[]).some(
    (node) => tagOf(node) === "#text" && String(node["#text"]).trim() !== "",
  );
  if (roots.length !== 1 || strayText) {
    throw new SolutionReadError("malformed XML: a document has exactly one root element", file);
  }
  const root = toElement(file, roots[0] as OrderedNode, undefined);
  if (root.name !== expectedRoot) {
    throw new SolutionReadError(`the root element is <${root.name}>, expected <${expectedRoot}>`, file);
  }
  return root;
}

function tagOf(node: OrderedNode): string | undefined {
  return Object.keys(node).find((k) => k !== ":@");
}

function toElement(file: string, node: OrderedNode, parent: XmlElement | undefined): XmlElement {
  const name = tagOf(node) ?? "";
  const attributes = Object.fromEntries(
    Object.entries((node[":@"] as Record<string, string> | undefined) ?? {}).map(([key, value]) => [
      key.slice(ATTRIBUTE_PREFIX.length),
      value,
    ]),
  );
  const element = new XmlElement(file, name, attributes, parent, node);
  const counts = new Map<string, number>();
  for (const child of (node[name] as OrderedNode[] | undefined) ?? []) {
    const tag = tagOf(child);
    if (tag === "#text") element.text += String(child["#text"]);
    else if (tag !== undefined && tag !== "#comment" && !tag.startsWith("?")) {
      const childElement = toElement(file, child, element);
      const seen = (counts.get(tag) ?? 0) + 1;
      counts.set(tag, seen);
      childElement.position = seen;
      element.children.push(childElement);
    }
  }
  for (const child of element.children) child.siblingsNamed = counts.get(child.name) ?? 1;
  return element;
}
