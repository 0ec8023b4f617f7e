/** `$orderby` and `$select` parsing, plus a `$select` projection helper. */
import type { OrderByItem } from "./ast";
import { ODataSyntaxError } from "./errors";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORBIDDEN_NAMES = new Set(["__proto__", "constructor", "prototype"]);

interface Item {
  readonly text: string;
  readonly position: number;
}

/** Splits on commas, trimming each item and remembering where it starts in the original text. */
function splitItems(text: string, option: string): Item[] {
  if (text.trim() === "") throw new ODataSyntaxError(`${option} is empty`, 0, text);
  const items: Item[] = [];
  let start = 0;
  for (const raw of text.split(",")) {
    const lead = raw.length - raw.trimStart().length;
    const item = raw.trim();
    if (item === "") throw new ODataSyntaxError(`empty item in ${option}`, start + lead, text);
    items.push({ text: item, position: start + lead });
    start += raw.length + 1;
  }
  return items;
}

function parsePath(item: Item, whole: string): string[] {
  const segments = item.text.split("/");
  let offset = item.position;
  for (const seg of segments) {
    if (!IDENTIFIER.test(seg)) throw new ODataSyntaxError(`'${seg}' is not a valid property name`, offset, whole);
    if (FORBIDDEN_NAMES.has(seg)) throw new ODataSyntaxError(`'${seg}' is not a valid property name`, offset, whole);
    offset += seg.length + 1;
  }
  return segments;
}

/** `createdDateTime desc, id` → [{path:["createdDateTime"],direction:"desc"},{path:["id"],direction:"asc"}]. */
export function parseOrderBy(text: string): OrderByItem[] {
  return splitItems(text, "$orderby").map((item) => {
    const parts = item.text.split(/\s+/);
    if (parts.length > 2) throw new ODataSyntaxError(`unexpected '${parts[2]}' in $orderby`, item.position + item.text.indexOf(parts[2] as string, (parts[0] as string).length), text);
    const direction = (parts[1] ?? "asc").toLowerCase();
    if (direction !== "asc" && direction !== "desc")
      throw new ODataSyntaxError(`expected 'asc' or 'desc' but found '${parts[1]}'`, item.position + item.text.lastIndexOf(parts[1] as string), text);
    return { path: parsePath({ text: parts[0] as string, position: item.position }, text), direction };
  });
}

/**
 * `id, status, customerProfile/address` → ["id", "status", "customerProfile/address"]: property
 * names (or `/` paths into complex properties) in the order given, duplicates dropped.
 */
export function parseSelect(text: string): string[] {
  const seen = new Set<string>();
  for (const item of splitItems(text, "$select")) seen.add(parsePath(item, text).join("/"));
  return [...seen];
}

/** Projects a row onto `$select` paths (as parseSelect returns them); missing properties are omitted. */
export function selectProperties(row: Readonly<Record<string, unknown>>, select: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of select) {
    const path = entry.split("/");
    let source: unknown = row;
    let target: Record<string, unknown> = out;
    for (let i = 0; i < path.length; i++) {
      const key = path[i] as string;
      if (source === null || typeof source !== "object" || Array.isArray(source) || !Object.prototype.hasOwnProperty.call(source, key)) break;
      source = (source as Record<string, unknown>)[key];
      if (i === path.length - 1) {
        target[key] = source;
      } else {
        const next = target[key];
        if (next === null || typeof next !== "object") {
          if (source === null || typeof source !== "object" || Array.isArray(source)) {
            target[key] = source;
            break;
          }
          target[key] = {};
        }
        target = target[key] as Record<string, unknown>;
      }
    }
  }
  return out;
}
