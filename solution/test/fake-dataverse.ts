/**
 * A stand-in for the Dataverse Web API calls a deployment makes, for the deploy tests until the
 * sandbox's Dataverse emulator serves ImportSolution. It reads the zip with the sandbox's solution
 * reader (the same reader the emulator imports with), verifies the bearer token against the Entra
 * emulator, and answers the documented shapes. Faults are switches on the instance.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readSolutionZip } from "@cosell/sandbox/src/dataverse/solution-reader";
import type { TokenVerifier } from "@cosell/sandbox/src/identity";

export interface FakeDataverse {
  readonly url: string;
  readonly requests: string[];
  /** Answer 404 to ImportSolutionAsync, as an environment without the async action would. */
  asyncImportMissing: boolean;
  /** Ignore ComponentParameters (the deployment must then set the values itself). */
  ignoreComponentParameters: boolean;
  /** Leave the PCF control unregistered after import. */
  dropControl: boolean;
  /** Answer the next N requests with 429 + Retry-After: `throttleRetryAfter` ("1" unless set). */
  throttleNext: number;
  throttleRetryAfter: string;
  readonly values: Map<string, string>;
  installedVersion(): string | undefined;
  close(): Promise<void>;
}

export async function startFakeDataverse(tokens: TokenVerifier): Promise<FakeDataverse> {
  const attributes = new Map<string, Set<string>>();
  const definitions = new Map<string, { id: string; defaultValue?: string }>();
  const valueIds = new Map<string, string>();
  const controls = new Set<string>();
  const operations = new Map<string, { polls: number; importJobId: string }>();
  let solution: { uniqueName: string; version: string; managed: boolean } | undefined;
  let url = "";

  const state: FakeDataverse = {
    get url() {
      return url;
    },
    requests: [],
    asyncImportMissing: false,
    ignoreComponentParameters: false,
    dropControl: false,
    throttleNext: 0,
    throttleRetryAfter: "1",
    values: new Map(),
    installedVersion: () => solution?.version,
    close: () => new Promise((r) => server.close(() => r())),
  };

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json; odata.metadata=minimal", ...headers });
    res.end(body === undefined ? "" : JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, message: string) => send(res, status, { error: { code: "0x80040217", message } });

  function importZip(body: { CustomizationFile: string; ComponentParameters?: Array<{ schemaname: string; value: string }> }) {
    const contents = readSolutionZip(Buffer.from(body.CustomizationFile, "base64"));
    solution = { uniqueName: contents.uniqueName, version: contents.version, managed: contents.managed };
    for (const e of contents.entities) {
      const set = attributes.get(e.logicalName) ?? new Set<string>();
      for (const a of e.attributes) set.add(a.logicalName);
      attributes.set(e.logicalName, set);
    }
    for (const v of contents.environmentVariables)
      definitions.set(v.schemaName, { id: definitions.get(v.schemaName)?.id ?? randomUUID(), ...(v.defaultValue !== undefined ? { defaultValue: v.defaultValue } : {}) });
    if (!state.dropControl) for (const c of contents.customControls) controls.add(c.name);
    if (!state.ignoreComponentParameters) for (const p of body.ComponentParameters ?? []) setValue(p.schemaname, p.value);
  }

  function setValue(schemaName: string, value: string) {
    state.values.set(schemaName, value);
    if (!valueIds.has(schemaName)) valueIds.set(schemaName, randomUUID());
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const path = decodeURIComponent((req.url ?? "").replace(/^\/api\/data\/v9\.2\//, ""));
    state.requests.push(`${req.method} ${path.split("?")[0]}`);
    if (state.throttleNext > 0) {
      state.throttleNext--;
      return send(res, 429, { error: { code: "0x80072322", message: "Number of requests exceeded the limit of 6000 over time window of 300 seconds." } }, { "Retry-After": state.throttleRetryAfter });
    }
    const auth = tokens.verify(req.headers.authorization, url);
    if (!auth.ok) return send(res, 401, { error: { code: "", message: auth.reason } });
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};

    if (req.method === "GET" && path === "WhoAmI") return send(res, 200, { UserId: auth.claims.oid });
    if (req.method === "POST" && path === "ImportSolutionAsync") {
      if (state.asyncImportMissing) return error(res, 404, "Resource not found for the segment 'ImportSolutionAsync'.");
      importZip(body as never);
      const id = randomUUID();
      operations.set(id, { polls: 0, importJobId: randomUUID() });
      return send(res, 200, { AsyncOperationId: id, ImportJobKey: operations.get(id)!.importJobId });
    }
    if (req.method === "POST" && path === "ImportSolution") {
      importZip(body as never);
      return send(res, 204);
    }
    let m = /^asyncoperations\(([^)]+)\)/.exec(path);
    if (m) {
      const op = operations.get(m[1]!);
      if (!op) return error(res, 404, "asyncoperation Does Not Exist");
      op.polls++;
      return send(res, 200, op.polls < 2 ? { statecode: 1, statuscode: 20 } : { statecode: 3, statuscode: 30, message: null, friendlymessage: null });
    }
    if ((m = /^importjobs\(([^)]+)\)/.exec(path))) {
      const op = [...operations.values()].find((o) => o.importJobId === m![1]);
      return op ? send(res, 200, { progress: op.polls < 2 ? 50 : 100 }) : error(res, 404, "importjob Does Not Exist");
    }
    if ((m = /^solutions\?\$filter=uniquename eq '([^']+)'/.exec(path)))
      return send(res, 200, { value: solution && solution.uniqueName === m[1] ? [{ version: solution.version, ismanaged: solution.managed }] : [] });
    if ((m = /^EntityDefinitions\(LogicalName='([^']+)'\)\/Attributes/.exec(path))) {
      const set = attributes.get(m[1]!);
      if (!set) return error(res, 404, `Could not find entity with name '${m[1]}'`);
      return send(res, 200, { value: [...set].map((LogicalName) => ({ LogicalName })) });
    }
    if ((m = /^environmentvariabledefinitions\?\$filter=schemaname eq '([^']+)'/.exec(path))) {
      const d = definitions.get(m[1]!);
      if (!d) return send(res, 200, { value: [] });
      const value = state.values.get(m[1]!);
      return send(res, 200, {
        value: [
          {
            environmentvariabledefinitionid: d.id,
            schemaname: m[1],
            defaultvalue: d.defaultValue ?? null,
            environmentvariabledefinition_environmentvariablevalue: value === undefined ? [] : [{ environmentvariablevalueid: valueIds.get(m[1]!), value }],
          },
        ],
      });
    }
    if (req.method === "POST" && path === "environmentvariablevalues") {
      setValue(String(body.schemaname), String(body.value));
      return send(res, 204);
    }
    if (req.method === "PATCH" && (m = /^environmentvariablevalues\(([^)]+)\)/.exec(path))) {
      const schema = [...valueIds].find(([, id]) => id === m![1])?.[0];
      if (!schema) return error(res, 404, "environmentvariablevalue Does Not Exist");
      setValue(schema, String(body.value));
      return send(res, 204);
    }
    if ((m = /^customcontrols\?\$filter=name eq '([^']+)'/.exec(path))) return send(res, 200, { value: controls.has(m[1]!) ? [{ name: m[1] }] : [] });
    return error(res, 404, `Resource not found for the segment '${path}'.`);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => error(res, 500, (err as Error).message));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
