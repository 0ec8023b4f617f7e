/**
 * Bad input at the two webhook endpoints of a running bridge (`cosell-bridge serve`, a child
 * process): property-based bodies and header sets (fast-check), forged / truncated / tampered /
 * replayed / wrongly signed Partner Center events, a certificate URL off the allow-list (a decoy
 * server counts every request it gets: none may come), bodies over the 1 MB limit, a body far over
 * it (memory), and bodies that trickle in too slowly.
 *
 * "Nothing changed" is checked in the database itself: row counts of every table of the store.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { fc, test } from "@fast-check/jest";
import { OpportunityColumn, Table } from "@cosell/contract";
import { DATAVERSE_WEBHOOK_HEADER, loadConfig } from "@cosell/bridge/src/config";
import { startBridge, type RunningBridge } from "@cosell/bridge/src/index";
import { createLogger } from "@cosell/bridge/src/observability/logger";
import { REFERRAL_EVENT_NAMES } from "@cosell/bridge/src/partner-center/model";
import type { BridgeProcess } from "./support/bridge-process";
import { startCertificateServer, type CertificateServer } from "./support/signing";
import { tableCounts } from "./support/store-probe";
import { waitFor } from "./support/wait";
import { coSellReferral, World } from "./support/world";

const RUNS = Number(process.env["COSELL_FUZZ_RUNS"] ?? 1_200);
const LIMIT = 1024 * 1024;
/** What a few thousand refused requests may add to the bridge's resident memory (heap growth, JIT, caches). */
const MEMORY_GROWTH_LIMIT = 96 * 2 ** 20;

let world: World;
let bridge: BridgeProcess;
let dispatcher: CertificateServer; // allow-listed: its signatures verify
let decoy: CertificateServer; // off the allow-list: must never be asked
let webhookKey: string;
/** The store's row counts and the bridge's memory before any bad input. */
let baseline: Awaited<ReturnType<typeof tableCounts>>;
let rssBefore = 0;
/** Which way each generated request was answered (so that the properties provably reached every branch). */
const seen = { pcVerifiedButInvalid: 0, pcUnverifiable: 0, dvKeyed: 0, dvUnkeyed: 0, unsupportedMediaType: 0 };

beforeAll(async () => {
  [dispatcher, decoy] = await Promise.all([startCertificateServer("second-dispatcher"), startCertificateServer("decoy")]);
  world = await World.start({ name: "bad-input", store: "sqlite" });
  world.env.PC_WEBHOOK_CERT_ORIGINS = `${world.env.PC_WEBHOOK_CERT_ORIGINS},${dispatcher.origin}`;
  webhookKey = world.env.DATAVERSE_WEBHOOK_KEY as string;
  await world.connect();
  bridge = world.instance("bridge");
  await world.up(bridge);
  // A little history, so that "nothing changed" is checked against a store that has rows.
  await world.inboundReferral(coSellReferral("badinput1"));
  await waitFor(() => world.rows(Table.opportunity.logicalName).some((r) => r[OpportunityColumn.referralId]), "the first opportunity");
  await world.settle();
  baseline = await tableCounts(world.storeConfig);
  rssBefore = bridge.memory()?.rss ?? 0;
}, 240_000);

afterAll(async () => {
  await world?.close();
  await Promise.all([dispatcher?.close(), decoy?.close()]);
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One POST with exactly these bytes and headers (node:http: no header is added or normalised but Host and Content-Length). */
function post(url: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { ...headers, "content-length": String(body.length) }, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
afterAll(() => keepAlive.destroy());

/** The expected status; a media type the HTTP layer cannot parse may be refused first, with 415. */
function allowedStatuses(expected: 400 | 401, contentType: string): number[] {
  return contentType === "application/json" ? [expected] : [expected, 415];
}

const printable = fc.stringMatching(/^[\x20-\x7e]{0,120}$/);
/** Mostly what both services send; sometimes anything (which the HTTP layer may refuse with 415 first). */
const mediaType = fc.oneof({ arbitrary: fc.constant("application/json"), weight: 5 }, { arbitrary: fc.constantFrom("text/plain", "application/json; charset=utf-8"), weight: 1 }, { arbitrary: printable, weight: 2 });
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).map((n) => `x-fuzz-${n}`);
const extraHeaders = fc.dictionary(headerName, printable, { maxKeys: 4 });

/** Bodies no webhook may accept: bytes, text, JSON of any shape, and events broken in one place. */
const badId = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9-]{0,12}$/), fc.constantFrom("'", '"', " ", "{", "}", "<", ">", "(", ")", ",", ";", "=", "!", "*", "$", "@", "[", "]", "|", "^", "%", "'%20or%201%20eq%201"), fc.stringMatching(/^[A-Za-z0-9-]{0,12}$/))
  .map(([a, bad, b]) => `${a}${bad}${b}`);
const garbage = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 2000 }).map((s) => Buffer.from(s, "utf8")),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
  fc.constant(Buffer.alloc(0)),
);
const brokenPartnerCenterEvent = fc
  .record({
    EventName: fc.oneof(fc.constantFrom(...REFERRAL_EVENT_NAMES), fc.constant(""), fc.integer(), fc.constant(null)),
    ResourceUri: fc.oneof(badId.map((id) => `https://api.partnercenter.microsoft.com/engagements/v1/referrals/${id}`), fc.constant(""), fc.integer(), fc.constant(null)),
    ResourceChangeUtcDate: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.integer(), fc.constant(null)),
  }, { requiredKeys: [] })
  .map((e) => Buffer.from(JSON.stringify(e)));
const brokenDataverseContext = fc
  .record({
    MessageName: fc.oneof(fc.constantFrom("Create", "Update"), fc.integer(), fc.constant(null)),
    PrimaryEntityName: fc.oneof(fc.constantFrom(Table.opportunity.logicalName, Table.lead.logicalName), fc.integer()),
    PrimaryEntityId: fc.oneof(badId, fc.constant(""), fc.integer(), fc.constant(null)),
    OperationId: fc.oneof(fc.uuid(), fc.integer()),
    InputParameters: fc.oneof(fc.constant([{ key: "Target", value: { Attributes: "not a list" } }]), fc.constant("nope"), fc.constant([])),
  }, { requiredKeys: [] })
  .map((e) => Buffer.from(JSON.stringify(e)));

describe("Partner Center webhook, generated input", () => {
  test.prop(
    {
      body: fc.oneof(garbage, brokenPartnerCenterEvent),
      signature: fc.constantFrom("none", "garbage", "well-formed", "ours", "ours-for-other-bytes", "decoy"),
      carrier: fc.constantFrom("authorization", "x-ms-signature"),
      certificate: fc.constantFrom("none", "ours", "emulator", "decoy", "decoy-https", "decoy-userinfo", "not-a-url", "ours-other-port"),
      algorithm: fc.oneof(fc.constantFrom("rsa-sha256", "RSA-SHA256", "rsa-sha1", "none"), printable),
      contentType: mediaType,
      garbageText: printable,
      extra: extraHeaders,
    },
    { numRuns: RUNS },
  )(
    `answers ${RUNS} generated bodies and header sets with 401 (unverifiable) or 400 (verified but invalid), never fetching off the allow-list`,
    async ({ body, signature, carrier, certificate, algorithm, contentType, garbageText, extra }) => {
      const decoyUrl = new URL(decoy.certificateUrl);
      const certificateUrl: Record<typeof certificate, string | undefined> = {
        none: undefined,
        ours: dispatcher.certificateUrl,
        emulator: world.sandbox.partnerCenter.certificateUrl,
        decoy: decoy.certificateUrl,
        "decoy-https": decoy.certificateUrl.replace("http:", "https:"),
        "decoy-userinfo": `http://${new URL(dispatcher.origin).host}@${decoyUrl.host}${decoyUrl.pathname}`,
        "not-a-url": garbageText,
        "ours-other-port": `http://127.0.0.1:${decoyUrl.port}/certificates/second-dispatcher.cer`,
      };
      const signatures: Record<typeof signature, string | undefined> = {
        none: undefined,
        garbage: garbageText,
        "well-formed": `Signature ${Buffer.alloc(256, 7).toString("base64")}`,
        ours: dispatcher.sign(body),
        "ours-for-other-bytes": dispatcher.sign(Buffer.concat([body, Buffer.from(" ")])),
        decoy: decoy.sign(body),
      };
      const headers: Record<string, string> = { ...extra, "content-type": contentType };
      const sig = signatures[signature];
      const cert = certificateUrl[certificate];
      if (sig !== undefined) headers[carrier] = sig;
      if (cert !== undefined) headers["x-ms-certificate-url"] = cert;
      if (algorithm !== "none") headers["x-ms-signature-algorithm"] = algorithm;
      const answer = await post(`${bridge.url}/webhooks/partner-center`, body, headers);
      const verifiable = signature === "ours" && certificate === "ours" && algorithm.trim().toLowerCase() === "rsa-sha256";
      expect(allowedStatuses(verifiable ? 400 : 401, contentType)).toContain(answer.status);
      if (answer.status === 415) seen.unsupportedMediaType++;
      else if (verifiable) seen.pcVerifiedButInvalid++;
      else seen.pcUnverifiable++;
    },
    180_000,
  );

});

describe("Dataverse webhook, generated input", () => {
  test.prop(
    {
      body: fc.oneof(garbage, brokenDataverseContext),
      key: fc.oneof(
        fc.constantFrom("right", "missing", "upper", "prefix", "suffix", "doubled", "bearer"),
        printable.map((v) => `random:${v}`),
      ),
      contentType: mediaType,
      extra: extraHeaders,
    },
    { numRuns: RUNS },
  )(`answers ${RUNS} generated bodies and header sets with 401 (wrong or no key) or 400 (right key, invalid body)`, async ({ body, key, contentType, extra }) => {
    const values: Record<string, string | undefined> = {
      right: webhookKey,
      missing: undefined,
      upper: webhookKey.toUpperCase(),
      prefix: webhookKey.slice(0, -1),
      suffix: `${webhookKey}x`,
      doubled: `${webhookKey}${webhookKey}`,
      bearer: `Bearer ${webhookKey}`,
    };
    const value = key.startsWith("random:") ? key.slice("random:".length) : values[key];
    const headers: Record<string, string> = { ...extra, "content-type": contentType };
    if (value !== undefined) headers[DATAVERSE_WEBHOOK_HEADER] = value;
    const answer = await post(`${bridge.url}/webhooks/dataverse`, body, headers);
    const keyed = value !== undefined && value.trim() === webhookKey;
    expect(allowedStatuses(keyed ? 400 : 401, contentType)).toContain(answer.status);
    if (answer.status === 415) seen.unsupportedMediaType++;
    else if (keyed) seen.dvKeyed++;
    else seen.dvUnkeyed++;
  }, 180_000);
});

describe("after the generated input", () => {
  it("reached every branch: verified-but-invalid and unverifiable events, keyed and unkeyed contexts", () => {
    console.log(`generated requests answered: ${JSON.stringify(seen)}`);
    expect(seen.pcVerifiedButInvalid).toBeGreaterThan(0);
    expect(seen.pcUnverifiable).toBeGreaterThan(RUNS / 2);
    expect(seen.dvKeyed).toBeGreaterThan(0);
    expect(seen.dvUnkeyed).toBeGreaterThan(RUNS / 2);
  });

  it("changed nothing in the store", async () => {
    expect(await tableCounts(world.storeConfig)).toEqual(baseline);
  });

  it("never asked the decoy for its certificate, and asked the second dispatcher at most once (cached)", () => {
    expect(decoy.requests).toEqual([]);
    expect(dispatcher.requests.length).toBeLessThanOrEqual(1);
  });

  it("is alive, answers, and kept its memory bounded", async () => {
    expect(bridge.running).toBe(true);
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
    const after = bridge.memory();
    console.log(`bridge memory: ${(rssBefore / 2 ** 20).toFixed(0)} MB before ${2 * RUNS} bad requests, ${((after?.rss ?? 0) / 2 ** 20).toFixed(0)} MB after, peak ${((after?.peak ?? 0) / 2 ** 20).toFixed(0)} MB`);
    expect((after?.rss ?? 0) - rssBefore).toBeLessThan(MEMORY_GROWTH_LIMIT);
  });
});

describe("Partner Center events: forged, truncated, tampered, wrongly signed, replayed", () => {
  let delivery: { headers: Record<string, string>; body: string };
  let counts: Awaited<ReturnType<typeof tableCounts>>;

  beforeAll(async () => {
    const delivered = world.sandbox.partnerCenter.deliveries().filter((d) => d.status === "delivered" && d.eventName.startsWith("referral-"));
    const last = delivered[delivered.length - 1];
    if (!last) throw new Error("no delivered Partner Center event to work with");
    delivery = { headers: { ...last.headers }, body: last.body };
    await world.settle();
    counts = await tableCounts(world.storeConfig);
  });

  const signatureHeader = () => (delivery.headers["x-ms-signature"] !== undefined ? "x-ms-signature" : "authorization");
  const send = (body: string | Buffer, headers: Record<string, string>) => post(`${bridge.url}/webhooks/partner-center`, Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8"), headers);

  it.each([
    ["truncated (the last byte cut)", "signature-mismatch", () => ({ body: delivery.body.slice(0, -1), headers: delivery.headers })],
    ["tampered (another referral id)", "signature-mismatch", () => ({ body: delivery.body.replace(/referrals\/([0-9a-f])/, (_m, c: string) => `referrals/${c === "a" ? "b" : "a"}`), headers: delivery.headers })],
    ["wrongly signed (another key, Partner Center's certificate URL)", "signature-mismatch", () => ({ body: delivery.body, headers: { ...delivery.headers, [signatureHeader()]: dispatcher.sign(delivery.body) } })],
    ["forged (the forger's key and certificate, off the allow-list)", "certificate-origin-not-allowed", () => ({ body: delivery.body, headers: { ...delivery.headers, [signatureHeader()]: decoy.sign(delivery.body), "x-ms-certificate-url": decoy.certificateUrl } })],
    ["forged behind userinfo (http://allowed@forger/…)", "certificate-origin-not-allowed", () => ({ body: delivery.body, headers: { ...delivery.headers, [signatureHeader()]: decoy.sign(delivery.body), "x-ms-certificate-url": `http://${new URL(world.sandbox.partnerCenter.url).host}@${new URL(decoy.origin).host}/c.cer` } })],
    ["naming a weaker algorithm", "unsupported-algorithm", () => ({ body: delivery.body, headers: { ...delivery.headers, "x-ms-signature-algorithm": "rsa-sha1" } })],
    ["without its signature", "missing-header", () => ({ body: delivery.body, headers: Object.fromEntries(Object.entries(delivery.headers).filter(([k]) => k !== signatureHeader())) })],
  ] as const)("refuses an event %s with 401 (%s) and changes nothing", async (_what, failure, make) => {
    const { body, headers } = make();
    const answer = await send(body, headers);
    expect(answer.status).toBe(401);
    expect(answer.body).toContain(failure);
    expect(await tableCounts(world.storeConfig)).toEqual(counts);
    expect(decoy.requests).toEqual([]);
  });

  it("accepts a replayed event once: the replay is recognised as a duplicate and does no work", async () => {
    const writesBefore = { pc: world.sandbox.partnerCenter.changes().length, dv: world.sandbox.dataverse.organization.changes.length };
    const answer = await send(delivery.body, delivery.headers);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: "duplicate" });
    await world.settle();
    expect(await tableCounts(world.storeConfig)).toEqual(counts);
    expect({ pc: world.sandbox.partnerCenter.changes().length, dv: world.sandbox.dataverse.organization.changes.length }).toEqual(writesBefore);
  });

  it("accepts a replayed Dataverse webhook once as well", async () => {
    const d = [...world.sandbox.dataverse.webhooks.deliveries].reverse().find((x) => x.outcome === "delivered");
    if (!d) throw new Error("no delivered Dataverse webhook to work with");
    const answer = await post(`${bridge.url}/webhooks/dataverse`, Buffer.from(JSON.stringify(d.body)), { "content-type": "application/json", [DATAVERSE_WEBHOOK_HEADER]: webhookKey });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: "duplicate" });
    expect(await tableCounts(world.storeConfig)).toEqual(counts);
  });
});

describe("body limits", () => {
  /** Declares `length` bytes and sends none: the answer must come from the declaration alone. */
  function declaredOnly(url: string, length: number, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: "POST", headers: { ...headers, "content-length": String(length) }, agent: false });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", (err) => reject(err));
      req.setTimeout(30_000, () => req.destroy(new Error("no answer to the declared length: the server waited for the body")));
      req.flushHeaders();
    });
  }

  /**
   * Sends `totalBytes` (with a length, or chunked without one) and resolves with the status, however
   * early the server answers. A raw socket rather than http.request: a server that answers 413 and
   * closes while the body is still coming makes the next write fail (EPIPE), and Node's client then
   * reports that error instead of the response it already received.
   */
  function oversized(url: string, totalBytes: number, options: { chunked: boolean; headers: Record<string, string> }): Promise<{ status: number; written: number }> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const headers: Record<string, string> = { host: u.host, ...options.headers, ...(options.chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(totalBytes) }) };
      const head = `POST ${u.pathname} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
      const socket = net.connect(Number(u.port), u.hostname);
      let written = 0;
      let received = "";
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
        if (!status && err) return void ((settled = true), reject(new Error(`${err.message} after ${written} bytes, received ${JSON.stringify(received.slice(0, 300))}`)));
        if (!status) return;
        settled = true;
        socket.destroy();
        resolve({ status: Number(status), written });
      };
      socket.on("data", (d: Buffer) => {
        received += d.toString("latin1");
        if (/\r\n\r\n/.test(received)) finish();
      });
      // A write refused (EPIPE) does not settle anything: the answer may still be read before the close.
      let writeError: Error | undefined;
      socket.on("error", (err) => (writeError = err));
      socket.on("close", () => finish(writeError ?? new Error("the connection closed without an answer")));
      socket.setTimeout(30_000, () => socket.destroy(new Error("no answer: the server kept reading")));
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      socket.once("connect", () => {
        socket.write(head);
        const pump = (): void => {
          while (!settled && !socket.destroyed && written < totalBytes) {
            const n = Math.min(chunk.length, totalBytes - written);
            written += n;
            const body = n === chunk.length ? chunk : chunk.subarray(0, n);
            const ok = options.chunked ? socket.write(Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), body, Buffer.from("\r\n")])) : socket.write(body);
            if (!ok) return void socket.once("drain", pump);
          }
          if (!settled && !socket.destroyed && options.chunked) socket.write("0\r\n\r\n");
        };
        pump();
      });
    });
  }

  it.each([
    ["partner-center", {}],
    ["dataverse", { [DATAVERSE_WEBHOOK_HEADER]: "" }],
  ] as const)("refuses a %s webhook one byte over 1 MB with 413, and takes one of exactly 1 MB to the next check", async (endpoint, extra) => {
    const headers = { "content-type": "application/json", ...extra, ...(endpoint === "dataverse" ? { [DATAVERSE_WEBHOOK_HEADER]: webhookKey } : {}) };
    const over = await declaredOnly(`${bridge.url}/webhooks/${endpoint}`, LIMIT + 1, headers);
    expect(over).toBe(413);
    const at = await oversized(`${bridge.url}/webhooks/${endpoint}`, LIMIT, { chunked: false, headers });
    expect(at.status).toBe(endpoint === "dataverse" ? 400 : 401); // read in full, then refused for what it says
    expect(await tableCounts(world.storeConfig)).toEqual(baseline);
  });

  it("cuts a 64 MB body sent without a length at 1 MB (413) without holding it in memory", async () => {
    const before = bridge.memory();
    const answer = await oversized(`${bridge.url}/webhooks/dataverse`, 64 * LIMIT, { chunked: true, headers: { "content-type": "application/json", [DATAVERSE_WEBHOOK_HEADER]: webhookKey } });
    expect(answer.status).toBe(413);
    expect(answer.written).toBeLessThan(64 * LIMIT);
    const after = bridge.memory();
    console.log(`64 MB chunked body: answered 413 after ${(answer.written / LIMIT).toFixed(1)} MB written; bridge RSS ${((before?.rss ?? 0) / 2 ** 20).toFixed(0)} → ${((after?.rss ?? 0) / 2 ** 20).toFixed(0)} MB`);
    expect((after?.rss ?? 0) - (before?.rss ?? 0)).toBeLessThan(32 * 2 ** 20);
    expect(bridge.running).toBe(true);
  });
});

describe("slow bodies", () => {
  // The shipped deadline is 30 s (src/server/app.ts); an in-process bridge with a 1.5 s deadline shows
  // the mechanism without a half-minute wait.
  const DEADLINE_MS = 1_500;
  let slow: RunningBridge;
  let dir: string;
  let storePath: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-slow-"));
    storePath = path.join(dir, "bridge.sqlite");
    const env = { ...world.env, BRIDGE_PORT: "0", BRIDGE_SQLITE_PATH: storePath, BRIDGE_INSTANCE_ID: "slow-bodies" };
    const quiet = new Writable({ write: (_c, _e, done) => done() });
    const config = loadConfig(env);
    slow = await startBridge(config, { store: { kind: "sqlite", path: storePath }, worker: false, reconcile: false, requestTimeoutMs: DEADLINE_MS, log: createLogger({ level: "warn", destination: quiet }) });
  }, 60_000);

  afterAll(async () => {
    await slow?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("cuts off a webhook whose body trickles in slower than the deadline, stores nothing, and keeps answering others meanwhile", async () => {
    const before = await tableCounts({ kind: "sqlite", path: storePath });
    const url = new URL(slow.url);
    const socket = net.connect(Number(url.port), url.hostname);
    let answer = "";
    let closed = false;
    socket.on("data", (d: Buffer) => (answer += d.toString("utf8")));
    socket.on("close", () => (closed = true));
    socket.on("error", () => (closed = true));
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(`POST /webhooks/dataverse HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n${DATAVERSE_WEBHOOK_HEADER}: ${webhookKey}\r\nContent-Length: 4000\r\n\r\n{`);
    const started = Date.now();
    const trickle = setInterval(() => {
      if (!closed) socket.write(" ");
    }, 200);
    try {
      // Meanwhile the bridge serves everyone else.
      expect((await fetch(`${slow.url}/healthz`)).status).toBe(200);
      await waitFor(() => closed || answer.length > 0, "the bridge to give up on the slow body", 30_000, 50);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    const elapsed = Date.now() - started;
    console.log(`slow body: cut off after ${elapsed} ms (deadline ${DEADLINE_MS} ms): ${answer.split("\r\n")[0] || "connection closed"}`);
    // Cut off (the 30 s wait above is far shorter than the 800 s the trickle would take): 408, or closed.
    expect(answer === "" || answer.startsWith("HTTP/1.1 408")).toBe(true);
    expect(await tableCounts({ kind: "sqlite", path: storePath })).toEqual(before);
  });
});
