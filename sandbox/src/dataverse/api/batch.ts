/**
 * `$batch` (spec §4.6): a `multipart/mixed` body of `application/http` requests and change sets.
 * The MIME layer is @mjackson/multipart-parser (recursing into change sets); the `application/http`
 * request and response messages are plain text, parsed and written here by hand.
 *
 *  - Requests outside a change set run one by one, each in its own transaction.
 *  - A change set runs in one transaction: all its writes commit, or none do. It may hold writes only.
 *    `Content-ID` values name created rows, and `$<id>` in a later URL or `@odata.bind` refers to them.
 *  - The batch stops at the first failure unless `Prefer: odata.continue-on-error`; a failed change
 *    set answers with the failing request's error alone, in place of the change set.
 *  - At most 1,000 requests.
 */
import { randomUUID } from "node:crypto";
import { parseMultipart, MultipartParseError } from "@mjackson/multipart-parser";
import { DataverseError, Errors } from "../errors";
import type { ApiContext, ApiRequest, ApiResponse } from "./http";
import { parsePrefer } from "./http";

export const MAX_BATCH_REQUESTS = 1000;

interface BatchRequest {
  readonly contentId?: string;
  readonly method: string;
  readonly target: string;
  readonly headers: Map<string, string>;
  readonly body: Buffer | undefined;
}

type BatchItem = { readonly kind: "request"; readonly request: BatchRequest } | { readonly kind: "changeset"; readonly requests: BatchRequest[] };

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  412: "Precondition Failed",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  const boundary = m ? (m[1] ?? m[2]) : undefined;
  // RFC 2046 §5.1.1: 1 to 70 bchars, not ending in a space.
  if (boundary !== undefined && !/^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary))
    throw Errors.querySyntax(`'${boundary.slice(0, 80)}' is not a valid multipart boundary (RFC 2046: 1 to 70 characters from a restricted set).`);
  return boundary;
}

const LF = 0x0a;
const CR = 0x0d;
const isPadding = (byte: number | undefined) => byte === 0x20 || byte === 0x09;

/**
 * Rewrites a multipart body into the one framing @mjackson/multipart-parser reads: the body opens
 * with the first delimiter, CRLF line ends in the framing, no transport padding, nothing after the
 * close delimiter. RFC 2046 §5.1.1 allows a preamble (often a bare CRLF) before the first delimiter,
 * padding after a delimiter and an epilogue after the close delimiter, and clients send LF alone
 * (dataverse-ify joins its batch with "\n"). Only delimiter lines and each part's header block are
 * rewritten; a part's content is kept byte for byte. Throws a 400 naming what is wrong.
 */
export function canonicalMultipart(body: Uint8Array, boundary: string): Buffer {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dash = Buffer.from(`--${boundary}`, "latin1");
  const lineOf = (at: number) => {
    let line = 1;
    for (let i = buf.indexOf(LF); i >= 0 && i < at; i = buf.indexOf(LF, i + 1)) line++;
    return line;
  };
  const parts: Buffer[] = [];
  let contentStart = -1; // where the current part begins, once the first delimiter is seen
  let closed = false;
  for (let at = buf.indexOf(dash); at >= 0; at = buf.indexOf(dash, at + 1)) {
    if (at > 0 && buf[at - 1] !== LF) continue; // a delimiter begins a line
    let end = at + dash.length;
    const close = buf[end] === 0x2d && buf[end + 1] === 0x2d;
    if (close) end += 2;
    while (isPadding(buf[end])) end++;
    if (buf[end] === CR && buf[end + 1] === LF) end += 2;
    else if (buf[end] === LF) end += 1;
    else if (!(close && end === buf.length))
      throw Errors.querySyntax(`The batch request body is not valid multipart: line ${lineOf(at)} starts with the boundary but is not a delimiter line.`);
    if (contentStart >= 0) {
      // The line break before a delimiter belongs to the delimiter, not to the content.
      const contentEnd = at - 1 > contentStart && buf[at - 2] === CR ? at - 2 : Math.max(contentStart, at - 1);
      parts.push(canonicalPart(buf.subarray(contentStart, contentEnd)));
    }
    if (close) {
      closed = true;
      break; // the rest is the epilogue
    }
    contentStart = end;
  }
  if (contentStart < 0 && !closed) throw Errors.querySyntax(`The batch request body is not valid multipart: no delimiter line '--${boundary}'.`);
  if (!closed) throw Errors.querySyntax(`The batch request body is not valid multipart: no close delimiter '--${boundary}--'.`);
  const crlf = Buffer.from("\r\n");
  return Buffer.concat([...parts.flatMap((p) => [dash, crlf, p, crlf]), dash, Buffer.from("--\r\n")]);
}

/** One body part with its header lines joined by CRLF and a CRLF blank line before the content. */
function canonicalPart(part: Buffer): Buffer {
  const lines: string[] = [];
  let at = 0;
  while (at < part.length) {
    const lf = part.indexOf(LF, at);
    const next = lf < 0 ? part.length : lf + 1;
    const line = part.subarray(at, lf < 0 ? part.length : lf > at && part[lf - 1] === CR ? lf - 1 : lf).toString("utf8");
    at = next;
    if (line === "") break; // the blank line that ends the headers
    lines.push(line);
  }
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8"), part.subarray(at)]);
}

/** One `application/http` message: request line, headers, blank line, body. */
export function parseHttpMessage(bytes: Uint8Array, partHeaders: Map<string, string>): BatchRequest {
  const buf = Buffer.from(bytes);
  // The first blank line ends the head, whichever line ends the client used (LF alone: dataverse-ify).
  const crlf = buf.indexOf("\r\n\r\n");
  const lf = buf.indexOf("\n\n");
  const useLf = lf >= 0 && (crlf < 0 || lf < crlf);
  const split = useLf ? lf : crlf;
  const sepLength = useLf ? 2 : 4;
  const head = (split < 0 ? buf : buf.subarray(0, split)).toString("utf8").replace(/^\s+/, "");
  let body: Buffer | undefined = split < 0 ? undefined : buf.subarray(split + sepLength);
  if (body) {
    let end = body.length;
    while (end > 0 && (body[end - 1] === 0x0a || body[end - 1] === 0x0d)) end--;
    body = end === 0 ? undefined : body.subarray(0, end);
  }
  const lines = head.split(/\r?\n/);
  // Lenient about unencoded spaces in the target: everything between the method and the version.
  const requestLine = /^(GET|POST|PATCH|PUT|DELETE)\s+(.+?)(?:\s+HTTP\/\d\.\d)?\s*$/i.exec(lines[0] ?? "");
  if (!requestLine) throw Errors.querySyntax(`The batch contains an invalid request line '${lines[0] ?? ""}'.`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const contentId = partHeaders.get("content-id") ?? headers.get("content-id");
  return {
    ...(contentId !== undefined ? { contentId } : {}),
    method: requestLine[1]!.toUpperCase(),
    target: requestLine[2]!,
    headers,
    body,
  };
}

function partHeaderMap(headers: { forEach(cb: (value: string, key: string) => void): void }): Map<string, string> {
  const m = new Map<string, string>();
  headers.forEach((value, key) => m.set(key.toLowerCase(), value));
  return m;
}

export function parseBatch(body: Buffer, contentType: string | undefined): BatchItem[] {
  const boundary = boundaryOf(contentType);
  if (!boundary || !/^multipart\/mixed/i.test(contentType ?? "")) throw Errors.querySyntax("A $batch request needs Content-Type: multipart/mixed;boundary=batch_<id>.");
  const items: BatchItem[] = [];
  try {
    for (const part of parseMultipart(canonicalMultipart(body, boundary), { boundary, maxFileSize: 128 * 1024 * 1024, maxHeaderSize: 64 * 1024 })) {
      const headers = partHeaderMap(part.headers);
      const type = headers.get("content-type") ?? "";
      if (/^multipart\/mixed/i.test(type)) {
        const inner = boundaryOf(type);
        if (!inner) throw Errors.querySyntax("A change set needs a boundary.");
        const requests: BatchRequest[] = [];
        for (const p of parseMultipart(canonicalMultipart(part.bytes, inner), { boundary: inner, maxFileSize: 128 * 1024 * 1024, maxHeaderSize: 64 * 1024 })) {
          const h = partHeaderMap(p.headers);
          if (/^multipart\//i.test(h.get("content-type") ?? "")) throw Errors.querySyntax("Change sets cannot be nested.");
          requests.push(parseHttpMessage(p.bytes, h));
        }
        items.push({ kind: "changeset", requests });
      } else {
        items.push({ kind: "request", request: parseHttpMessage(part.bytes, headers) });
      }
    }
  } catch (err) {
    if (err instanceof MultipartParseError) throw new DataverseError(400, "0x0", `The batch request body is not valid multipart: ${err.message}`, {}, { cause: err });
    throw err;
  }
  return items;
}

/** Turns a batch request's URL into the API-relative path + query (resolving `$n` references). */
function toApiRequest(r: BatchRequest, apiUrl: string, contentIds: ReadonlyMap<string, string>): ApiRequest {
  let target = r.target;
  const marker = target.indexOf("/api/data/v9.2/");
  if (marker >= 0) target = target.slice(marker + "/api/data/v9.2/".length);
  else if (target.startsWith(apiUrl)) target = target.slice(apiUrl.length);
  target = target.replace(/^\/+/, "");
  const ref = /^\$([A-Za-z0-9_.-]+)(.*)$/.exec(target);
  if (ref) {
    const resolved = contentIds.get(ref[1]!);
    if (resolved === undefined) throw Errors.invalidArgument(`Content-ID reference '$${ref[1]}' does not name an earlier request of this change set.`);
    target = resolved + ref[2]!;
  }
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw Errors.querySyntax(`Invalid URL '${r.target}'.`);
  }
  return {
    method: r.method,
    path,
    query: new URLSearchParams(q < 0 ? "" : target.slice(q + 1)),
    headers: r.headers,
    body: r.body,
    url: r.target,
  };
}

function serialiseResponse(res: ApiResponse, contentId?: string): string {
  const lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (contentId !== undefined) lines.push(`Content-ID: ${contentId}`);
  lines.push("", `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? ""}`.trimEnd());
  for (const [k, v] of Object.entries(res.headers)) lines.push(`${k}: ${v}`);
  lines.push("");
  const body = res.json !== undefined ? JSON.stringify(res.json) : (res.text ?? "");
  lines.push(body);
  return lines.join("\r\n");
}

export function errorResponse(err: unknown): ApiResponse {
  const e = err instanceof DataverseError ? err : new DataverseError(500, "0x80040216", err instanceof Error ? err.message : String(err));
  return {
    status: e.status,
    headers: { "OData-Version": "4.0", "Content-Type": "application/json; odata.metadata=minimal", ...e.headers },
    json: e.body,
  };
}

export type UnitRunner = <T>(run: (ctx: ApiContext) => T) => Promise<T>;
export type Dispatch = (ctx: ApiContext, req: ApiRequest) => ApiResponse;

/** Executes a parsed batch; each unit (single request or change set) runs through `unit`. */
export async function executeBatch(
  req: ApiRequest,
  apiUrl: string,
  unit: UnitRunner,
  dispatch: Dispatch,
): Promise<ApiResponse> {
  if (req.method !== "POST") throw Errors.methodNotAllowed(req.method, req.url);
  const items = parseBatch(req.body ?? Buffer.alloc(0), req.headers.get("content-type"));
  const count = items.reduce((n, i) => n + (i.kind === "changeset" ? i.requests.length : 1), 0);
  if (count > MAX_BATCH_REQUESTS) throw Errors.batchTooLarge(count);
  const continueOnError = parsePrefer(req.headers).continueOnError;
  const boundary = `batchresponse_${randomUUID()}`;
  const parts: string[] = [];
  for (const item of items) {
    let failed = false;
    if (item.kind === "request") {
      let res: ApiResponse;
      try {
        res = await unit((ctx) => dispatch(ctx, toApiRequest(item.request, apiUrl, new Map())));
      } catch (err) {
        res = errorResponse(err);
      }
      failed = res.status >= 400;
      parts.push(serialiseResponse(res));
    } else {
      const inner = `changesetresponse_${randomUUID()}`;
      const contentIds = new Map<string, string>();
      try {
        const responses = await unit((ctx) => {
          const out: Array<{ res: ApiResponse; contentId?: string }> = [];
          for (const r of item.requests) {
            if (r.method === "GET") throw Errors.invalidArgument("A change set may only contain POST, PATCH, PUT and DELETE requests.");
            const sub: ApiContext = { ...ctx, contentIds };
            const res = dispatch(sub, toApiRequest(r, apiUrl, contentIds));
            const entityId = res.headers["OData-EntityId"];
            if (r.contentId !== undefined && entityId) contentIds.set(r.contentId, entityId.startsWith(`${apiUrl}/`) ? entityId.slice(apiUrl.length + 1) : entityId);
            out.push({ res, ...(r.contentId !== undefined ? { contentId: r.contentId } : {}) });
          }
          return out;
        });
        const body = responses.map((r) => `--${inner}\r\n${serialiseResponse(r.res, r.contentId)}`).join("\r\n");
        parts.push(`Content-Type: multipart/mixed; boundary=${inner}\r\n\r\n${body}\r\n--${inner}--`);
      } catch (err) {
        failed = true;
        parts.push(serialiseResponse(errorResponse(err)));
      }
    }
    if (failed && !continueOnError) break;
  }
  const text = `${parts.map((p) => `--${boundary}\r\n${p}`).join("\r\n")}\r\n--${boundary}--\r\n`;
  return {
    status: 200,
    headers: {
      "OData-Version": "4.0",
      "Content-Type": `multipart/mixed; boundary=${boundary}`,
      ...(continueOnError ? { "Preference-Applied": "odata.continue-on-error" } : {}),
    },
    text,
  };
}
