/**
 * Opening the store re-queues the jobs of dead workers, unless the opener only looks (tests, tools):
 * a look must not apply its own attempt limit to another instance's jobs.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dropPostgresSchema, openStore } from "../src/store";

describe("openStore and expired leases", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-store-open-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function runningJobWithExpiredLease(file: string): Promise<{ jobId: number; later: () => number }> {
    let now = 1_000_000;
    const store = await openStore({ kind: "sqlite", path: file }, { now: () => now });
    const { jobId } = await store.enqueue({ linkKey: "opportunity:x", kind: "sync", payload: {} });
    const job = await store.claimNext("dead-worker", 1_000);
    expect(job?.id).toBe(jobId);
    await store.close();
    now += 60_000;
    return { jobId, later: () => now };
  }

  it("re-queues a dead worker's job by default", async () => {
    const file = path.join(dir, "a.sqlite");
    const { jobId, later } = await runningJobWithExpiredLease(file);
    const store = await openStore({ kind: "sqlite", path: file }, { now: later });
    expect((await store.getJob(jobId))?.state).toBe("queued");
    await store.close();
  });

  it("leaves it alone when opened only to look (reapOnOpen: false), even past its own attempt limit", async () => {
    const file = path.join(dir, "b.sqlite");
    const { jobId, later } = await runningJobWithExpiredLease(file);
    const store = await openStore({ kind: "sqlite", path: file }, { now: later, maxAttempts: 1, reapOnOpen: false });
    expect((await store.getJob(jobId))?.state).toBe("running");
    await store.close();
  });
});

describe("dropPostgresSchema", () => {
  it("refuses a name the store would not use before it connects anywhere", async () => {
    await expect(dropPostgresSchema("postgres://nowhere.invalid:1/x", 'x" CASCADE; DROP SCHEMA public')).rejects.toThrow(/not a schema name the store uses/);
  });
});
