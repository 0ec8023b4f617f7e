/**
 * Resource paths of the Web API below `/api/data/v9.2/`: entity sets with keys
 * (`accounts(<guid>)`, `contacts(firstname='Joe',emailaddress1='a@b.c')`, `opportunities(cosell_referralid='O''Brien')`),
 * bound operations (`leads(<id>)/Microsoft.Dynamics.CRM.QualifyLead`), functions with named
 * parameters (`RetrieveFormattedImportJobResults(ImportJobId=<guid>)`) and metadata
 * (`EntityDefinitions(LogicalName='opportunity')/Attributes`). Quotes inside string literals are doubled.
 */
import { Errors } from "../errors";

export type KeyLiteral =
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "guid"; readonly value: string }
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "boolean"; readonly value: boolean }
  | { readonly kind: "null" };

export interface KeyPart {
  /** Absent for a bare primary key: `accounts(<guid>)`. */
  readonly name?: string;
  readonly value: KeyLiteral;
}

export interface PathSegment {
  readonly name: string;
  /** `undefined` when the segment has no parentheses; `[]` for `WhoAmI()`. */
  readonly key?: readonly KeyPart[];
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Parses a decoded resource path into segments; throws a 400 on bad syntax. */
export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let i = 0;
  const fail = (why: string) => Errors.querySyntax(`Bad Request - Error in query syntax: ${why} in '${path}'.`);
  while (i < path.length) {
    let name = "";
    while (i < path.length && path[i] !== "(" && path[i] !== "/") name += path[i++];
    if (name === "") throw fail("empty segment");
    let key: KeyPart[] | undefined;
    if (path[i] === "(") {
      i++;
      key = [];
      while (i < path.length && path[i] !== ")") {
        // optional name=
        let partName: string | undefined;
        const eq = scanName(path, i);
        if (eq && path[eq.end] === "=") {
          partName = eq.name;
          i = eq.end + 1;
        }
        const lit = scanLiteral(path, i);
        if (!lit) throw fail("invalid key literal");
        key.push(partName === undefined ? { value: lit.value } : { name: partName, value: lit.value });
        i = lit.end;
        if (path[i] === ",") i++;
        else if (path[i] !== ")") throw fail("expected ',' or ')'");
      }
      if (path[i] !== ")") throw fail("unterminated key");
      i++;
    }
    segments.push(key === undefined ? { name } : { name, key });
    if (path[i] === "/") i++;
    else if (i < path.length) throw fail("unexpected character");
  }
  return segments;
}

function scanName(s: string, i: number): { name: string; end: number } | undefined {
  const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(s.slice(i));
  if (!m) return undefined;
  return { name: m[0], end: i + m[0].length };
}

function scanLiteral(s: string, i: number): { value: KeyLiteral; end: number } | undefined {
  if (s[i] === "'") {
    let v = "";
    let j = i + 1;
    for (;;) {
      if (j >= s.length) return undefined;
      if (s[j] === "'") {
        if (s[j + 1] === "'") {
          v += "'";
          j += 2;
          continue;
        }
        return { value: { kind: "string", value: v }, end: j + 1 };
      }
      v += s[j++];
    }
  }
  let j = i;
  while (j < s.length && s[j] !== "," && s[j] !== ")") j++;
  const raw = s.slice(i, j).trim();
  if (GUID.test(raw)) return { value: { kind: "guid", value: raw.toLowerCase() }, end: j };
  if (/^-?\d+(\.\d+)?$/.test(raw)) return { value: { kind: "number", value: Number(raw) }, end: j };
  if (raw === "true" || raw === "false") return { value: { kind: "boolean", value: raw === "true" }, end: j };
  if (raw === "null") return { value: { kind: "null" }, end: j };
  return undefined;
}

/** Renders a key back to URL form, e.g. for `OData-EntityId`. */
export function formatKey(parts: readonly KeyPart[]): string {
  return parts
    .map((p) => {
      const v = p.value;
      const text =
        v.kind === "string"
          ? `'${v.value.replace(/'/g, "''")}'`
          : v.kind === "null"
            ? "null"
            : String(v.value);
      return p.name === undefined ? text : `${p.name}=${text}`;
    })
    .join(",");
}
