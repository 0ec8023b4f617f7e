/**
 * SIGKILL during writes: a child process records webhooks and claims jobs in a tight loop, printing
 * each event once recordEvent has resolved (the moment the bridge would answer 2xx). It is killed
 * mid-loop, twice. The next open must find every acknowledged event, an intact database, and no job
 * left running past its lease.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Client } from "pg";
import { openStore, type StoreConfig } from "../src/store";

const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const LEASE_MS = 2_000;
const STORE_MODULE = path.resolve(__dirname, "../src/store/index.ts");
const TSX_CJS = require.resolve("tsx/cjs");

/** The child: plain CommonJS that loads the TypeScript store through tsx's require hook. */
const CHILD_SOURCE = `
const { openStore } = require(${JSON.stringify(STORE_MODULE)});
const config = JSON.parse(process.env.STORE_CONFIG);
const round = process.env.ROUND;
const stopAt = Date.now() + 60000; // never outlive a broken test
(async () => {
  const store = await openStore(config);
  process.stdout.write("ready\\n");
  for (let i = 0; Date.now() < stopAt; i++) {
    const dedupeKey = round + "-" + i;
    await store.recordEvent({ source: "dataverse", dedupeKey, receivedAt: new Date(), payload: { i, pad: "x".repeat(200) }, linkKey: "link-" + (i % 10) });
    process.stdout.write("ack " + dedupeKey + "\\n");
    if (i % 7 === 0) await store.claimNext("child-" + round, ${LEASE_MS});
    if (i % 11 === 0) await store.saveLink({ key: "link-" + round + "-" + i, referralId: "ref-" + round + "-" + i, entity: "opportunity", recordId: "opp-" + round + "-" + i, base: { i }, state: "active", expectedVersion: null });
  }
  process.exit(3);
})().catch((err) => { console.error(err); process.exit(2); });
`;

/** Runs the child until it has acknowledged `acks` events, kills it with SIGKILL, returns the acks. */
function runAndKill(dir: string, config: StoreConfig, round: string, acks: number): Promise<string[]> {
  const script = path.join(dir, "writer.js");
  fs.writeFileSync(script, CHILD_SOURCE);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--require", TSX_CJS, script], {
      env: { ...process.env, STORE_CONFIG: JSON.stringify(config), ROUND: round },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const acked: string[] = [];
    let buffered = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the writer acknowledged only ${acked.length} events in time; stderr: ${stderr}`));
    }, 45_000);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line.startsWith("ack ") && !killed) acked.push(line.slice(4));
      if (!killed && acked.length >= acks) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL" && killed) resolve(acked);
      else reject(new Error(`the writer exited on its own (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

interface Target {
  readonly config: StoreConfig;
  check(): Promise<void>;
  cleanup(): Promise<void>;
}

function sqliteTarget(dir: string): Target {
  const file = path.join(dir, "crash.sqlite");
  return {
    config: { kind: "sqlite", path: file },
    check: async () => {
      const db = new Database(file);
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      } finally {
        db.close();
      }
    },
    cleanup: async () => undefined,
  };
}

function postgresTarget(): Target {
  const schema = `cosell_test_${Math.random().toString(36).slice(2, 10)}`;
  return {
    config: { kind: "postgres", connectionString: PG_URL, schema, poolSize: 4 },
    check: async () => undefined,
    cleanup: async () => {
      const admin = new Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

describe.each([["sqlite"], ["postgres"]] as const)("store on %s killed with SIGKILL while writing", (kind) => {
  let dir = "";
  let target: Target;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-crash-"));
    target = kind === "sqlite" ? sqliteTarget(dir) : postgresTarget();
  });
  afterAll(async () => {
    await target.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every acknowledged event and leaves no job running past its lease", async () => {
    const acked = [...(await runAndKill(dir, target.config, "r1", 150)), ...(await runAndKill(dir, target.config, "r2", 150))];
    expect(acked.length).toBeGreaterThanOrEqual(300);
    await target.check();

    // The next start, once the dead writer's leases have run out.
    const store = await openStore(target.config, { now: () => Date.now() + LEASE_MS + 1_000 });
    try {
      const missing: string[] = [];
      for (const key of acked) if (!(await store.findEvent("dataverse", key))) missing.push(key);
      expect(missing).toEqual([]);

      const stats = await store.queueStats();
      expect(stats.running).toBe(0);
      expect(stats.queued).toBeGreaterThan(0);
      // The queue works: every link's job can be claimed and finished.
      let claimed = 0;
      for (let job = await store.claimNext("after", 60_000); job; job = await store.claimNext("after", 60_000)) {
        await store.complete(job.id, "after");
        claimed++;
      }
      expect(claimed).toBe(stats.queued);
      expect(await store.queueStats()).toMatchObject({ queued: 0, running: 0 });
    } finally {
      await store.close();
    }
  }, 120_000);
});
