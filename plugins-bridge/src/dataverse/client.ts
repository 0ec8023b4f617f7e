/**
 * Dataverse Web API client (v9.2): the application user's token, OData headers, optimistic
 * concurrency, alternate-key upserts, paging, actions and `$batch`. No retries here: the queue
 * retries, honouring Retry-After (ThrottledError.retryAfterMs).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ApiError, ValidationError, errorForStatus } from "../http/errors";
import { HttpTransport } from "../http/transport";

export type Row = Record<string, unknown> & { "@odata.etag"?: string };

export interface DataverseClientOptions {
  readonly url: string;
  readonly getToken: () => Promise<string>;
  readonly maxConcurrency?: number;
  readonly timeoutMs?: number;
  /** Sent as the `tag` query option: Dataverse passes it to webhooks in SharedVariables, marking our own writes. */
  readonly callerTag?: string;
}

export interface QueryOptions {
  readonly select?: readonly string[];
  readonly filter?: string;
  readonly orderby?: string;
  readonly top?: number;
  readonly expand?: string;
  readonly maxPageSize?: number;
  readonly formattedValues?: boolean;
}

/** OData string literal for `$filter` and key segments: single quotes doubled. */
export function odataLiteral(value: string | number | boolean | null): string {
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Characters an alternate key's value may not hold when the key is used in a URL: "retrieve (GET),
 * update, or upsert (PATCH) actions don't work" (learn.microsoft.com, "Work with alternate keys").
 * A record whose key value holds one is found with `$filter` instead (`keyUsableInUrl`).
 */
const KEY_URL_UNSAFE = /[/<>*%&:\\?+]/;

export function keyUsableInUrl(key: Record<string, string | number>): boolean {
  return Object.values(key).every((v) => typeof v !== "string" || !KEY_URL_UNSAFE.test(v));
}

/** `$filter` matching an alternate key's values: `cosell_referralid eq 'R/1'`. */
export function keyFilter(key: Record<string, string | number>): string {
  return Object.entries(key)
    .map(([k, v]) => {
      if (!/^[a-z_][a-z0-9_]*$/i.test(k)) throw new RangeError(`not a column name: ${k}`);
      return `${k} eq ${odataLiteral(v)}`;
    })
    .join(" and ");
}

/** `opportunities(cosell_referralid='R-1')` or `accounts(<guid>)`. */
export function recordPath(entitySet: string, key: string | Record<string, string | number>): string {
  if (typeof key === "string") {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key))
      throw new RangeError(`not a record id: ${key}`);
    return `/${entitySet}(${key})`;
  }
  if (!keyUsableInUrl(key)) throw new RangeError(`an alternate key value with / < > * % & : \\ ? or + cannot be used in a URL: use keyFilter (${entitySet})`);
  const parts = Object.entries(key).map(([k, v]) => {
    if (!/^[a-z_][a-z0-9_]*$/i.test(k)) throw new RangeError(`not a column name: ${k}`);
    return `${k}=${odataLiteral(v)}`;
  });
  return `/${entitySet}(${parts.map((p) => encodeURIComponent(p).replace(/%3D/g, "=").replace(/%27/g, "'")).join(",")})`;
}

const DataverseError = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }).loose() }).loose();

const describe = (status: number, body: unknown) => {
  const e = DataverseError.safeParse(body);
  if (!e.success) return { message: `HTTP ${status}` };
  return { message: (e.data.error.message ?? "").split("\r\n")[0] ?? "", code: e.data.error.code };
};

const Page = z.object({ value: z.array(z.record(z.string(), z.unknown())), "@odata.nextLink": z.string().optional() }).loose();

export interface BatchRequest {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Relative to the API root, e.g. `/accounts` or `/opportunities(cosell_referralid='x')`. */
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface BatchResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
  /** The typed error for a failed part, so callers can branch like for single requests. */
  readonly error?: ApiError;
}

export class DataverseClient {
  private readonly http: HttpTransport;
  readonly apiRoot: string;

  constructor(private readonly options: DataverseClientOptions) {
    this.apiRoot = `${options.url.replace(/\/+$/, "")}/api/data/v9.2`;
    this.http = new HttpTransport({
      service: "dataverse",
      baseUrl: this.apiRoot,
      maxConcurrency: options.maxConcurrency ?? 16,
      timeoutMs: options.timeoutMs,
      describeError: describe,
    });
  }

  private async headers(extra?: Record<string, string>): Promise<Record<string, string>> {
    return {
      authorization: `Bearer ${await this.options.getToken()}`,
      accept: "application/json",
      "odata-maxversion": "4.0",
      "odata-version": "4.0",
      "ms-client-request-id": randomUUID(),
      ...extra,
    };
  }

  private tagged(path: string): string {
    if (!this.options.callerTag) return path;
    return `${path}${path.includes("?") ? "&" : "?"}tag=${encodeURIComponent(this.options.callerTag)}`;
  }

  async retrieve(entitySet: string, key: string | Record<string, string>, select?: readonly string[]): Promise<Row | undefined> {
    const q = select?.length ? `?$select=${select.join(",")}` : "";
    if (typeof key !== "string" && !keyUsableInUrl(key)) return this.retrieveByFilter(entitySet, key, q);
    try {
      const res = await this.http.send({ method: "GET", path: recordPath(entitySet, key) + q, headers: await this.headers() });
      return res.json as Row;
    } catch (err) {
      if ((err as ApiError).status === 404) return undefined;
      throw err;
    }
  }

  /** The one row whose alternate key holds `key` (a key value a URL cannot carry), or undefined. */
  async retrieveByFilter(entitySet: string, key: Record<string, string | number>, query = ""): Promise<Row | undefined> {
    const sep = query ? "&" : "?";
    const res = await this.http.send({ method: "GET", path: `/${entitySet}${query}${sep}$filter=${encodeURIComponent(keyFilter(key))}&$top=2`, headers: await this.headers() });
    const rows = ((res.json as { value?: Row[] } | undefined)?.value ?? []) as Row[];
    if (rows.length > 1) throw new ApiError(`two ${entitySet} rows hold the key ${keyFilter(key)}`, { service: "dataverse", method: "GET", path: `/${entitySet}` });
    return rows[0];
  }

  async *retrieveMultiple(entitySet: string, query: QueryOptions = {}): AsyncGenerator<Row[]> {
    const q: string[] = [];
    if (query.select?.length) q.push(`$select=${query.select.join(",")}`);
    if (query.filter) q.push(`$filter=${encodeURIComponent(query.filter)}`);
    if (query.orderby) q.push(`$orderby=${encodeURIComponent(query.orderby)}`);
    if (query.top !== undefined) q.push(`$top=${query.top}`);
    if (query.expand) q.push(`$expand=${encodeURIComponent(query.expand)}`);
    const prefer = [`odata.maxpagesize=${query.maxPageSize ?? 500}`];
    if (query.formattedValues) prefer.push('odata.include-annotations="OData.Community.Display.V1.FormattedValue"');
    let path: string | undefined = `/${entitySet}${q.length ? `?${q.join("&")}` : ""}`;
    while (path) {
      const res = await this.http.send({ method: "GET", path, headers: await this.headers({ prefer: prefer.join(",") }) });
      const page = Page.parse(res.json);
      yield page.value as Row[];
      path = page["@odata.nextLink"];
    }
  }

  /** Creates a row; returns its id (from OData-EntityId) and, when asked, the row. */
  async create(entitySet: string, body: Record<string, unknown>, options: { returnRow?: boolean } = {}): Promise<{ id: string; row?: Row }> {
    const extra: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
    if (options.returnRow) extra.prefer = "return=representation";
    const res = await this.http.send({ method: "POST", path: this.tagged(`/${entitySet}`), headers: await this.headers(extra), body: JSON.stringify(body) });
    const id = idFromEntityId(res.headers["odata-entityid"]) ?? idFromRow(res.json);
    if (!id) throw new ValidationError("Dataverse create answered without the new row's id", { service: "dataverse", method: "POST", path: `/${entitySet}` });
    return { id, row: options.returnRow ? (res.json as Row) : undefined };
  }

  /**
   * Updates a row. `ifMatch` is the row's `@odata.etag` (412 → ConcurrencyError) or `*` (update only,
   * 404 when missing: never creates by accident).
   */
  async update(
    entitySet: string,
    key: string | Record<string, string>,
    body: Record<string, unknown>,
    options: { ifMatch: string; returnRow?: boolean; select?: readonly string[] },
  ): Promise<Row | undefined> {
    const extra: Record<string, string> = { "content-type": "application/json; charset=utf-8", "if-match": options.ifMatch };
    if (options.returnRow) extra.prefer = "return=representation";
    const select = options.returnRow && options.select?.length ? `?$select=${options.select.join(",")}` : "";
    const res = await this.http.send({ method: "PATCH", path: this.tagged(recordPath(entitySet, key) + select), headers: await this.headers(extra), body: JSON.stringify(body) });
    return options.returnRow ? (res.json as Row) : undefined;
  }

  /** Upsert by key: `create-only` sends If-None-Match: * (412 when it exists), `upsert` sends neither. */
  async upsert(
    entitySet: string,
    key: Record<string, string>,
    body: Record<string, unknown>,
    mode: "create-only" | "upsert" = "upsert",
  ): Promise<Row> {
    const extra: Record<string, string> = { "content-type": "application/json; charset=utf-8", prefer: "return=representation" };
    if (mode === "create-only") extra["if-none-match"] = "*";
    const res = await this.http.send({ method: "PATCH", path: this.tagged(recordPath(entitySet, key)), headers: await this.headers(extra), body: JSON.stringify(body) });
    return res.json as Row;
  }

  async action(name: string, body: Record<string, unknown>, bound?: { entitySet: string; id: string }): Promise<unknown> {
    const path = bound ? `${recordPath(bound.entitySet, bound.id)}/Microsoft.Dynamics.CRM.${name}` : `/${name}`;
    const res = await this.http.send({
      method: "POST",
      path: this.tagged(path),
      headers: await this.headers({ "content-type": "application/json; charset=utf-8" }),
      body: JSON.stringify(body),
    });
    return res.json;
  }

  async get(path: string): Promise<unknown> {
    const res = await this.http.send({ method: "GET", path, headers: await this.headers() });
    return res.json;
  }

  async post(path: string, body: unknown): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
    const res = await this.http.send({
      method: "POST",
      path,
      headers: await this.headers({ "content-type": "application/json; charset=utf-8" }),
      body: JSON.stringify(body),
    });
    return { status: res.status, json: res.json, headers: res.headers };
  }

  async delete(entitySet: string, id: string): Promise<void> {
    await this.http.send({ method: "DELETE", path: recordPath(entitySet, id), headers: await this.headers() });
  }

  /** The current value of an environment variable (value wins over default), or undefined. */
  async environmentVariable(schemaName: string): Promise<string | undefined> {
    const filter = `schemaname eq ${odataLiteral(schemaName)}`;
    const json = (await this.get(
      `/environmentvariabledefinitions?$filter=${encodeURIComponent(filter)}&$select=defaultvalue,schemaname&$expand=environmentvariabledefinition_environmentvariablevalue($select=value)`,
    )) as { value?: Array<{ defaultvalue?: string | null; environmentvariabledefinition_environmentvariablevalue?: Array<{ value?: string | null }> }> };
    const def = json.value?.[0];
    if (!def) return undefined;
    const current = def.environmentvariabledefinition_environmentvariablevalue?.[0]?.value;
    return current ?? def.defaultvalue ?? undefined;
  }

  /**
   * `$batch` with one change set per group: each group is atomic; groups are independent.
   * Returns one response per request, in order.
   */
  async batch(changeSets: readonly (readonly BatchRequest[])[]): Promise<BatchResponse[]> {
    const batchId = `batch_${randomUUID()}`;
    const lines: string[] = [];
    for (const set of changeSets) {
      const csId = `changeset_${randomUUID()}`;
      lines.push(`--${batchId}`, `Content-Type: multipart/mixed; boundary=${csId}`, "");
      set.forEach((r, i) => {
        lines.push(`--${csId}`, "Content-Type: application/http", "Content-Transfer-Encoding: binary", `Content-ID: ${i + 1}`, "");
        lines.push(`${r.method} ${this.apiRoot}${this.tagged(r.path)} HTTP/1.1`);
        lines.push("Content-Type: application/json; charset=utf-8");
        for (const [k, v] of Object.entries(r.headers ?? {})) lines.push(`${k}: ${v}`);
        lines.push("", r.body === undefined ? "" : JSON.stringify(r.body));
      });
      lines.push(`--${csId}--`);
    }
    return this.postBatch(batchId, lines);
  }

  /**
   * Several reads in one `$batch`, each its own part (reads may not sit in a change set). One
   * request instead of several: fewer of the 52 concurrent requests Dataverse allows per user.
   * `path` is relative to the API root and may carry a query string.
   */
  async batchReads(paths: readonly string[]): Promise<BatchResponse[]> {
    if (paths.length === 0) return [];
    const batchId = `batch_${randomUUID()}`;
    const lines: string[] = [];
    for (const p of paths) {
      lines.push(`--${batchId}`, "Content-Type: application/http", "Content-Transfer-Encoding: binary", "");
      lines.push(`GET ${this.apiRoot}${p.startsWith("/") ? p : `/${p}`} HTTP/1.1`, "Accept: application/json", "", "");
    }
    return this.postBatch(batchId, lines);
  }

  /** Closes the multipart body whose parts are `lines`, posts it to `$batch`, and parses the answer. */
  private async postBatch(batchId: string, lines: string[]): Promise<BatchResponse[]> {
    lines.push(`--${batchId}--`, "");
    const res = await this.http.send({
      method: "POST",
      path: "/$batch",
      headers: await this.headers({ "content-type": `multipart/mixed; boundary=${batchId}` }),
      body: lines.join("\r\n"),
      timeoutMs: 120_000,
    });
    return parseBatchResponse(String(res.headers["content-type"] ?? ""), res.text);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

function idFromEntityId(header: unknown): string | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (typeof v !== "string") return undefined;
  return /\(([0-9a-f-]{36})\)\s*$/i.exec(v)?.[1];
}

function idFromRow(json: unknown): string | undefined {
  if (!json || typeof json !== "object") return undefined;
  for (const [k, v] of Object.entries(json)) if (k.endsWith("id") && typeof v === "string" && /^[0-9a-f-]{36}$/i.test(v)) return v;
  return undefined;
}

/** Parses a multipart/mixed `$batch` answer, flattening change sets, into responses in order. */
export function parseBatchResponse(contentType: string, text: string): BatchResponse[] {
  const boundary = /boundary=("?)([^";]+)\1/i.exec(contentType)?.[2];
  if (!boundary) throw new ValidationError("Dataverse $batch answer has no multipart boundary", { service: "dataverse", method: "POST", path: "/$batch" });
  const out: BatchResponse[] = [];
  for (const part of splitMultipart(text, boundary)) {
    const { headers, body } = splitHeaders(part);
    const inner = /boundary=("?)([^";]+)\1/i.exec(headers["content-type"] ?? "")?.[2];
    if (inner) {
      out.push(...parseBatchResponse(`multipart/mixed; boundary=${inner}`, body));
      continue;
    }
    const http = splitHeaders(body);
    const statusLine = /^HTTP\/1\.1 (\d{3})/.exec(http.first ?? "");
    const status = statusLine ? Number(statusLine[1]) : 0;
    let parsed: unknown;
    try {
      parsed = http.body.trim() ? JSON.parse(http.body) : undefined;
    } catch {
      parsed = http.body;
    }
    const response: BatchResponse = { status, headers: http.headers, body: parsed };
    out.push(
      status >= 400
        ? {
            ...response,
            error: errorForStatus(status, `Dataverse $batch part: ${status} ${describe(status, parsed).message}`, { service: "dataverse", method: "POST", path: "/$batch", code: describe(status, parsed).code }, http.headers["retry-after"]),
          }
        : response,
    );
  }
  return out;
}

function splitMultipart(text: string, boundary: string): string[] {
  const parts = text.split(`--${boundary}`);
  return parts.slice(1).filter((p) => !p.startsWith("--")).map((p) => p.replace(/^\r?\n/, ""));
}

function splitHeaders(block: string): { first?: string; headers: Record<string, string>; body: string } {
  const idx = block.search(/\r?\n\r?\n/);
  const head = idx < 0 ? block : block.slice(0, idx);
  const body = idx < 0 ? "" : block.slice(idx).replace(/^\r?\n\r?\n/, "");
  const headers: Record<string, string> = {};
  let first: string | undefined;
  for (const line of head.split(/\r?\n/)) {
    const m = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (m) headers[(m[1] as string).toLowerCase()] = m[2] as string;
    else if (line.trim()) first ??= line.trim();
  }
  return { first, headers, body: body.replace(/\r?\n$/, "") };
}
