/**
 * The bridge's own `$batch` (DataverseClient.batch / batchReads) round-tripped through the Dataverse
 * emulator's parser: what the bridge frames, the emulator reads, and what the emulator answers, the
 * bridge splits back into one response per request.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { TokenService } from "@cosell/sandbox/src/identity";
import { startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox/src/dataverse";
import { parseBatch } from "@cosell/sandbox/src/dataverse/api/batch";
import { DataverseClient } from "../src/dataverse/client";

const RESOURCE = "https://org.crm.dynamics.com";

describe("DataverseClient $batch against the emulator", () => {
  let dv: DataverseEmulator;
  let client: DataverseClient;
  beforeAll(async () => {
    const tokens = new TokenService();
    dv = await startDataverseEmulator({ tokens, resourceUrl: RESOURCE });
    const appId = randomUUID();
    dv.registerApplicationUser({ applicationId: appId, fullName: "Co-sell Bridge", roles: ["System Administrator"] });
    tokens.registerClient({ clientId: appId, clientSecret: "secret" });
    const token = tokens.clientCredentials({ clientId: appId, clientSecret: "secret", resource: RESOURCE }).accessToken;
    client = new DataverseClient({ url: dv.url, getToken: async () => token, callerTag: "cosell-bridge" });
  });
  afterAll(async () => {
    await client.close();
    await dv.close();
  });

  it("frames change sets and reads so that the emulator's parser reads them part for part", async () => {
    // A recorder in Dataverse's place: it keeps the body the bridge sends and answers an empty batch.
    let sent: { body: Buffer; contentType: string } | undefined;
    const recorder = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        sent = { body: Buffer.concat(chunks), contentType: String(req.headers["content-type"]) };
        res.writeHead(200, { "content-type": "multipart/mixed; boundary=batchresponse_x" }).end("--batchresponse_x--\r\n");
      });
    });
    await new Promise<void>((resolve) => recorder.listen(0, "127.0.0.1", resolve));
    const recording = new DataverseClient({ url: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`, getToken: async () => "t", callerTag: "cosell-bridge" });
    try {
      await recording.batch([[{ method: "POST", path: "/accounts", body: { name: "a" } }, { method: "PATCH", path: "/accounts(00000000-0000-0000-0000-000000000001)", body: { name: "b" }, headers: { "If-Match": "*" } }]]);
      const writes = parseBatch(sent!.body, sent!.contentType);
      await recording.batchReads(["/accounts?$select=name", "WhoAmI"]);
      const reads = parseBatch(sent!.body, sent!.contentType);
      expect(writes).toEqual([
        {
          kind: "changeset",
          requests: [
            expect.objectContaining({ method: "POST", contentId: "1", target: expect.stringMatching(/\/api\/data\/v9\.2\/accounts\?tag=cosell-bridge$/) }),
            expect.objectContaining({ method: "PATCH", contentId: "2", target: expect.stringMatching(/accounts\(0{8}-0{4}-0{4}-0{4}-0{11}1\)\?tag=cosell-bridge$/) }),
          ],
        },
      ]);
      const [first, second] = writes[0]!.kind === "changeset" ? writes[0]!.requests : [];
      expect(JSON.parse(String(first!.body))).toEqual({ name: "a" });
      expect(second!.headers.get("if-match")).toBe("*");
      expect(reads.map((i) => (i.kind === "request" ? [i.request.method, i.request.body] : i.kind))).toEqual([
        ["GET", undefined],
        ["GET", undefined],
      ]);
    } finally {
      await recording.close();
      await new Promise((resolve) => recorder.close(resolve));
    }
  });

  it("writes change sets atomically and reads back in one batch, one response per request", async () => {
    const name = `rt-${randomUUID()}`;
    const written = await client.batch([
      [
        { method: "POST", path: "/accounts", body: { name } },
        { method: "POST", path: "/accounts", body: { name: `${name}-b`, telephone1: "7" } },
      ],
      [{ method: "POST", path: "/accounts", body: { name: `${name}-bad`, nosuchcolumn: 1 } }],
    ]);
    expect(written.map((r) => r.status)).toEqual([204, 204, 400]);
    expect(written[2]!.error).toBeDefined();
    const [found, missing] = await client.batchReads([`/accounts?$select=name,telephone1&$filter=startswith(name,'${name}')&$orderby=name`, `/accounts(${randomUUID()})`]);
    expect(found!.status).toBe(200);
    expect((found!.body as { value: Array<{ name: string }> }).value.map((r) => r.name)).toEqual([name, `${name}-b`]);
    expect(missing!.status).toBe(404);
  });
});
