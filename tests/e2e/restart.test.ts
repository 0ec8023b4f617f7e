/**
 * A process restart in the middle of a sync: the bridge runs as a child process (the real
 * `cosell-bridge serve` through bin/cosell-bridge.js), is killed with SIGKILL right after Partner
 * Center accepted a referral it was creating (before it could save the link or write back the id),
 * and is started again on the same store. Nothing may be lost (every acknowledged webhook is
 * synced) and nothing duplicated (look before you create: one referral per opportunity).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { OpportunityColumn, SyncState } from "@cosell/contract";
import { runCli } from "@cosell/bridge/src/cli/program";
import { startSandbox, type Sandbox } from "@cosell/sandbox/src/compose";
import { PG_URL, pgSchema, SOLUTION_ID, waitFor, type StoreKind } from "./harness";

const BIN = path.resolve(__dirname, "../../plugins-bridge/bin/cosell-bridge.js");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function startChild(env: Record<string, string>, output: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, "serve"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (b: Buffer) => output.push(b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => output.push(b.toString("utf8")));
  return waitFor(() => (output.join("").includes("cosell-bridge listening on") ? child : undefined), "the bridge child to listen", 60_000);
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe.each(["sqlite", "postgres"] as StoreKind[])("a restart in the middle of a sync (%s)", (store) => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let dir: string;
  let drop: (() => Promise<void>) | undefined;
  const children: ChildProcess[] = [];
  const output: string[] = [];

  beforeAll(async () => {
    // Slow Partner Center: each sync takes a while, so the kill lands inside one.
    sandbox = await startSandbox({ schema: "solution", ports: { identity: 0, partnerCenter: 0, dataverse: 0 }, faults: { partnerCenter: { latencyMs: 250 } }, partnerCenterWebhookRetry: { baseDelayMs: 300, maxDelayMs: 2_000 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-restart-"));
    const port = await freePort();
    env = sandbox.bridgeEnvironment({ port, reconcileIntervalSeconds: 0, logLevel: process.env["E2E_CHILD_LOG"] ?? "warn", extra: { BRIDGE_JOB_LEASE_SECONDS: "3", WORKER_CONCURRENCY: "4" } });
    if (store === "postgres") {
      const s = await pgSchema("cosell_restart");
      drop = s.drop;
      delete env.BRIDGE_SQLITE_PATH;
      env.DATABASE_URL = PG_URL;
      env.DATABASE_SCHEMA = s.schema;
    } else env.BRIDGE_SQLITE_PATH = path.join(dir, "bridge.sqlite");
    const out: string[] = [];
    const code = await runCli(["connect"], { env, out: (s) => void out.push(s), err: (s) => void out.push(s) });
    if (code !== 0) throw new Error(`connect failed (${code}): ${out.join("")}`);
  }, 90_000);

  afterAll(async () => {
    for (const c of children) await kill(c);
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await drop?.();
  });

  it("loses nothing and duplicates nothing when the bridge is killed mid-sync and started again", async () => {
    children.push(await startChild(env, output));
    const api = sandbox.dataverseApi;
    const idOf = (h: Headers) => /\(([0-9a-f-]{36})\)/i.exec(h.get("odata-entityid") ?? "")?.[1] as string;
    const account = idOf((await api("POST", "/accounts", { name: "Restart Ltd", address1_country: "US", address1_postalcode: "98052" })).headers);
    const contact = idOf((await api("POST", "/contacts", { firstname: "Rae", lastname: "Start", emailaddress1: "rae@restart.example" })).headers);

    // Kill the bridge as soon as Partner Center has accepted the first referral it creates.
    let killed: Promise<void> | undefined;
    const onCommit = (c: { actor: string; eventName: string }) => {
      if (!killed && c.actor === "partner" && c.eventName === "referral-created") killed = kill(children[0] as ChildProcess);
    };
    sandbox.partnerCenter.events.on("commit", onCommit);
    const opportunities: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await api("POST", "/opportunities", {
        name: `Restart deal ${i}`,
        estimatedvalue: 1000 + i,
        estimatedclosedate: "2027-05-31",
        "customerid_account@odata.bind": `/accounts(${account})`,
        "parentaccountid@odata.bind": `/accounts(${account})`,
        "parentcontactid@odata.bind": `/contacts(${contact})`,
        [OpportunityColumn.products]: SOLUTION_ID,
        [OpportunityColumn.syncWithPartnerCenter]: true,
      });
      expect(res.status).toBe(204);
      opportunities.push(idOf(res.headers));
    }
    await waitFor(() => killed !== undefined, "the kill", 60_000);
    await killed;
    sandbox.partnerCenter.events.off("commit", onCommit);
    // Every Dataverse webhook was acknowledged before the kill (the child answered 2xx), so each is in the store.
    await sandbox.dataverse.webhooks.idle();
    const created = sandbox.partnerCenter.changes().filter((c) => c.actor === "partner" && c.eventName === "referral-created");
    expect(created.length).toBeGreaterThanOrEqual(1);
    const midSync = await api<Record<string, unknown>>("GET", `/opportunities(${sandbox.partnerCenter.getReferral(created[0]?.referralId ?? "")?.externalReferenceId ?? ""})`);
    expect(midSync.body[OpportunityColumn.referralId]).toBeNull(); // killed before the id was written back

    children.push(await startChild(env, output));
    for (const id of opportunities) {
      await waitFor(async () => {
        const o = (await api<Record<string, unknown>>("GET", `/opportunities(${id})`)).body;
        return o[OpportunityColumn.referralId] && o[OpportunityColumn.syncState] === SyncState.Synced ? o : undefined;
      }, `opportunity ${id} shared after the restart`, 60_000);
    }
    for (const id of opportunities) {
      const referrals = sandbox.partnerCenter
        .changes()
        .filter((c) => c.eventName === "referral-created")
        .map((c) => sandbox.partnerCenter.getReferral(c.referralId))
        .filter((r) => r?.externalReferenceId === id);
      expect(referrals).toHaveLength(1);
      const o = (await api<Record<string, unknown>>("GET", `/opportunities(${id})`)).body;
      expect(o[OpportunityColumn.referralId]).toBe(referrals[0]?.id);
    }
    expect(output.join("")).not.toMatch(/Invalid configuration|TypeError|ReferenceError/);
  }, 150_000);
});
