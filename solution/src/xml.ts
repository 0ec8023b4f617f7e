/**
 * A small XML tree and a deterministic writer. Dataverse exports are indented with two spaces,
 * write empty elements as `<X />` and attributes in a fixed order; the writer keeps the order it is
 * given and never reorders, so the generated files read like an export and diff line by line.
 * Hand-written (≈60 lines) rather than fast-xml-parser's builder: we need exact control of
 * `<X />` versus `<X></X>` and of attribute order, which exports are particular about.
 */

export interface XmlElement {
  readonly name: string;
  readonly attributes: ReadonlyArray<readonly [string, string]>;
  /** `undefined` = no content (`<X />`); a string = text content (`""` writes `<X></X>`). */
  readonly text?: string;
  readonly children: readonly XmlElement[];
}

export type Attributes = Record<string, string | number | boolean | undefined>;

function toAttributeList(attributes: Attributes | undefined): Array<readonly [string, string]> {
  if (!attributes) return [];
  const out: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined) continue;
    out.push([k, typeof v === "boolean" ? (v ? "true" : "false") : String(v)]);
  }
  return out;
}

type Child = XmlElement | false | null | undefined | readonly Child[];

function flatten(children: readonly Child[]): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of children) {
    if (!c) continue;
    if (Array.isArray(c)) out.push(...flatten(c as readonly Child[]));
    else out.push(c as XmlElement);
  }
  return out;
}

/** An element with children (falsy children are dropped, arrays are flattened). */
export function el(name: string, attributes?: Attributes, ...children: Child[]): XmlElement {
  return { name, attributes: toAttributeList(attributes), children: flatten(children) };
}

/** An element holding text; numbers and booleans are written as Dataverse writes them (1/0 for flags). */
export function leaf(name: string, value: string | number | boolean, attributes?: Attributes): XmlElement {
  const text = typeof value === "boolean" ? (value ? "1" : "0") : String(value);
  return { name, attributes: toAttributeList(attributes), text, children: [] };
}

export function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function escapeAttribute(s: string): string {
  return escapeText(s).replace(/"/g, "&quot;");
}

function renderInto(node: XmlElement, depth: number, lines: string[]): void {
  const pad = "  ".repeat(depth);
  const attrs = node.attributes.map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`).join("");
  if (node.children.length === 0) {
    lines.push(node.text === undefined ? `${pad}<${node.name}${attrs} />` : `${pad}<${node.name}${attrs}>${escapeText(node.text)}</${node.name}>`);
    return;
  }
  lines.push(`${pad}<${node.name}${attrs}>`);
  for (const child of node.children) renderInto(child, depth + 1, lines);
  lines.push(`${pad}</${node.name}>`);
}

/** The element as text, CRLF-free, no declaration (as environment exports write customizations.xml). */
export function renderXml(root: XmlElement): string {
  const lines: string[] = [];
  renderInto(root, 0, lines);
  return lines.join("\n") + "\n";
}

/** A fragment rendered without a trailing newline, for embedding (e.g. DependencyXml text). */
export function renderInline(node: XmlElement): string {
  const attrs = node.attributes.map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`).join("");
  if (node.children.length === 0)
    return node.text === undefined ? `<${node.name}${attrs}/>` : `<${node.name}${attrs}>${escapeText(node.text)}</${node.name}>`;
  return `<${node.name}${attrs}>${node.children.map(renderInline).join("")}</${node.name}>`;
}
