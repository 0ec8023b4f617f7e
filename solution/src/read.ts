/**
 * Reading a package back: unzip, and a minimal DOM over fast-xml-parser's ordered output. The
 * validator and the tests read the zip through this, never through the generator's own strings.
 */
import { XMLParser } from "fast-xml-parser";
import { unzipSync } from "fflate";

export interface Node {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly Node[];
  /** Concatenated text content of this element (not of descendants). */
  readonly text: string;
}

type Ordered = Array<Record<string, unknown>>;

function toNodes(items: Ordered): Node[] {
  const out: Node[] = [];
  for (const item of items) {
    const name = Object.keys(item).find((k) => k !== ":@");
    if (!name || name === "#text" || name.startsWith("?")) continue;
    const rawAttrs = (item[":@"] ?? {}) as Record<string, unknown>;
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawAttrs)) attrs[k.replace(/^@_/, "")] = String(v);
    const kids = (item[name] ?? []) as Ordered;
    const text = kids
      .filter((k) => "#text" in k)
      .map((k) => String(k["#text"]))
      .join("");
    out.push({ name, attrs, children: toNodes(kids), text });
  }
  return out;
}

/** Parses XML (a leading BOM is allowed) into its root element. */
export function parseXml(xml: string | Uint8Array): Node {
  const text = typeof xml === "string" ? xml : Buffer.from(xml).toString("utf8");
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    ignoreDeclaration: true,
  });
  const roots = toNodes(parser.parse(text.replace(/^\uFEFF/, "")) as Ordered);
  const root = roots[0];
  if (!root) throw new Error("no root element");
  return root;
}

export function child(node: Node, name: string): Node | undefined {
  return node.children.find((c) => c.name === name);
}

export function children(node: Node, name: string): Node[] {
  return node.children.filter((c) => c.name === name);
}

/** Follows a path of child names, e.g. `path(root, "Entities", "Entity")` → every match. */
export function path(node: Node, ...names: string[]): Node[] {
  let current: Node[] = [node];
  for (const n of names) current = current.flatMap((c) => children(c, n));
  return current;
}

export function textOf(node: Node | undefined, name: string): string | undefined {
  return node ? child(node, name)?.text : undefined;
}

/** Every descendant (depth first) with the path of names leading to it. */
export function* walk(node: Node, trail: string[] = []): Generator<{ node: Node; trail: string[] }> {
  const here = [...trail, node.name];
  yield { node, trail: here };
  for (const c of node.children) yield* walk(c, here);
}

export function unzipPackage(zip: Uint8Array): Map<string, Uint8Array> {
  const entries = unzipSync(zip);
  return new Map(Object.entries(entries));
}
