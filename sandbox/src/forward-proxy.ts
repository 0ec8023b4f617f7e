/**
 * A forward proxy like a company's outbound one, on loopback: CONNECT tunnels (what undici and most
 * clients send, for http and https targets alike) and plain absolute-URI requests (`GET http://host/`).
 * It records every request that passed through it, so a test can tell proxied calls from direct ones.
 * Targets are reached on this machine only: any host name is connected to at `targetHost` (loopback
 * by default), so a test may call `https://login.microsoftonline.com:PORT` and reach a local emulator.
 */
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";

export interface ProxiedRequest {
  readonly kind: "connect" | "forward";
  /** host:port as the client asked for it. */
  readonly target: string;
  /** The request line's path (forward only). */
  readonly path?: string;
  /** Decoded `user:password` of a Basic Proxy-Authorization header, if sent. */
  readonly credentials?: string;
}

export interface ForwardProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly seen: ProxiedRequest[];
  close(): Promise<void>;
}

export interface ForwardProxyOptions {
  readonly host?: string;
  readonly port?: number;
  /** Where every target is actually connected (default 127.0.0.1). */
  readonly targetHost?: string;
}

const credentials = (req: IncomingMessage): string | undefined => {
  const h = req.headers["proxy-authorization"];
  const m = typeof h === "string" ? /^Basic\s+(.+)$/i.exec(h) : null;
  return m ? Buffer.from(m[1] as string, "base64").toString("utf8") : undefined;
};

export async function startForwardProxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const seen: ProxiedRequest[] = [];
  const targetHost = options.targetHost ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("absolute URI required");
      return;
    }
    const creds = credentials(req);
    seen.push({ kind: "forward", target: target.host, path: target.pathname + target.search, ...(creds ? { credentials: creds } : {}) });
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const upstream = httpRequest(
      { host: targetHost, port: Number(target.port) || 80, method: req.method, path: target.pathname + target.search, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.headersSent ? res.destroy() : res.writeHead(502).end("upstream unreachable"));
    req.pipe(upstream);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    const creds = credentials(req);
    seen.push({ kind: "connect", target, ...(creds ? { credentials: creds } : {}) });
    const port = Number(/:(\d+)$/.exec(target)?.[1] ?? "443");
    const upstream = connect(port, targetHost, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"] as const;

/** Runs with exactly these proxy variables set (the rest unset), restoring the environment after. */
export async function withProxyEnv<T>(vars: Partial<Record<(typeof PROXY_VARIABLES)[number], string>>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(PROXY_VARIABLES.map((n) => [n, process.env[n]]));
  for (const n of PROXY_VARIABLES) delete process.env[n];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const n of PROXY_VARIABLES) {
      const v = saved[n];
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
  }
}
