/**
 * `npm start` (scripts/start.ts) as a person runs it: a child process on free ports, its output
 * read for the URLs, then both promises of issue 3 checked over HTTP — a referral created through
 * `/_emulator/inbound-referrals` becomes an opportunity within seconds, and an opportunity with
 * Sync = Yes becomes a referral within seconds — the managed solution is what the emulated
 * Dataverse runs on, the form page serves the real control on a seeded opportunity, and Ctrl-C
 * stops it cleanly. (The control in a browser: tests/browser/cosell-loop.test.ts.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SOLUTION, Table } from "@cosell/contract";
import { MANAGED_SOLUTION_ZIP, startSandbox } from "@cosell/sandbox/src/compose";
import { DEFAULT_CONTROL_DIR } from "@cosell/sandbox/src/form-host";
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

  /** The Dataverse Web API of the running sandbox, as the bridge's app registration (its Entra ID, its secret). */
  async function dataverseApi(): Promise<(method: string, p: string, body?: unknown) => Promise<Response>> {
    const env = readEnv(path.join(dir, "bridge.env"));
    const dv = env.DATAVERSE_URL as string;
    const token = (await (
      await fetch(`${env.ENTRA_LOGIN_URL as string}/${env.DATAVERSE_TENANT_ID as string}/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: env.DATAVERSE_CLIENT_ID as string, client_secret: env.DATAVERSE_CLIENT_SECRET as string, scope: `${dv}/.default` }).toString(),
      })
    ).json()) as { access_token: string };
    return (method, p, body) =>
      fetch(`${dv}/api/data/v9.2${p}`, { method, headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  }

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

  it("runs on the managed solution, imported into the emulated Dataverse", async () => {
    // The bridge runs with least privilege: it may not read the solutions table, as in production.
    const api = await dataverseApi();
    const res = await api("GET", `/solutions?$select=uniquename,ismanaged&$filter=${encodeURIComponent(`uniquename eq '${SOLUTION.uniqueName}'`)}`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("0x80040220");
    // What an admin sees under Solutions and import history.
    const env = readEnv(path.join(dir, "bridge.env"));
    const dvRoot = new URL(env.DATAVERSE_URL as string).origin;
    const seen = (await (await fetch(`${dvRoot}/_emulator/solutions`)).json()) as {
      solutions: Array<{ uniquename: string; ismanaged: boolean }>;
      importjobs: Array<{ solutionname: string; progress: number }>;
    };
    expect(seen.solutions).toEqual(expect.arrayContaining([expect.objectContaining({ uniquename: SOLUTION.uniqueName, ismanaged: true })]));
    expect(seen.importjobs).toEqual([expect.objectContaining({ solutionname: SOLUTION.uniqueName, progress: 100 })]);
  });

  it("hosts the real control on a seeded opportunity: the page, the bundle, the row behind it", async () => {
    const m = /Form page\s+(http:\/\/\S+)/.exec(output);
    if (!m?.[1]) throw new Error(`no form page URL in:\n${output}`);
    const page = new URL(m[1]);
    const res = await fetch(page);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain("/form-host/host.js");

    const bundle = await fetch(new URL("/form-host/control/bundle.js", page));
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toBe(fs.readFileSync(path.join(DEFAULT_CONTROL_DIR, "bundle.js"), "utf8"));

    // The opportunity the page opens exists, and the page's seller token reads it.
    const id = page.searchParams.get("id") as string;
    expect(page.searchParams.get("entity")).toBe("opportunity");
    const { accessToken } = (await (await fetch(new URL("/form-host/token", page))).json()) as { accessToken: string };
    const row = await fetch(new URL(`/api/data/v9.2/${Table.opportunity.entitySetName}(${id})`, page), { headers: { authorization: `Bearer ${accessToken}` } });
    expect(row.status).toBe(200);
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
    const pc = url("Partner Center");
    const api = await dataverseApi();
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

describe("the sandbox on the imported solution", () => {
  it("says to build first when the solution package is missing", async () => {
    const missing = path.join(os.tmpdir(), `cosell-no-such-${process.pid}`, path.basename(MANAGED_SOLUTION_ZIP));
    await expect(startSandbox({ ports: { identity: 0, partnerCenter: 0, dataverse: 0 }, schema: "solution", solutionZip: missing })).rejects.toThrow(
      /is missing: run npm run build first/,
    );
  });
});
