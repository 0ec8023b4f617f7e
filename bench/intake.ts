/**
 * Figure 3: webhook intake. Signed Partner Center events, each one new (its own referral change),
 * POSTed by autocannon in a second process to the bridge's `/webhooks/partner-center`: the bridge
 * verifies the RSA-SHA256 signature against the certificate (fetched once from an allow-listed
 * origin, then cached), records the event and its job in one transaction, and only then answers
 * 200. Accepted per second = 2xx answers / wall time of the load. The same bodies then go to a bare
 * Fastify route answering 204, served by the same bridge process: the ratio says what the intake
 * costs over the framework alone. The worker is off, so the figure is the intake alone; afterwards
 * the stored events are counted (every 2xx must be a persisted event).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Client } from "pg";
import { z } from "zod";
import { createDispatchIdentity, type DispatchIdentity } from "@cosell/sandbox/src/partner-center";
import { BridgeProcess } from "./lib/bridge-process";
import { figure, type Figure, type Switch } from "./lib/figures";
import { spread } from "./lib/stats";
import { freshStore, type BenchStore, type StoreKind } from "./lib/stores";
import { bridgeEnv, startEmulators, type RunContext } from "./lib/world";

/** The intake alone: the worker and the reconcile timer are off. */
const OFF: readonly Switch[] = ["worker", "reconcile timer"];

export interface IntakeOptions {
  readonly events: number;
  readonly connections: number;
  readonly runs: number;
}

const LoadResult = z.object({
  sent: z.number(),
  ok: z.number(),
  non2xx: z.number(),
  errors: z.number(),
  timeouts: z.number(),
  seconds: z.number(),
  latencyP50: z.number(),
  latencyP99: z.number(),
});
type LoadResult = z.infer<typeof LoadResult>;

const LOAD_CHILD = path.join(__dirname, "child", "load.ts");

function load(url: string, file: string, connections: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--require", require.resolve("tsx/cjs"), LOAD_CHILD, url, file, String(connections)], { maxBuffer: 1 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`load generator failed: ${err.message}\n${stderr}`));
      const last = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(LoadResult.parse(JSON.parse(last)));
      } catch (e) {
        reject(new Error(`load generator said: ${stdout} ${stderr}`, { cause: e }));
      }
    });
  });
}

/** Serves the signing certificate, as Partner Center's blob storage does (an allow-listed origin). */
async function certificateHost(identity: DispatchIdentity): Promise<{ url: string; origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== "/certificates/pcnotifications-dispatch.microsoft.com.cer") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/pkix-cert", "content-length": identity.certificateDer.length }).end(identity.certificateDer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/certificates/pcnotifications-dispatch.microsoft.com.cer`,
    origin,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Signed events as Partner Center sends them: `count` changes spread over `referrals` referrals. */
function writeEvents(file: string, identity: DispatchIdentity, certificateUrl: string, resourceBase: string, count: number, referrals: number): void {
  const ids = Array.from({ length: referrals }, () => randomUUID());
  const start = Date.now() - count;
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = new Date(start + i).toISOString().replace("Z", `${String(i % 10_000).padStart(4, "0")}+00:00`);
    const body = JSON.stringify({
      EventName: "referral-updated",
      ResourceUri: `${resourceBase}/engagements/v1/referrals/${ids[i % referrals]}`,
      ResourceName: "referral",
      AuditUri: null,
      ResourceChangeUtcDate: at,
    });
    const headers = {
      "content-type": "application/json",
      authorization: `Signature ${identity.sign(Buffer.from(body, "utf8"))}`,
      "x-ms-certificate-url": certificateUrl,
      "x-ms-signature-algorithm": "rsa-sha256",
    };
    lines.push(JSON.stringify({ headers, body }));
  }
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
}

async function countEvents(store: BenchStore): Promise<number> {
  if (store.kind === "sqlite") {
    const db = new Database(store.config.path, { readonly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const c = new Client({ connectionString: store.config.connectionString });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${store.config.schema}".events`);
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

interface IntakeRun {
  readonly bridge: LoadResult;
  readonly bare: LoadResult;
  readonly persisted: number;
}

export async function intakeFigures(ctx: RunContext, kind: StoreKind, o: IntakeOptions): Promise<Figure[]> {
  ctx.log(`intake on ${kind}: ${o.runs} run(s) × ${o.events} signed events over ${o.connections} connections (autocannon in its own process)`);
  const sandbox = await startEmulators({ provisionContract: true });
  const identity = await createDispatchIdentity();
  const certs = await certificateHost(identity);
  const runs: IntakeRun[] = [];
  try {
    const warmFile = path.join(ctx.workDir, "intake-warm.jsonl");
    const eventsFile = path.join(ctx.workDir, "intake-events.jsonl");
    writeEvents(warmFile, identity, certs.url, sandbox.urls.partnerCenter, 1_000, 100);
    writeEvents(eventsFile, identity, certs.url, sandbox.urls.partnerCenter, o.events, Math.max(1, Math.floor(o.events / 10)));
    for (let r = 0; r < o.runs; r++) {
      const store = await freshStore(kind, ctx.workDir, `intake${r}`);
      const env = bridgeEnv(sandbox, store, { PC_WEBHOOK_CERT_ORIGINS: certs.origin });
      const bridge = await BridgeProcess.start(
        { mode: "serve", env, store: store.config, worker: false, connect: false, bare: true },
        { logFile: path.join(ctx.workDir, `intake-${kind}-${r}.log`), ...(ctx.profileDir ? { profileDir: ctx.profileDir } : {}) },
      );
      try {
        const intakeUrl = `${bridge.ready?.url}/webhooks/partner-center`;
        const bareUrl = bridge.ready?.bareUrl as string;
        // Warm-up (JIT, prepared statements, the certificate fetched and cached): not counted.
        await load(intakeUrl, warmFile, o.connections);
        await load(bareUrl, warmFile, o.connections);
        const before = await countEvents(store);
        const bridgeResult = await load(intakeUrl, eventsFile, o.connections);
        const persisted = (await countEvents(store)) - before;
        const bareResult = await load(bareUrl, eventsFile, o.connections);
        const run: IntakeRun = { bridge: bridgeResult, bare: bareResult, persisted };
        ctx.log(
          `  run ${r + 1}: bridge ${(bridgeResult.ok / bridgeResult.seconds).toFixed(0)}/s (${bridgeResult.ok} 2xx, ${bridgeResult.non2xx} other, ${bridgeResult.errors} errors; p99 ${bridgeResult.latencyP99} ms; ${persisted} persisted), ` +
            `bare ${(bareResult.ok / bareResult.seconds).toFixed(0)}/s`,
        );
        runs.push(run);
      } finally {
        await bridge.stop();
        await store.drop().catch(() => undefined);
      }
    }
  } finally {
    await certs.close();
    await sandbox.close();
  }
  const base = `intake.${kind}`;
  const rate = (l: LoadResult) => l.ok / l.seconds;
  return [
    figure(`${base}.acceptedPerSecond`, "events/s", spread(runs.map((r) => rate(r.bridge))), { op: ">=", value: 2000 }, "signed, verified, persisted, answered 2xx", OFF),
    figure(`${base}.barePerSecond`, "requests/s", spread(runs.map((r) => rate(r.bare))), null, "bare Fastify route answering 204, same process, same bodies", OFF),
    figure(`${base}.ratioToBare`, "×", spread(runs.map((r) => rate(r.bridge) / rate(r.bare))), null, "intake rate / bare route rate", OFF),
    figure(`${base}.notPersisted`, "events", spread(runs.map((r) => r.bridge.ok - r.persisted + r.bridge.non2xx + r.bridge.errors)), { op: "==", value: 0 }, "2xx without a stored event, or refused", OFF),
    figure(`${base}.p99`, "ms", spread(runs.map((r) => r.bridge.latencyP99)), null, `answer time under ${o.connections} connections`, OFF),
  ];
}
