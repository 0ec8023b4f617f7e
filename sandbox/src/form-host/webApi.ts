/**
 * `context.webAPI` for the sandbox form: the five calls of ComponentFramework.WebApi over the
 * Dataverse Web API with the seller's token, as the platform implements them for a control.
 * Entity set names come from the org's metadata (EntityDefinitions), as the platform's do.
 */

export interface LookupValue {
  id: string;
  entityType: string;
  name?: string;
}

export interface RetrieveMultipleResponse {
  entities: Record<string, unknown>[];
  nextLink: string | undefined;
}

/** The shape of ComponentFramework.WebApi (the sandbox has no PCF typings). */
export interface ControlWebApi {
  createRecord(entityType: string, data: Record<string, unknown>): Promise<LookupValue>;
  updateRecord(entityType: string, id: string, data: Record<string, unknown>): Promise<LookupValue>;
  deleteRecord(entityType: string, id: string): Promise<LookupValue>;
  retrieveRecord(entityType: string, id: string, options?: string): Promise<Record<string, unknown>>;
  retrieveMultipleRecords(entityType: string, options?: string, maxPageSize?: number): Promise<RetrieveMultipleResponse>;
}

export type Fetch = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface WebApiOptions {
  /** `<origin>/api/data/v9.2` */
  readonly apiUrl: string;
  readonly accessToken: () => Promise<string>;
  readonly fetch: Fetch;
}

/** A Web API error as Dataverse reports it (`{error:{code,message}}`), with the HTTP status. */
export class WebApiError extends Error {
  public override readonly name = "WebApiError";
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function parseJson(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorFrom(status: number, body: unknown): WebApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code : "";
  const message = typeof error?.message === "string" ? error.message : `HTTP ${status}`;
  return new WebApiError(status, code, message);
}

const GUID_IN_URL = /\(([0-9a-fA-F-]{36})\)\s*$/;

export function createWebApi(options: WebApiOptions): ControlWebApi & { request: typeof request } {
  const entitySets = new Map<string, Promise<string>>();

  async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await options.fetch(`${options.apiUrl}/${path.replace(/^\//, "")}`, {
      method,
      headers: {
        authorization: `Bearer ${await options.accessToken()}`,
        accept: "application/json",
        "odata-version": "4.0",
        "odata-maxversion": "4.0",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const parsed = parseJson(await res.text());
    if (res.status >= 400) throw errorFrom(res.status, parsed);
    return { status: res.status, headers: res.headers, body: parsed };
  }

  function entitySet(logicalName: string): Promise<string> {
    let found = entitySets.get(logicalName);
    if (!found) {
      found = request("GET", `EntityDefinitions(LogicalName='${logicalName}')?$select=EntitySetName`).then((r) => {
        const name = (r.body as { EntitySetName?: unknown } | undefined)?.EntitySetName;
        if (typeof name !== "string") throw new WebApiError(404, "", `no entity set for ${logicalName}`);
        return name;
      });
      found.catch(() => entitySets.delete(logicalName));
      entitySets.set(logicalName, found);
    }
    return found;
  }

  const query = (options?: string): string => (options ? (options.startsWith("?") ? options : `?${options}`) : "");

  return {
    request,
    async createRecord(entityType, data) {
      const res = await request("POST", await entitySet(entityType), data);
      const id = GUID_IN_URL.exec(res.headers.get("odata-entityid") ?? "")?.[1] ?? "";
      return { id, entityType };
    },
    async updateRecord(entityType, id, data) {
      await request("PATCH", `${await entitySet(entityType)}(${id})`, data, { "if-match": "*" });
      return { id, entityType };
    },
    async deleteRecord(entityType, id) {
      await request("DELETE", `${await entitySet(entityType)}(${id})`);
      return { id, entityType };
    },
    async retrieveRecord(entityType, id, options) {
      const res = await request("GET", `${await entitySet(entityType)}(${id})${query(options)}`);
      return (res.body ?? {}) as Record<string, unknown>;
    },
    async retrieveMultipleRecords(entityType, options, maxPageSize) {
      const res = await request(
        "GET",
        `${await entitySet(entityType)}${query(options)}`,
        undefined,
        maxPageSize ? { prefer: `odata.maxpagesize=${maxPageSize}` } : {},
      );
      const body = (res.body ?? {}) as { value?: Record<string, unknown>[]; "@odata.nextLink"?: string };
      return { entities: body.value ?? [], nextLink: body["@odata.nextLink"] };
    },
  };
}
