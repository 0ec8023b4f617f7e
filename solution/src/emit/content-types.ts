/**
 * `[Content_Types].xml`, the OPC manifest of the zip: a `Default` per file extension present (xml is
 * always there) and an `Override` for each file without an extension (web resources), as exports
 * write it, with the UTF-8 BOM and declaration they carry.
 */
const NS = "http://schemas.openxmlformats.org/package/2006/content-types";
const OCTET = "application/octet-stream";

export const CONTENT_TYPES_PATH = "[Content_Types].xml";

export function contentTypesXml(paths: readonly string[]): string {
  const extensions = new Set<string>(["xml"]);
  const overrides: string[] = [];
  for (const p of paths) {
    if (p === CONTENT_TYPES_PATH) continue;
    const base = p.slice(p.lastIndexOf("/") + 1);
    const dot = base.lastIndexOf(".");
    if (dot > 0) extensions.add(base.slice(dot + 1).toLowerCase());
    else overrides.push(`/${p}`);
  }
  // xml first, then the others alphabetically: the order is fixed so the bytes are reproducible.
  const ordered = ["xml", ...[...extensions].filter((e) => e !== "xml").sort()];
  const defaults = ordered.map((e) => `<Default Extension="${e}" ContentType="${OCTET}" />`).join("");
  const over = overrides.sort().map((o) => `<Override PartName="${o}" ContentType="${OCTET}" />`).join("");
  return `\uFEFF<?xml version="1.0" encoding="utf-8"?><Types xmlns="${NS}">${defaults}${over}</Types>`;
}
