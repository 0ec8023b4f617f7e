/**
 * `npm start` (scripts/start.ts) as a person runs it: a child process on free ports, its output
 * read for the URLs, then both promises of issue 3 checked over HTTP — a referral created through
 * `/_emulator/inbound-referrals` becomes an opportunity within seconds, and an opportunity with
 * Sync = Yes becomes a referral within seconds — and Ctrl-C stops it cleanly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { waitFor } from "./harness";

const ROOT = path.resolve(__dirname, "../..");

function readEnv(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

describe("npm start", () => {
  let child: ChildProcess;
  let dir: string;
  let output = "";

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-start-"));
    // Straight under node (tsx as a require hook), not through the tsx CLI: the CLI relays Ctrl-C to its
    // child and, on a loaded machine, may give up on it and exit 130 itself before our shutdown ran.
    child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), path.join(ROOT, "scripts", "start.ts")], {
      cwd: ROOT,
      env: { ...process.env, BRIDGE_PORT: "0", PARTNER_CENTER_PORT: "0", DATAVERSE_PORT: "0", ENTRA_PORT: "0", SANDBOX_DATA_DIR: dir, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (b: Buffer) => (output += b.toString("utf8")));
    child.stderr?.on("data", (b: Buffer) => (output += b.toString("utf8")));
    await waitFor(() => output.includes("Ctrl-C stops everything"), "npm start to be ready", 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${output}`);
    });
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const url = (label: string) => {
    const m = new RegExp(`${label}\\s+(http://[^\\s/]+)`).exec(output);
    if (!m?.[1]) throw new Error(`no ${label} URL in:\n${output}`);
    return m[1];
  };

  it("prints where everything is, connected and seeded", () => {
    expect(output).toMatch(/Bridge status page\s+http:\/\/127\.0\.0\.1:\d+\//);
    expect(output).toMatch(/\+ partner-center\s+webhook registration: create/);
    expect(output).toMatch(/\+ dataverse\s+service endpoint cosell-bridge: create/);
    expect(output).toMatch(/Seeded 3 referrals/);
  });

  it("turns a referral created through /_emulator/inbound-referrals into an opportunity within seconds", async () => {
    const env = readEnv(path.join(dir, "bridge.env"));
    const bridge = url("Bridge status page");
    const pc = url("Partner Center");
    const body = fs.readFileSync(path.join(ROOT, "sandbox/test/fixtures/partner-center/inbound-co-sell.json"), "utf8");
    const created = await fetch(`${pc}/_emulator/inbound-referrals`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await waitFor(async () => {
      const res = await fetch(`${bridge}/admin/status`, { headers: { authorization: `Bearer ${env.BRIDGE_ADMIN_TOKEN as string}` } });
      const status = (await res.json()) as { recent: Array<{ message: string }> };
      return status.recent.some((s) => s.message.includes(`created from referral ${id}`));
    }, "the opportunity for the new referral", 30_000);
  });

  it("turns an opportunity with Sync = Yes into a referral within seconds", async () => {
    const env = readEnv(path.join(dir, "bridge.env"));
    const pc = url("Partner Center");
    const dv = env.DATAVERSE_URL as string;
    // The sandbox's Entra ID: a token for the Dataverse emulator, as the bridge's app registration.
    const token = (await (
      await fetch(`${env.ENTRA_LOGIN_URL as string}/${env.DATAVERSE_TENANT_ID as string}/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: env.DATAVERSE_CLIENT_ID as string, client_secret: env.DATAVERSE_CLIENT_SECRET as string, scope: `${dv}/.default` }).toString(),
      })
    ).json()) as { access_token: string };
    const api = (method: string, p: string, body?: unknown) =>
      fetch(`${dv}/api/data/v9.2${p}`, { method, headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const account = /\(([0-9a-f-]{36})\)/.exec((await api("POST", "/accounts", { name: "Start Ltd", address1_country: "US" })).headers.get("odata-entityid") ?? "")?.[1];
    const res = await api("POST", "/opportunities", {
      name: "From npm start",
      estimatedvalue: 1000,
      estimatedclosedate: "2027-06-30",
      "customerid_account@odata.bind": `/accounts(${account as string})`,
      cosell_products: "SOL-15974-MQF",
      cosell_syncwithpartnercenter: true,
    });
    const opportunityId = /\(([0-9a-f-]{36})\)/.exec(res.headers.get("odata-entityid") ?? "")?.[1] as string;
    await waitFor(async () => {
      const changes = (await (await fetch(`${pc}/_emulator/changes`)).json()) as { value: Array<{ referralId: string; eventName: string; actor: string }> };
      for (const c of changes.value.filter((x) => x.eventName === "referral-created" && x.actor === "partner")) {
        const r = (await (await fetch(`${pc}/_emulator/referrals/${c.referralId}`)).json()) as { externalReferenceId?: string };
        if (r.externalReferenceId === opportunityId) return true;
      }
      return false;
    }, "the referral for the new opportunity", 30_000);
  });

  it("stops cleanly on Ctrl-C", async () => {
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 30_000);
});
