/**
 * The webhook load generator, in a process of its own (autocannon, programmatic): POSTs each
 * prepared request of a JSON-lines file once, over `connections` keep-alive connections, and
 * prints one JSON line with what came back.
 *
 *   npx tsx bench/child/load.ts <url> <requests.jsonl> <connections>
 */
import * as fs from "node:fs";
import { z } from "zod";

// autocannon ships no types; this is the part of its API used here.
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  amount: number;
  pipelining: number;
  timeout: number;
  requests: Array<{ setupRequest: (req: AutocannonRequest) => AutocannonRequest }>;
}
interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: { p50: number; p99: number; average: number };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon is CommonJS without types
const autocannon = require("autocannon") as (o: AutocannonOptions) => Promise<AutocannonResult>;

const Prepared = z.object({ headers: z.record(z.string(), z.string()), body: z.string() });

async function main(): Promise<void> {
  const [url, file, connectionsArg] = process.argv.slice(2);
  if (!url || !file) throw new Error("usage: load.ts <url> <requests.jsonl> <connections>");
  const prepared = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => Prepared.parse(JSON.parse(l)));
  let next = 0;
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: Number(connectionsArg ?? 32),
    amount: prepared.length,
    pipelining: 1,
    timeout: 30,
    requests: [
      {
        setupRequest: (req) => {
          const p = prepared[next++ % prepared.length] as z.infer<typeof Prepared>;
          return { ...req, method: "POST", headers: p.headers, body: p.body };
        },
      },
    ],
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      sent: prepared.length,
      ok: result["2xx"],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      seconds,
      latencyP50: result.latency.p50,
      latencyP99: result.latency.p99,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
