/**
 * Dataverse emulator: service protection 429s (spec §4.7), injected faults, the /_emulator/ control
 * routes (faults, reset), and reset semantics.
 */
import { ENVIRONMENT_VARIABLES, PUBLISHER, SOLUTION_CATALOG_TABLE, SolutionCatalogColumn } from "@cosell/contract";
import { startHarness, type Harness } from "./fixtures/dataverse/harness";

describe("service protection", () => {
  let h: Harness;
  afterEach(() => h.close());

  it("refuses the request over the concurrency limit with 0x80072326 and Retry-After", async () => {
    h = await startHarness({ limits: { maxConcurrentPerUser: 2 } });
    // Hold requests in flight with injected latency, then fire more than the limit at once.
    h.dv.faults.update({ latencyMs: 1500 });
    const results = await Promise.all(Array.from({ length: 5 }, () => h.api("GET", "WhoAmI")));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(2);
    const throttled = results.find((r) => r.status === 429);
    expect(throttled).toBeDefined();
    expect(throttled!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(throttled!.json).toEqual({ error: { code: "0x80072326", message: "Number of concurrent requests exceeded the limit of 2." } });
    h.dv.faults.update({});
    expect((await h.api("GET", "WhoAmI")).status).toBe(200);
  });

  it("refuses requests over the window limit with 0x80072322 and a Retry-After up to the window", async () => {
    h = await startHarness({ limits: { requestsPerWindow: 3, windowSeconds: 120 } });
    for (let i = 0; i < 3; i++) expect((await h.api("GET", "WhoAmI")).status).toBe(200);
    const res = await h.api("GET", "WhoAmI");
    expect(res.status).toBe(429);
    expect(res.json).toEqual({ error: { code: "0x80072322", message: "Number of requests exceeded the limit of 3 over time window of 120 seconds." } });
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(120);
    // limits are per caller: another user is not affected
    expect((await h.api("GET", "WhoAmI", { token: h.userToken(h.dv.seededIds.sellerObjectId) })).status).toBe(200);
    // a batch counts its inner requests
    h.dv.reset();
    const b = "batch_p";
    const part = ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "", "GET WhoAmI HTTP/1.1", ""];
    const body = [`--${b}`, ...part, `--${b}`, ...part, `--${b}`, ...part, `--${b}`, ...part, `--${b}--`, ""].join("\r\n");
    const batch = await h.api("POST", "$batch", { raw: body, headers: { "Content-Type": `multipart/mixed; boundary=${b}` } });
    expect(batch.status).toBe(429);
  });
});

describe("faults and control routes", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  afterEach(() => h.dv.faults.update({}));

  const control = (method: string, path: string, body?: unknown) =>
    fetch(`${h.dv.url}/_emulator/${path}`, {
      method,
      ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
    });

  it("injects 5xx errors and 429s on API requests only", async () => {
    expect((await control("PUT", "faults", { errorRate: 1 })).status).toBe(200);
    const err = await h.api("GET", "WhoAmI");
    expect([500, 503]).toContain(err.status);
    expect(err.json.error.code).toBe("0x80040216");
    expect((await control("GET", "faults")).status).toBe(200);
    await control("PUT", "faults", { throttleRate: 1, retryAfterSeconds: 7 });
    const throttled = await h.api("GET", "WhoAmI");
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("7");
    expect(throttled.json.error.code).toBe("0x80072322");
  });

  it("a faulted write is not applied", async () => {
    h.dv.faults.update({ errorRate: 1 });
    const res = await h.api("POST", "accounts", { body: { name: "never" } });
    expect(res.status).toBeGreaterThanOrEqual(500);
    h.dv.faults.update({});
    expect((await h.api("GET", "accounts?$filter=name eq 'never'&$select=name")).json.value).toHaveLength(0);
  });

  it("drops the connection under the timeout fault", async () => {
    h.dv.faults.update({ timeoutRate: 1, timeoutHoldMs: 10 });
    await expect(h.api("GET", "WhoAmI")).rejects.toThrow();
  });

  it("validates fault settings", async () => {
    const res = await control("PUT", "faults", { errorRate: 2 });
    expect(res.status).toBe(400);
    expect((await control("PUT", "faults", { nope: 1 })).status).toBe(400);
  });

  it("resets to the seeded state: business rows, logs and imported schema are gone, registered users stay", async () => {
    h.dv.provisionContract();
    await h.api("POST", "accounts", { body: { name: "to be reset" } });
    expect(h.dv.schema.entity(SOLUTION_CATALOG_TABLE.logicalName)).toBeDefined();
    expect((await control("POST", "reset")).status).toBe(204);
    expect(h.dv.schema.entity(SOLUTION_CATALOG_TABLE.logicalName)).toBeUndefined();
    expect((await h.api("GET", "WhoAmI")).json.UserId).toBe(h.appUserId);
    expect((await h.api("GET", "accounts?$select=name")).json.value).toEqual([]);
    const currencies = await h.api("GET", "transactioncurrencies?$select=isocurrencycode&$orderby=isocurrencycode");
    expect(currencies.json.value.map((c: { isocurrencycode: string }) => c.isocurrencycode)).toEqual(["EUR", "USD"]);
    const changes = (await (await control("GET", "changes")).json()) as { value: unknown[] };
    expect(changes.value).toEqual([]);
  });

  it("keeps the contract provisioning with ?keep=customizations", async () => {
    h.dv.provisionContract();
    const set = SOLUTION_CATALOG_TABLE.entitySetName;
    expect((await h.api("POST", set, { body: { [SolutionCatalogColumn.name]: "x", [SolutionCatalogColumn.solutionCode]: "SOL-1-A" } })).status).toBe(204);
    expect((await control("POST", "reset?keep=customizations")).status).toBe(204);
    expect(h.dv.schema.entity(SOLUTION_CATALOG_TABLE.logicalName)).toBeDefined();
    expect((await h.api("GET", `${set}?$select=${SolutionCatalogColumn.name}`)).json.value).toEqual([]);
    const defs = await h.api("GET", `environmentvariabledefinitions?$select=schemaname&$filter=startswith(schemaname,'${PUBLISHER.customizationPrefix}_')`);
    expect(defs.json.value.length).toBe(ENVIRONMENT_VARIABLES.length);
    expect((await control("POST", "reset")).status).toBe(204);
    expect(h.dv.schema.entity(SOLUTION_CATALOG_TABLE.logicalName)).toBeUndefined();
  });
});

describe("extra routes", () => {
  it("mounts routes on the same origin with Fastify's default body parsing", async () => {
    const h = await startHarness({
      extraRoutes: (app) => {
        app.post("/sandbox/echo", async (req) => ({ got: req.body }));
      },
    });
    try {
      const res = await fetch(`${h.dv.url}/sandbox/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: 1 }) });
      expect(await res.json()).toEqual({ got: { a: 1 } });
      expect((await h.api("GET", "WhoAmI")).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
