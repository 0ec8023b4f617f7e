import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpTransport } from "../src/http/transport";
import { ThrottledError, UNREADABLE_RETRY_AFTER_MS } from "../src/http/errors";

/** A real server that answers each request after `delayMs`, counting how many it holds at once. */
function countingServer(answer: (url: string) => { status: number; headers?: Record<string, string> }, delayMs = 5) {
  let open = 0;
  let most = 0;
  const server: Server = createServer((req, res) => {
    open++;
    most = Math.max(most, open);
    setTimeout(() => {
      const { status, headers } = answer(req.url ?? "/");
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify({ error: { code: "x", message: "m" } }));
      open--;
    }, delayMs);
  });
  return {
    server,
    most: () => most,
    start: () => new Promise<string>((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("HttpTransport against a real server", () => {
  it("holds its concurrency cap under contention", async () => {
    const s = countingServer(() => ({ status: 200 }), 3);
    const baseUrl = await s.start();
    const t = new HttpTransport({ service: "dataverse", baseUrl, maxConcurrency: 3 });
    try {
      // Bursts that arrive while earlier requests are finishing.
      const all: Promise<unknown>[] = [];
      for (let wave = 0; wave < 6; wave++) {
        for (let i = 0; i < 10; i++) all.push(t.send({ method: "GET", path: `/r/${wave}/${i}` }));
        await new Promise((r) => setTimeout(r, 2));
      }
      await Promise.all(all);
      expect(s.most()).toBe(3);
    } finally {
      await t.close();
      await s.stop();
    }
  });

  it.each([
    ["120", 120_000],
    ["Wed, 25 Nov 2099 10:00:30 GMT", 10 * 60_000], // far ahead: capped
    ["-5", UNREADABLE_RETRY_AFTER_MS],
    ["2026", 10 * 60_000],
    ["", UNREADABLE_RETRY_AFTER_MS],
    ["soon", UNREADABLE_RETRY_AFTER_MS],
  ])("turns a 429 with Retry-After %p into a wait of %p ms, never 'now'", async (header, expected) => {
    const s = countingServer(() => ({ status: 429, headers: { "retry-after": header } }), 0);
    const baseUrl = await s.start();
    const t = new HttpTransport({ service: "partner-center", baseUrl });
    try {
      const err = await t.send({ method: "GET", path: "/x" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ThrottledError);
      expect((err as ThrottledError).retryAfterMs).toBe(expected);
    } finally {
      await t.close();
      await s.stop();
    }
  });
});
