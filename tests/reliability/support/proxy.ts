/**
 * The bridge's public URL in the reliability suites: a small round-robin reverse proxy on port 0,
 * standing in for the load balancer in front of a real deployment. Webhooks are registered with
 * its URL once; bridge processes come and go behind it (killed, restarted on a new port, two
 * instances). With no live instance it answers 502, which both services treat as a failed delivery.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface BalancerStats {
  /** Requests forwarded, per target URL. */
  readonly forwarded: Record<string, number>;
  /** Requests answered 502 because no target took them. */
  readonly unavailable: number;
}

export interface Balancer {
  readonly url: string;
  setTargets(urls: readonly string[]): void;
  addTarget(url: string): void;
  removeTarget(url: string): void;
  stats(): BalancerStats;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"]);

export async function startBalancer(): Promise<Balancer> {
  let targets: string[] = [];
  let next = 0;
  const forwarded: Record<string, number> = {};
  let unavailable = 0;

  const forward = (target: string, req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      headers["content-length"] = String(body.length);
      const up = http.request(`${target}${req.url ?? "/"}`, { method: req.method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      up.setTimeout(60_000, () => up.destroy(new Error("upstream timed out")));
      up.on("error", reject);
      up.end(body);
    });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => res.destroy());
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        // Each live target once, starting with the next in turn: a dead instance is skipped.
        const order = targets.length === 0 ? [] : targets.map((_, i) => targets[(next + i) % targets.length] as string);
        next = targets.length === 0 ? 0 : (next + 1) % targets.length;
        for (const target of order) {
          try {
            const answer = await forward(target, req, body);
            forwarded[target] = (forwarded[target] ?? 0) + 1;
            const headers: http.OutgoingHttpHeaders = {};
            for (const [k, v] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
            headers["content-length"] = String(answer.body.length);
            res.writeHead(answer.status, headers);
            res.end(answer.body);
            return;
          } catch {
            // refused or cut off: try the next instance
          }
        }
        unavailable++;
        res.writeHead(502, { "content-type": "text/plain" });
        res.end("no bridge instance is available");
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setTargets: (urls) => {
      targets = [...urls];
    },
    addTarget: (url) => {
      if (!targets.includes(url)) targets.push(url);
    },
    removeTarget: (url) => {
      targets = targets.filter((t) => t !== url);
    },
    stats: () => ({ forwarded: { ...forwarded }, unavailable }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
