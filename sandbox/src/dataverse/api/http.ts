/**
 * The Web API as plain request/response values, so that a `$batch` part runs through exactly the
 * same handlers as a top-level request. Header helpers: `Prefer` parsing and the OData headers
 * Dataverse puts on every answer.
 */
import type { WriteScope } from "../data/operations";
import type { Organization } from "../org";

export interface ApiRequest {
  readonly method: string;
  /** Decoded resource path below `/api/data/v9.2/`, without a leading slash. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer | undefined;
  /** The URL as the client sent it (error messages quote it). */
  readonly url: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** JSON value (serialised by the shell), raw text, or nothing. */
  readonly json?: unknown;
  readonly text?: string;
}

/** Everything a handler needs: the org, the caller's write scope, and where the API lives. */
export interface ApiContext {
  readonly org: Organization;
  readonly scope: WriteScope;
  readonly apiUrl: string;
  /** `$1`-style Content-ID references inside a change set: id → resource path. */
  readonly contentIds?: ReadonlyMap<string, string>;
  /** Deferred work a handler schedules after the answer (ImportSolutionAsync). */
  readonly afterResponse: Array<() => void>;
}

export const ODATA_HEADERS = { "OData-Version": "4.0" } as const;
export const JSON_CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";

export function jsonResponse(status: number, json: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, json, headers: { ...ODATA_HEADERS, "Content-Type": JSON_CONTENT_TYPE, ...headers } };
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { ...ODATA_HEADERS, ...headers } };
}

export interface Preferences {
  readonly returnRepresentation: boolean;
  readonly maxPageSize?: number;
  /** The include-annotations value as written (`*`, `OData.Community.Display.V1.FormattedValue`, …). */
  readonly includeAnnotations?: string;
  readonly continueOnError: boolean;
}

/** Splits a header on commas that are not inside double quotes. */
function splitPrefer(value: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === "," && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== "");
}

export function parsePrefer(headers: ReadonlyMap<string, string>): Preferences {
  const raw = headers.get("prefer") ?? "";
  let returnRepresentation = false;
  let maxPageSize: number | undefined;
  let includeAnnotations: string | undefined;
  let continueOnError = false;
  for (const item of splitPrefer(raw)) {
    const eq = item.indexOf("=");
    const name = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? "" : item.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
    if (name === "return" && value === "representation") returnRepresentation = true;
    else if (name === "odata.maxpagesize" && /^\d+$/.test(value)) maxPageSize = Number(value);
    else if (name === "odata.include-annotations") includeAnnotations = value;
    else if (name === "odata.continue-on-error") continueOnError = value === "" || value === "true";
  }
  return {
    returnRepresentation,
    ...(maxPageSize !== undefined ? { maxPageSize } : {}),
    ...(includeAnnotations !== undefined ? { includeAnnotations } : {}),
    continueOnError,
  };
}

/** Whether an annotation term (`OData.Community.Display.V1.FormattedValue`) is asked for. */
export function annotationMatcher(include: string | undefined): (term: string) => boolean {
  if (!include) return () => false;
  const patterns = include
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  return (term) =>
    patterns.some((p) => {
      if (p.startsWith("-")) return false;
      if (p === "*") return true;
      if (p.endsWith(".*")) return term.startsWith(p.slice(0, -1));
      return p === term;
    }) && !patterns.some((p) => p.startsWith("-") && (p.slice(1) === term || (p.endsWith(".*") && term.startsWith(p.slice(1, -1)))));
}

export const FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue";
export const LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname";
export const ASSOCIATED_NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty";
