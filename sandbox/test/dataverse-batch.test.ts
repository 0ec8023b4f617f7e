/**
 * Dataverse emulator: `$batch` (spec §4.6) — change sets are atomic (rolled back on failure),
 * Content-ID references, GETs outside change sets, response framing, the 1,000-request limit.
 */
import { randomUUID } from "node:crypto";
import { startHarness, type Harness } from "./fixtures/dataverse/harness";
import { buildBatch, parseBatchResponse, type BatchEntry, type ParsedResponse } from "./fixtures/dataverse/batch";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

async function batch(entries: readonly BatchEntry[], headers: Record<string, string> = {}) {
  const { contentType, body } = buildBatch(entries, randomUUID());
  const res = await h.api("POST", "$batch", { raw: body, headers: { "Content-Type": contentType, ...headers } });
  return { res, parts: res.status === 200 ? parseBatchResponse(res.headers.get("content-type") ?? "", res.text) : [] };
}

const count = async (filter: string) => (await h.api("GET", `accounts?$filter=${filter}&$count=true&$select=name`)).json["@odata.count"] as number;

describe("$batch", () => {
  it("commits a change set with Content-ID references and answers each part in order", async () => {
    const name = `cs-${randomUUID()}`;
    const { res, parts } = await batch([
      {
        changeset: [
          { method: "POST", url: `${h.dv.apiUrl}/accounts`, contentId: "1", body: { name } },
          { method: "POST", url: "/api/data/v9.2/contacts", contentId: "2", body: { lastname: "Child", "parentcustomerid_account@odata.bind": "$1" } },
          { method: "PATCH", url: "$1", contentId: "3", body: { telephone1: "42" } },
        ],
      },
      { method: "GET", url: `accounts?$select=name,telephone1&$filter=name eq '${name}'`, headers: { Accept: "application/json" } },
    ]);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^multipart\/mixed; boundary=batchresponse_[0-9a-f-]{36}$/);
    expect(res.text.endsWith(`--${/boundary=(\S+)/.exec(res.headers.get("content-type")!)![1]}--\r\n`)).toBe(true);
    expect(parts).toHaveLength(2);
    const cs = parts[0] as { changeset: ParsedResponse[]; boundary: string };
    expect(cs.boundary).toMatch(/^changesetresponse_/);
    expect(cs.changeset.map((p) => [p.contentId, p.status])).toEqual([
      ["1", 204],
      ["2", 204],
      ["3", 204],
    ]);
    expect(cs.changeset[0]!.headers["odata-entityid"]).toMatch(/\/accounts\([0-9a-f-]{36}\)$/);
    const get = parts[1] as ParsedResponse;
    expect(get.status).toBe(200);
    expect(get.json.value).toEqual([expect.objectContaining({ name, telephone1: "42" })]);
  });

  it("rolls a failed change set back entirely and answers only the failing request's error", async () => {
    const name = `rb-${randomUUID()}`;
    const before = await h.api("POST", "accounts", { body: { name: `${name}-existing`, telephone1: "1" } });
    const existing = /\(([0-9a-f-]{36})\)/.exec(before.headers.get("odata-entityid")!)![1]!;
    const { res, parts } = await batch([
      {
        changeset: [
          { method: "POST", url: "accounts", contentId: "1", body: { name: `${name}-new` } },
          { method: "PATCH", url: `accounts(${existing})`, contentId: "2", body: { telephone1: "2" } },
          { method: "POST", url: "accounts", contentId: "3", body: { name: `${name}-bad`, nosuchcolumn: 1 } },
        ],
      },
      { method: "GET", url: "WhoAmI" },
    ]);
    expect(res.status).toBe(200);
    expect(parts).toHaveLength(1); // the batch stops at the first failure
    const err = parts[0] as ParsedResponse;
    expect(err.status).toBe(400);
    expect(err.json.error.code).toBe("0x80048d19");
    expect(await count(`startswith(name,'${name}')`)).toBe(1);
    expect((await h.api("GET", `accounts(${existing})/telephone1`)).json.value).toBe("1");
  });

  it("continues after a failure with Prefer: odata.continue-on-error", async () => {
    const name = `coe-${randomUUID()}`;
    const { res, parts } = await batch(
      [
        { method: "POST", url: "accounts", body: { name: "x".repeat(200) } },
        { method: "POST", url: "accounts", body: { name } },
        { method: "GET", url: `accounts(${randomUUID()})` },
      ],
      { Prefer: "odata.continue-on-error" },
    );
    expect(res.headers.get("preference-applied")).toBe("odata.continue-on-error");
    expect((parts as ParsedResponse[]).map((p) => p.status)).toEqual([400, 204, 404]);
    expect(await count(`name eq '${name}'`)).toBe(1);
  });

  it("runs requests outside change sets independently (an earlier success stays)", async () => {
    const name = `ind-${randomUUID()}`;
    const { parts } = await batch([
      { method: "POST", url: "accounts", body: { name } },
      { method: "PATCH", url: `accounts(${randomUUID()})`, body: { name: "x" }, headers: { "If-Match": "*" } },
    ]);
    expect((parts as ParsedResponse[]).map((p) => p.status)).toEqual([204, 404]);
    expect(await count(`name eq '${name}'`)).toBe(1);
  });

  it("refuses a GET inside a change set", async () => {
    const { parts } = await batch([{ changeset: [{ method: "GET", url: "accounts" }] }]);
    expect((parts[0] as ParsedResponse).status).toBe(400);
  });

  it("returns representations inside a batch", async () => {
    const { parts } = await batch([
      { method: "POST", url: "accounts?$select=name", body: { name: "rep" }, headers: { Prefer: "return=representation" } },
    ]);
    const p = parts[0] as ParsedResponse;
    expect(p.status).toBe(201);
    expect(p.json).toMatchObject({ name: "rep", accountid: expect.any(String) });
  });

  it("refuses more than 1,000 requests and a body that is not multipart", async () => {
    const many = Array.from({ length: 1001 }, () => ({ method: "GET", url: "WhoAmI" }));
    const { res } = await batch(many);
    expect(res.status).toBe(400);
    const notMultipart = await h.api("POST", "$batch", { body: { hello: 1 } });
    expect(notMultipart.status).toBe(400);
  });
});

/**
 * Issue 12: bodies as real clients frame them. RFC 2046 §5.1.1 allows a preamble before the first
 * delimiter, transport padding after a delimiter and an epilogue after the close delimiter;
 * dataverse-ify 2.0.7 joins its batch with LF alone and writes `multipart/mixed;boundary=…`.
 */
describe("$batch framing as clients send it", () => {
  const post = (body: string, contentType: string) => h.api("POST", "$batch", { raw: body, headers: { "Content-Type": contentType } });
  const statuses = (res: { status: number; headers: Headers; text: string }) =>
    (parseBatchResponse(res.headers.get("content-type") ?? "", res.text) as Array<ParsedResponse | { changeset: ParsedResponse[] }>).flatMap((p) =>
      "changeset" in p ? p.changeset.map((c) => c.status) : [p.status],
    );
  const create = (name: string) => ["POST /api/data/v9.2/accounts HTTP/1.1", "Content-Type: application/json;type=entry", "", JSON.stringify({ name })];
  const httpHeaders = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];

  it("accepts the dataverse-ify shape: LF line ends, no space before boundary=, a space after each close delimiter", async () => {
    const name = `dvify-${randomUUID()}`;
    const id = String(Date.now());
    const body = [
      `--batch_${id}`,
      `Content-Type: multipart/mixed;boundary=changeset_${id}`,
      "Content-Transfer-Encoding: binary",
      "",
      `--changeset_${id}`,
      ...httpHeaders,
      "Content-ID: 1",
      "",
      ...create(`${name}-1`),
      `--changeset_${id}`,
      ...httpHeaders,
      "Content-ID: 2",
      "",
      ...create(`${name}-2`),
      `--changeset_${id}--`,
      " ",
      `--batch_${id}`,
      ...httpHeaders,
      "",
      `GET /api/data/v9.2/accounts?$select=name&$filter=startswith(name,'${name}') HTTP/1.1`,
      "Accept: application/json",
      "",
      "",
      `--batch_${id}--`,
      " ",
    ].join("\n");
    const res = await post(body, `multipart/mixed;boundary=batch_${id}`);
    expect(res.status).toBe(200);
    expect(statuses(res)).toEqual([204, 204, 200]);
    expect(await count(`startswith(name,'${name}')`)).toBe(2);
  });

  it.each([
    ["a bare CRLF preamble", "\r\n", ""],
    ["a text preamble", "This is a multi-part message in MIME format.\r\nSecond line\r\n", ""],
    ["an epilogue", "", "\r\nThis is the epilogue.\r\n--not-a-delimiter\r\n"],
  ])("accepts %s", async (_label, preamble, epilogue) => {
    const name = `pre-${randomUUID()}`;
    const b = `batch_${randomUUID()}`;
    const body = `${preamble}${[`--${b}`, ...httpHeaders, "", ...create(name), `--${b}--`].join("\r\n")}${epilogue}`;
    const res = await post(body, `multipart/mixed; boundary=${b}`);
    expect(res.status).toBe(200);
    expect(statuses(res)).toEqual([204]);
    expect(await count(`name eq '${name}'`)).toBe(1);
  });

  it("accepts transport padding after delimiter lines and quoted boundaries (outer and change set)", async () => {
    const name = `pad-${randomUUID()}`;
    const b = `batch_${randomUUID()}`;
    const cs = `changeset_${randomUUID()}`;
    const body = [
      `--${b} \t  \t`,
      `Content-Type: multipart/mixed; boundary="${cs}"`,
      "",
      `--${cs}    `,
      ...httpHeaders,
      "Content-ID: 1",
      "",
      ...create(name),
      `--${cs}-- `,
      `--${b}--\t`,
      "",
    ].join("\r\n");
    const res = await post(body, `multipart/mixed; charset=utf-8; boundary="${b}"`);
    expect(res.status).toBe(200);
    expect(statuses(res)).toEqual([204]);
    expect(await count(`name eq '${name}'`)).toBe(1);
  });

  it("keeps a part's body byte for byte (a CRLF inside a JSON string value, an LF-framed body)", async () => {
    const name = `bytes-${randomUUID()}`;
    const b = `batch_${randomUUID()}`;
    const payload = `{\n  "name": "${name}",\r\n  "description": "line one\\r\\n--${b}x not a delimiter mid-line"\n}`;
    const body = [`--${b}`, ...httpHeaders, "", "POST accounts HTTP/1.1", "Content-Type: application/json", "", payload, `--${b}--`].join("\n");
    const res = await post(body, `multipart/mixed;boundary=${b}`);
    expect(statuses(res)).toEqual([204]);
    const row = await h.api("GET", `accounts?$filter=name eq '${name}'&$select=description`);
    expect(row.json.value[0].description).toBe(`line one\r\n--${b}x not a delimiter mid-line`);
  });

  it.each([
    ["no delimiter at all", (b: string) => `Content-Type: application/http\r\n\r\nGET WhoAmI HTTP/1.1\r\n\r\n${b}`, /no delimiter line '--batch_/],
    ["no close delimiter", (b: string) => [`--${b}`, ...httpHeaders, "", "GET WhoAmI HTTP/1.1", "", ""].join("\r\n"), /no close delimiter '--batch_.*--'/],
    ["the boundary mid-line only", (b: string) => `preamble --${b}\r\n${httpHeaders.join("\r\n")}\r\n\r\nGET WhoAmI HTTP/1.1 --${b}--`, /no delimiter line/],
    ["a line that starts with the boundary but is not a delimiter", (b: string) => [`--${b}`, ...httpHeaders, "", "GET WhoAmI HTTP/1.1", `--${b}junk`, `--${b}--`].join("\r\n"), /line 6 starts with the boundary but is not a delimiter/],
  ])("refuses a body with %s (400, the reason named)", async (_label, build, message) => {
    const b = `batch_${randomUUID()}`;
    const res = await post(build(b), `multipart/mixed; boundary=${b}`);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(message);
  });

  it("refuses a boundary RFC 2046 does not allow (too long, or a character outside bchars)", async () => {
    for (const b of ["x".repeat(71), "batch<1>"]) {
      const res = await post([`--${b}`, ...httpHeaders, "", "GET WhoAmI HTTP/1.1", "", `--${b}--`].join("\r\n"), `multipart/mixed; boundary="${b}"`);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(/not a valid multipart boundary/);
    }
  });
});
