/**
 * The bridge's HTTP surface against the real emulators (the sandbox), worker off so the store shows
 * exactly what each request left behind: webhook intake (persist before 2xx, every way to be
 * refused with nothing stored), probes, metrics, the status page and the admin API behind the token.
 */
import { createServer, type Server } from "node:http";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import type { AddressInfo } from "node:net";
import { startSandbox, type Sandbox } from "@cosell/sandbox/src/compose";
import { createCertificateAuthority, createDispatchIdentity, type DispatchIdentity } from "@cosell/sandbox/src/partner-center";
import { loadConfig, type BridgeConfig, DATAVERSE_WEBHOOK_HEADER } from "../src/config";
import { createRuntime, type BridgeRuntime } from "../src/engine/runtime";
import { REFERRALS_RESOURCE } from "../src/partner-center/client";
import { createLogger } from "../src/observability/logger";
import { buildServer } from "../src/server/app";
import { formToken } from "../src/server/admin-auth";
import type { FastifyInstance } from "fastify";

jest.setTimeout(60_000);

interface CertHost {
  readonly origin: string;
  downloads: number;
  close(): Promise<void>;
}

/** Serves `identity` at /cert.cer and, when given, `foreign` (issued by another root) at /foreign.cer. */
async function certificateHost(identity: DispatchIdentity, foreign?: DispatchIdentity): Promise<CertHost> {
  const host: CertHost = { origin: "", downloads: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    host.downloads++;
    if (req.url === "/cert.cer") res.end(identity.certificateDer);
    else if (req.url === "/foreign.cer" && foreign) res.end(foreign.certificateDer);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return Object.assign(host, {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

describe("bridge HTTP server", () => {
  let sandbox: Sandbox;
  let identity: DispatchIdentity;
  let foreign: DispatchIdentity;
  let certs: CertHost;
  let offList: CertHost;
  let config: BridgeConfig;
  let rt: BridgeRuntime;
  let app: FastifyInstance;
  let url: string;
  let dir: string;
  const logLines: string[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    sandbox = await startSandbox({ ports: { identity: 0, partnerCenter: 0, dataverse: 0 } });
    identity = await createDispatchIdentity();
    foreign = await createDispatchIdentity({ authority: await createCertificateAuthority("Some Other Root CA") });
    certs = await certificateHost(identity, foreign);
    offList = await certificateHost(identity);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-server-"));
    env = sandbox.bridgeEnvironment({ port: 0, sqlitePath: path.join(dir, "bridge.sqlite"), extra: { PC_WEBHOOK_CERT_ORIGINS: certs.origin } });
    config = loadConfig(env);
    const log = createLogger({
      level: "debug",
      secrets: [config.http.adminToken, config.dataverse.webhookKey, config.dataverse.clientSecret, config.partnerCenter.refreshToken ?? ""].filter((s) => s !== ""),
      destination: new Writable({ write: (c: Buffer, _e, done) => (logLines.push(c.toString("utf8")), done()) }),
    });
    rt = await createRuntime(config, { log });
    app = await buildServer(rt, { requestTimeoutMs: 1_500 });
    await app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await rt?.close();
    await certs?.close();
    await offList?.close();
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const event = (overrides: Record<string, unknown> = {}) =>
    Buffer.from(
      JSON.stringify({
        EventName: "referral-updated",
        ResourceUri: "https://api.partnercenter.microsoft.com/engagements/v1/referrals/ref-1",
        ResourceName: "referral",
        AuditUri: null,
        ResourceChangeUtcDate: "2026-11-25T10:00:00.1234567+00:00",
        ...overrides,
      }),
    );
  const signed = (body: Buffer, origin = certs.origin) => ({
    "content-type": "application/json",
    authorization: `Signature ${identity.sign(body)}`,
    "x-ms-certificate-url": `${origin}/cert.cer`,
    "x-ms-signature-algorithm": "rsa-sha256",
  });
  const post = (p: string, body: Buffer | string, headers: Record<string, string>) => fetch(`${url}${p}`, { method: "POST", headers, body: typeof body === "string" ? body : new Uint8Array(body) });
  /** What the store holds (counts only: the lag moves with the clock). */
  const stats = async () => {
    const s = await rt.store.queueStats();
    return { queued: s.queued, running: s.running, dead: s.dead };
  };

  describe("Partner Center webhooks", () => {
    it("persists a signed event with its job before answering 200, under the referral's key", async () => {
      const body = event();
      const res = await post("/webhooks/partner-center", body, signed(body));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "accepted" });
      const stored = await rt.store.findEvent("partner-center", "referral-updated|ref-1|2026-11-25T10:00:00.1234567+00:00");
      expect(stored).toMatchObject({ linkKey: "referral:ref-1", payload: { referralId: "ref-1", eventName: "referral-updated" } });
      expect((await stats()).queued).toBe(1);
    });

    it("answers a redelivery 200 and stores nothing new", async () => {
      const body = event();
      const res = await post("/webhooks/partner-center", body, signed(body));
      expect(await res.json()).toEqual({ status: "duplicate" });
      expect((await stats()).queued).toBe(1);
    });

    it("files an event under the link's own key once the referral is linked", async () => {
      await rt.store.saveLink({ key: "opportunity:0b7c9a52-6c1e-4f7a-9d5e-1a2b3c4d5e6f", referralId: "ref-linked", entity: "opportunity", recordId: "0b7c9a52-6c1e-4f7a-9d5e-1a2b3c4d5e6f", base: {}, state: "active", expectedVersion: null });
      const body = event({ ResourceUri: "https://x/engagements/v1/referrals/ref-linked" });
      expect((await post("/webhooks/partner-center", body, signed(body))).status).toBe(200);
      expect(await rt.store.findEvent("partner-center", "referral-updated|ref-linked|2026-11-25T10:00:00.1234567+00:00")).toMatchObject({ linkKey: "opportunity:0b7c9a52-6c1e-4f7a-9d5e-1a2b3c4d5e6f" });
    });

    it("answers the test event 200 and does no work", async () => {
      const before = await stats();
      const body = event({ EventName: "test-created", ResourceUri: "https://x/webhooks/v1/registration/validationEvents/c-1" });
      const res = await post("/webhooks/partner-center", body, signed(body));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ignored" });
      expect(await stats()).toEqual(before);
    });

    it.each([
      ["a body changed after signing", () => ({ body: event({ ResourceUri: "https://x/engagements/v1/referrals/evil" }), headers: signed(event()) })],
      ["no signature headers", () => ({ body: event(), headers: { "content-type": "application/json" } })],
      ["a signature from another key", () => ({ body: event(), headers: { ...signed(event()), authorization: `Signature ${Buffer.alloc(256, 7).toString("base64")}` } })],
      ["another algorithm", () => ({ body: event(), headers: { ...signed(event()), "x-ms-signature-algorithm": "hmac-sha1" } })],
    ])("refuses %s with 401 and stores nothing", async (_what, make) => {
      const before = await stats();
      const { body, headers } = make();
      const res = await post("/webhooks/partner-center", body, headers);
      expect(res.status).toBe(401);
      expect(await stats()).toEqual(before);
    });

    it("refuses a certificate issued by a root the sandbox's bridge does not trust, on an allow-listed host", async () => {
      const before = await stats();
      const body = event({ ResourceUri: "https://x/engagements/v1/referrals/ref-foreign" });
      const res = await post("/webhooks/partner-center", body, { ...signed(body), authorization: `Signature ${foreign.sign(body)}`, "x-ms-certificate-url": `${certs.origin}/foreign.cer` });
      expect(res.status).toBe(401);
      expect(await stats()).toEqual(before);
      expect(logLines.join("")).toMatch(/certificate-untrusted/);
    });

    it("never fetches a certificate from an origin off the allow-list", async () => {
      const before = offList.downloads;
      const body = event({ ResourceUri: "https://x/engagements/v1/referrals/ref-off" });
      const res = await post("/webhooks/partner-center", body, signed(body, offList.origin));
      expect(res.status).toBe(401);
      expect(offList.downloads).toBe(before);
    });

    it("refuses a signed body that is not JSON, or not an event, with 400", async () => {
      const before = await stats();
      const notJson = Buffer.from("{not json");
      expect((await post("/webhooks/partner-center", notJson, signed(notJson))).status).toBe(400);
      const notEvent = Buffer.from(JSON.stringify({ EventName: "referral-updated" }));
      expect((await post("/webhooks/partner-center", notEvent, signed(notEvent))).status).toBe(400);
      const badId = event({ ResourceUri: "https://x/engagements/v1/referrals/{{ReferralID}}" });
      expect((await post("/webhooks/partner-center", badId, signed(badId))).status).toBe(400);
      expect(await stats()).toEqual(before);
    });

    it("refuses a body over 1 MB with 413", async () => {
      const before = await stats();
      const big = Buffer.alloc(1024 * 1024 + 10, 32);
      const res = await post("/webhooks/partner-center", big, signed(big));
      expect(res.status).toBe(413);
      expect(await stats()).toEqual(before);
    });

    it("cuts off a body that trickles in too slowly", async () => {
      const port = Number(new URL(url).port);
      const closed = await new Promise<string>((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => {
          socket.write("POST /webhooks/partner-center HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"Ev");
        });
        let answer = "";
        socket.on("data", (d: Buffer) => (answer += d.toString("utf8")));
        socket.on("close", () => resolve(answer));
        socket.on("error", () => resolve(answer));
      });
      expect(closed === "" || /^HTTP\/1\.1 408/.test(closed)).toBe(true);
    });
  });

  describe("Dataverse webhooks", () => {
    const context = (overrides: Record<string, unknown> = {}) =>
      JSON.stringify({
        MessageName: "Update",
        PrimaryEntityName: "opportunity",
        PrimaryEntityId: "5a1dbb0c-1111-4000-8000-000000000001",
        OperationId: "op-1",
        CorrelationId: "corr-1",
        Depth: 1,
        InputParameters: [{ key: "Target", value: { LogicalName: "opportunity", Id: "5a1dbb0c-1111-4000-8000-000000000001", Attributes: [{ key: "name", value: "x" }] } }],
        ...overrides,
      });
    const keyed = { "content-type": "application/json", [DATAVERSE_WEBHOOK_HEADER]: "" };
    beforeAll(() => {
      keyed[DATAVERSE_WEBHOOK_HEADER] = config.dataverse.webhookKey;
    });

    it("refuses a missing or wrong key with 401 and stores nothing", async () => {
      const before = await stats();
      expect((await post("/webhooks/dataverse", context(), { "content-type": "application/json" })).status).toBe(401);
      expect((await post("/webhooks/dataverse", context(), { ...keyed, [DATAVERSE_WEBHOOK_HEADER]: `${config.dataverse.webhookKey}x` })).status).toBe(401);
      expect(await stats()).toEqual(before);
    });

    it("records an opportunity change under the record's key, once per OperationId", async () => {
      const res = await post("/webhooks/dataverse", context(), keyed);
      expect(await res.json()).toEqual({ status: "accepted" });
      expect(await rt.store.findEvent("dataverse", "Update|op-1")).toMatchObject({ linkKey: "opportunity:5a1dbb0c-1111-4000-8000-000000000001" });
      expect(await (await post("/webhooks/dataverse", context(), keyed)).json()).toEqual({ status: "duplicate" });
    });

    it("ignores tables it does not sync, and refuses what is not a RemoteExecutionContext", async () => {
      const before = await stats();
      expect(await (await post("/webhooks/dataverse", context({ PrimaryEntityName: "account", OperationId: "op-2" }), keyed)).json()).toEqual({ status: "ignored" });
      expect((await post("/webhooks/dataverse", JSON.stringify({ hello: "world" }), keyed)).status).toBe(400);
      expect((await post("/webhooks/dataverse", context({ PrimaryEntityId: "../../x", OperationId: "op-3" }), keyed)).status).toBe(400);
      expect(await stats()).toEqual(before);
    });
  });

  describe("probes and metrics", () => {
    it("/healthz answers while the process runs", async () => {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    });

    it("/metrics speaks Prometheus text with events, syncs, queue depth and lag", async () => {
      const res = await fetch(`${url}/metrics`);
      const text = await res.text();
      expect(res.headers.get("content-type")).toMatch(/text\/plain/);
      expect(text).toMatch(/cosell_bridge_events_received_total\{source="partner-center",outcome="accepted"\} [1-9]/);
      expect(text).toMatch(/cosell_bridge_events_received_total\{source="dataverse",outcome="rejected"\} [1-9]/);
      expect(text).toMatch(/cosell_bridge_queue_jobs\{state="queued"\} [1-9]/);
      expect(text).toMatch(/cosell_bridge_queue_lag_seconds /);
      expect(text).toMatch(/# TYPE cosell_bridge_sync_duration_seconds histogram/);
    });

    it("/readyz is ready, then says loudly that Partner Center sign-in fails once the refresh token is revoked", async () => {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      sandbox.tokens.revokeUser("referrals.admin@sandbox.onmicrosoft.com");
      rt.partnerCenterTokens.invalidate(REFERRALS_RESOURCE);
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { problems: string[] };
      expect(body.problems.join(" ")).toMatch(/Partner Center sign-in: .*refresh token no longer works/);
      expect(logLines.some((l) => l.includes("not ready") && l.includes("Partner Center sign-in"))).toBe(true);
      const page = await fetch(`${url}/`, { headers: { authorization: `Bearer ${config.http.adminToken}` } });
      expect(await page.text()).toMatch(/Partner Center: cannot sign in/);
    });
  });

  describe("status page and admin API", () => {
    let deadId: number;
    beforeAll(async () => {
      await rt.store.enqueue({ linkKey: "referral:dead-1", kind: "sync", payload: {} });
      const job = await rt.store.claimNext("test", 60_000);
      if (!job) throw new Error("no job");
      deadId = job.id;
      await rt.store.deadLetter(job.id, "Partner Center refused it: <script>alert(1)</script>", "test");
      await rt.store.recordSync({ linkKey: "referral:dead-1", direction: "CRM→PC", outcome: "error", message: "refused <b>bold</b>", correlationId: "c-1", at: new Date() });
    });
    const bearer = () => ({ authorization: `Bearer ${config.http.adminToken}` });
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`admin:${password}`).toString("base64")}` });

    it.each([
      ["GET", "/"],
      ["GET", "/admin/status"],
      ["GET", "/admin/dead-letters"],
      ["POST", "/admin/reconcile"],
    ])("%s %s without the admin token: 401", async (method, p) => {
      const res = await fetch(`${url}${p}`, { method });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Basic/);
      expect((await fetch(`${url}${p}`, { method, headers: basic("wrong-token-wrong-token-wrong") })).status).toBe(401);
    });

    it("does nothing to a dead letter without the token", async () => {
      const res = await fetch(`${url}/admin/dead-letters/${deadId}/retry`, { method: "POST" });
      expect(res.status).toBe(401);
      expect((await rt.store.getJob(deadId))?.state).toBe("dead");
    });

    it("shows dead letters with their reasons, escaped, and recent failures", async () => {
      const res = await fetch(`${url}/`, { headers: basic(config.http.adminToken) });
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain("Partner Center refused it: &lt;script&gt;alert(1)&lt;/script&gt;");
      expect(html).not.toContain("<script>");
      expect(html).toContain("refused &lt;b&gt;bold&lt;/b&gt;");
      expect(html).toContain(`action="/admin/dead-letters/${deadId}/retry"`);
      const list = (await (await fetch(`${url}/admin/dead-letters`, { headers: bearer() })).json()) as { value: Array<{ id: number }> };
      expect(list.value.map((j) => j.id)).toContain(deadId);
    });

    it("refuses a form post without the page's form token (another site cannot press Retry)", async () => {
      const res = await fetch(`${url}/admin/dead-letters/${deadId}/retry`, {
        method: "POST",
        headers: { ...basic(config.http.adminToken), "content-type": "application/x-www-form-urlencoded" },
        body: "csrf=forged",
      });
      expect(res.status).toBe(403);
      expect((await rt.store.getJob(deadId))?.state).toBe("dead");
    });

    it("retries a dead letter from the status page's button", async () => {
      const res = await fetch(`${url}/admin/dead-letters/${deadId}/retry`, {
        method: "POST",
        redirect: "manual",
        headers: { ...basic(config.http.adminToken), "content-type": "application/x-www-form-urlencoded" },
        body: `csrf=${encodeURIComponent(formToken(config.http.adminToken))}`,
      });
      expect(res.status).toBe(303);
      expect((await rt.store.getJob(deadId))?.state).toBe("queued");
      const again = await fetch(`${url}/admin/dead-letters/${deadId}/retry`, { method: "POST", headers: bearer() });
      expect(again.status).toBe(409);
      expect((await fetch(`${url}/admin/dead-letters/999999/retry`, { method: "POST", headers: bearer() })).status).toBe(404);
    });

    it("never writes a secret to the log", () => {
      const secrets = [config.http.adminToken, config.dataverse.webhookKey, config.dataverse.clientSecret, config.partnerCenter.clientSecret, config.partnerCenter.refreshToken ?? ""].filter((s) => s !== "");
      expect(logLines.length).toBeGreaterThan(0);
      for (const s of secrets) expect(logLines.filter((l) => l.includes(s))).toEqual([]);
    });
  });
});
