/**
 * Partner Center paths of the mapping (`details/dealValue`, `customerProfile/team/0/email`,
 * `@microsoft/trackingInfo/microsoftMsxId`) and the JSON Patch operations that set them.
 *
 * Written by hand rather than with a JSON Patch library: the bridge needs the *ops* (add where the
 * member is missing, replace where it exists, whole sub-objects where a parent is missing or null),
 * which libraries do not produce; applying `add`/`replace` is a few lines.
 */
import type { JsonPatchOp, JsonValue } from "../partner-center/model";
import { isJsonObject } from "./json";

/** Paths prefixed with this read Microsoft's related referral on the same engagement (read-only). */
export const MICROSOFT_PREFIX = "@microsoft/";

export const PATH_PATTERN = /^(@microsoft\/)?[A-Za-z][A-Za-z0-9]*(\/([A-Za-z][A-Za-z0-9]*|\d+))*$/;

export interface PartnerCenterPath {
  readonly text: string;
  readonly source: "referral" | "microsoft";
  readonly segments: readonly string[];
}

export function parsePath(text: string): PartnerCenterPath {
  if (!PATH_PATTERN.test(text)) throw new RangeError(`not a Partner Center path: ${text}`);
  const microsoft = text.startsWith(MICROSOFT_PREFIX);
  const rest = microsoft ? text.slice(MICROSOFT_PREFIX.length) : text;
  return { text, source: microsoft ? "microsoft" : "referral", segments: rest.split("/") };
}

const isIndex = (segment: string) => /^\d+$/.test(segment);

export function toPointer(segments: readonly string[]): string {
  return segments.map((s) => `/${s.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

export function getAt(doc: unknown, segments: readonly string[]): unknown {
  let current: unknown = doc;
  for (const segment of segments) {
    if (Array.isArray(current) && isIndex(segment)) current = current[Number(segment)];
    else if (typeof current === "object" && current !== null && !Array.isArray(current))
      current = (current as Record<string, unknown>)[segment];
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/** Builds the value that makes `segments` hold `value` starting from nothing. */
function build(segments: readonly string[], value: JsonValue): JsonValue {
  let out = value;
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i] as string;
    out = isIndex(segment) ? [out] : { [segment]: out };
  }
  return out;
}

/**
 * The one op that makes `doc` hold `value` at `segments`: `replace` where the member exists,
 * `add` where it is missing, and at the first missing or null parent an `add`/`replace` of the
 * whole sub-tree.
 */
export function opToSet(doc: unknown, segments: readonly string[], value: JsonValue): JsonPatchOp {
  let current: unknown = doc;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const isLast = i === segments.length - 1;
    const rest = segments.slice(i + 1);
    const here = segments.slice(0, i + 1);
    if (Array.isArray(current)) {
      const index = isIndex(segment) ? Number(segment) : Number.NaN;
      if (Number.isNaN(index) || index > current.length) {
        // Cannot address it as written: append instead.
        return { op: "add", path: toPointer([...segments.slice(0, i), "-"]), value: build(rest, value) };
      }
      if (index === current.length) return { op: "add", path: toPointer(here), value: build(rest, value) };
      const child: unknown = current[index];
      if (isLast) return { op: "replace", path: toPointer(here), value };
      if (child === null || typeof child !== "object") {
        return { op: "replace", path: toPointer(here), value: build(rest, value) };
      }
      current = child;
      continue;
    }
    const obj = current as Record<string, unknown>;
    const child = obj[segment];
    if (child === undefined) return { op: "add", path: toPointer(here), value: build(rest, value) };
    if (isLast) return { op: "replace", path: toPointer(here), value };
    if (child === null || typeof child !== "object") {
      return { op: "replace", path: toPointer(here), value: build(rest, value) };
    }
    current = child;
  }
  // Empty path: replace the whole document (never produced by the mapping).
  return { op: "replace", path: "", value };
}

function unescape(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}

export class PatchApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatchApplyError";
  }
}

/** Applies add/replace ops to a copy of `doc` (all or nothing: the input is never touched). */
export function applyOps<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const root = structuredClone(doc) as unknown;
  for (const op of ops) {
    const segments = op.path.split("/").slice(1).map(unescape);
    if (segments.length === 0) throw new PatchApplyError("whole-document ops are not used by the bridge");
    const parent = getAt(root, segments.slice(0, -1));
    const last = segments[segments.length - 1] as string;
    const value = structuredClone(op.value);
    if (Array.isArray(parent)) {
      if (last === "-" && op.op === "add") parent.push(value);
      else if (isIndex(last) && op.op === "add" && Number(last) <= parent.length) parent.splice(Number(last), 0, value);
      else if (isIndex(last) && op.op === "replace" && Number(last) < parent.length) parent[Number(last)] = value;
      else throw new PatchApplyError(`cannot ${op.op} at ${op.path}`);
    } else if (isJsonObject(parent)) {
      if (op.op === "replace" && !(last in parent)) throw new PatchApplyError(`cannot replace missing ${op.path}`);
      parent[last] = value;
    } else {
      throw new PatchApplyError(`no parent for ${op.path}`);
    }
  }
  return root as T;
}
