/**
 * Issue 10 §4: Win and Lose carry the opportunity in InputParameters.OpportunityClose. The Dataverse
 * emulator fires real Win/Lose webhooks (PrimaryEntityId read as the empty GUID or as the
 * opportunityclose activity's id, the readings Dataverse may send) into the bridge's intake, which
 * must file them under the opportunity that was closed.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { TokenService } from "@cosell/sandbox/src/identity";
import { startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox/src/dataverse";
import type { ClosePrimaryEntityId } from "@cosell/sandbox/src/dataverse/webhooks/context";
import { DATAVERSE_WEBHOOK_HEADER } from "../src/config";
import { openStore, type Store } from "../src/store";
import { DataverseIntake, type IntakeResult } from "../src/webhooks/intake";

const RESOURCE = "https://org.crm.dynamics.com";
const KEY = "webhook-key-for-close-tests";

interface World {
  readonly dv: DataverseEmulator;
  readonly store: Store;
  readonly results: IntakeResult[];
  api(method: string, p: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
  close(): Promise<void>;
}

/** The emulator with one Win and one Lose step on a service endpoint whose receiver is the bridge's intake. */
async function world(reading: ClosePrimaryEntityId): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-close-"));
  const store = await openStore({ kind: "sqlite", path: path.join(dir, "bridge.sqlite") });
  const intake = new DataverseIntake(store, DATAVERSE_WEBHOOK_HEADER, KEY);
  const results: IntakeResult[] = [];
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void intake.receive(Buffer.concat(chunks), req.headers).then((r) => {
        results.push(r);
        res.writeHead(r.status).end();
      });
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const tokens = new TokenService();
  const dv = await startDataverseEmulator({ tokens, resourceUrl: RESOURCE, closePrimaryEntityId: reading });
  const appId = randomUUID();
  dv.registerApplicationUser({ applicationId: appId, fullName: "Co-sell Bridge", roles: ["System Administrator"] });
  tokens.registerClient({ clientId: appId, clientSecret: "secret" });
  const token = tokens.clientCredentials({ clientId: appId, clientSecret: "secret", resource: RESOURCE }).accessToken;
  const api: World["api"] = async (method, p, body) => {
    const res = await fetch(`${dv.apiUrl}/${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
  const idOf = (res: { headers: Headers }) => /\(([0-9a-f-]{36})\)$/.exec(res.headers.get("odata-entityid") ?? "")![1]!;
  const endpoint = idOf(
    await api("POST", "serviceendpoints", {
      name: "cosell-bridge",
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/dataverse`,
      contract: 8,
      connectionmode: 1,
      userclaim: 1,
      authtype: 5,
      authvalue: `<settings><setting name="${DATAVERSE_WEBHOOK_HEADER}" value="${KEY}"/></settings>`,
    }),
  );
  for (const message of ["Win", "Lose"]) {
    const messageId = (await api("GET", `sdkmessages?$filter=name eq '${message}'&$select=sdkmessageid`)).json.value[0].sdkmessageid;
    const filterId = (await api("GET", `sdkmessagefilters?$filter=primaryobjecttypecode eq 'opportunity' and _sdkmessageid_value eq ${messageId}&$select=sdkmessagefilterid`)).json
      .value[0].sdkmessagefilterid;
    const step = await api("POST", "sdkmessageprocessingsteps", {
      name: `cosell-bridge:${message}`,
      stage: 40,
      mode: 1,
      rank: 1,
      supporteddeployment: 0,
      "eventhandler_serviceendpoint@odata.bind": `/serviceendpoints(${endpoint})`,
      "sdkmessageid@odata.bind": `/sdkmessages(${messageId})`,
      "sdkmessagefilterid@odata.bind": `/sdkmessagefilters(${filterId})`,
    });
    expect(step.status).toBe(204);
  }
  return {
    dv,
    store,
    results,
    api,
    close: async () => {
      await dv.close();
      await new Promise((r) => receiver.close(r));
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each<ClosePrimaryEntityId>(["empty", "opportunityclose"])("Win/Lose webhooks from the emulator, PrimaryEntityId read as '%s'", (reading) => {
  let w: World;
  let account: string;
  beforeAll(async () => {
    w = await world(reading);
    const res = await w.api("POST", "accounts", { name: "Contoso" });
    account = /\(([0-9a-f-]{36})\)$/.exec(res.headers.get("odata-entityid")!)![1]!;
  });
  afterAll(() => w.close());
  beforeEach(() => {
    w.results.length = 0;
  });

  const newOpportunity = async () => {
    const res = await w.api("POST", "opportunities", { name: "Deal", estimatedvalue: 100, "customerid_account@odata.bind": `/accounts(${account})` });
    return /\(([0-9a-f-]{36})\)$/.exec(res.headers.get("odata-entityid")!)![1]!;
  };

  it.each([
    ["WinOpportunity", 3],
    ["LoseOpportunity", 4],
  ])("%s is filed under the opportunity that was closed", async (action, status) => {
    const opportunity = await newOpportunity();
    const res = await w.api("POST", action, { OpportunityClose: { subject: "closed", "opportunityid@odata.bind": `/opportunities(${opportunity})` }, Status: status });
    expect(res.status).toBe(204);
    await w.dv.webhooks.idle();
    const delivered = w.dv.webhooks.deliveries.at(-1)!;
    expect(delivered.body["PrimaryEntityId"]).not.toBe(opportunity);
    expect(w.results).toEqual([expect.objectContaining({ status: 200, outcome: "accepted", linkKey: `opportunity:${opportunity}` })]);
    const event = await w.store.findEvent("dataverse", `${action === "WinOpportunity" ? "Win" : "Lose"}|${String(delivered.body["OperationId"])}`);
    expect(event).toMatchObject({ linkKey: `opportunity:${opportunity}`, payload: expect.objectContaining({ entity: "opportunity", id: opportunity }) });
  });
});
