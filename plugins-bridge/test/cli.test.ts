/**
 * `cosell-bridge` commands against the sandbox (real emulators, real store): configuration
 * mistakes exit 2 with the list and no stack trace; connect is idempotent, refuses to take over
 * another URL without --overwrite and changes nothing on --dry-run; backfill syncs what exists with
 * a progress bar and a summary; mapping test writes nothing; dead letters are listed and retried.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OpportunityColumn, SECURITY_ROLES } from "@cosell/contract";
import { startSandbox, type Sandbox } from "@cosell/sandbox/src/compose";
import { runCli } from "../src/cli/program";
import { openStore } from "../src/store";

jest.setTimeout(90_000);

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function cli(args: string[], env: Record<string, string>): Promise<Run> {
  let out = "";
  let err = "";
  const code = await runCli(args, { env, out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe("cosell-bridge CLI", () => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ ports: { identity: 0, partnerCenter: 0, dataverse: 0 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-cli-"));
    env = sandbox.bridgeEnvironment({ port: 0, publicUrl: "http://127.0.0.1:7999", sqlitePath: path.join(dir, "bridge.sqlite"), logLevel: "error" });
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("configuration mistakes", () => {
    it("lists every problem and exits 2, without a stack trace or a secret", async () => {
      const r = await cli(["status"], { ...env, DATAVERSE_URL: "ftp://nope", BRIDGE_ADMIN_TOKEN: "short", SYNC_MAX_ATTEMPTS: "0", PARTNER_CENTER_CLIENT_SECRET: "" });
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/the configuration is not valid/);
      expect(r.err).toMatch(/DATAVERSE_URL must be an absolute http\(s\) URL/);
      expect(r.err).toMatch(/BRIDGE_ADMIN_TOKEN must be at least 24 characters/);
      expect(r.err).toMatch(/SYNC_MAX_ATTEMPTS must be a whole number/);
      expect(r.err).toMatch(/PARTNER_CENTER_CLIENT_SECRET is required/);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.err).not.toContain(env.PARTNER_CENTER_REFRESH_TOKEN);
    });

    it("refuses a broken mapping file with its problems, exit 2", async () => {
      const file = path.join(dir, "bad-mapping.json");
      fs.writeFileSync(file, JSON.stringify({ opportunity: { fields: { dealValue: { direction: "sideways" } } } }));
      const r = await cli(["status"], { ...env, MAPPING_FILE: file });
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/opportunity\.fields\.dealValue\.direction/);
      expect(r.err).not.toMatch(/\n\s+at /);
    });

    it("refuses a bad --concurrency and an unknown command with exit 2", async () => {
      expect((await cli(["backfill", "--concurrency", "0"], env)).code).toBe(2);
      expect((await cli(["frobnicate"], env)).code).toBe(2);
    });
  });

  describe("connect", () => {
    it("checks the application user's privileges first: without the bridge's role it names what is missing and changes nothing", async () => {
      const admin = { as: "admin" as const };
      const role = await sandbox.dataverseApi<{ value: Array<{ roleid: string }> }>("GET", `/roles?$select=roleid&$filter=${encodeURIComponent(`name eq '${SECURITY_ROLES.bridge.name}'`)}`, undefined, admin);
      const roleId = role.body.value[0]!.roleid;
      const unassign = await sandbox.dataverseApi("DELETE", `/systemusers(${sandbox.bridgeUserId})/systemuserroles_association(${roleId})/$ref`, undefined, admin);
      expect(unassign.status).toBe(204);
      try {
        const r = await cli(["connect"], env);
        expect(r.err).toBe("cosell-bridge: connect refused a change (see above)\n");
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/! dataverse\s+the application user's privileges: refused — the bridge's application user lacks prvCreateOpportunity, prvReadOpportunity/);
        expect(r.out).toContain(`"${SECURITY_ROLES.bridge.name}" role`);
        expect(r.out).not.toMatch(/webhook registration/);
        const endpoints = await sandbox.dataverseApi<{ value: unknown[] }>("GET", "/serviceendpoints", undefined, admin);
        expect(endpoints.body.value).toHaveLength(0);
      } finally {
        const back = await sandbox.dataverseApi("POST", `/systemusers(${sandbox.bridgeUserId})/systemuserroles_association/$ref`, { "@odata.id": `/roles(${roleId})` }, admin);
        expect(back.status).toBe(204);
      }
    });

    it("--dry-run prints the plan and changes nothing", async () => {
      const r = await cli(["connect", "--dry-run"], env);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/\+ partner-center\s+webhook registration: create/);
      expect(r.out).toMatch(/\+ dataverse\s+service endpoint cosell-bridge: create/);
      expect(r.out).toMatch(/step cosell-bridge: opportunity Update: create — async post-operation on .*cosell_products/);
      expect(r.out).toMatch(/dry run: nothing was changed/);
      const reg = await fetch(`${sandbox.urls.partnerCenter}/webhooks/v1/registration`, { headers: { authorization: `Bearer ${sandbox.tokens.issueUserAccessToken({ objectId: "x", userPrincipalName: "x@x", displayName: "x", tenantId: "t" }, "https://api.partnercenter.microsoft.com").accessToken}` } });
      expect(reg.status).toBe(404);
      const endpoints = await sandbox.dataverseApi<{ value: unknown[] }>("GET", "/serviceendpoints", undefined, { as: "admin" });
      expect(endpoints.body.value).toHaveLength(0);
    });

    it("registers both services, and a second run changes nothing", async () => {
      const first = await cli(["connect"], env);
      expect(first.code).toBe(0);
      expect(first.out).toMatch(/webhook registration: create/);
      const second = await cli(["connect"], env);
      expect(second.code).toBe(0);
      expect(second.out).toMatch(/webhook registration: unchanged/);
      expect(second.out).not.toMatch(/: create/);
      const steps = await sandbox.dataverseApi<{ value: Array<{ name: string; filteringattributes: string | null }> }>("GET", "/sdkmessageprocessingsteps?$select=name,filteringattributes", undefined, { as: "admin" });
      const ours = steps.body.value.filter((s) => s.name.startsWith("cosell-bridge:"));
      expect(ours.map((s) => s.name).sort()).toEqual(
        ["lead Create", "lead QualifyLead", "lead Update", "opportunity Create", "opportunity Lose", "opportunity Update", "opportunity Win"].map((n) => `cosell-bridge: ${n}`),
      );
      const update = ours.find((s) => s.name === "cosell-bridge: opportunity Update");
      // Never the bridge's own bookkeeping columns: its writes must not call it back.
      for (const own of [OpportunityColumn.syncState, OpportunityColumn.audit, OpportunityColumn.lastSyncedOn, OpportunityColumn.syncError, OpportunityColumn.referralStatus])
        expect(update?.filteringattributes?.split(",")).not.toContain(own);
      expect(update?.filteringattributes?.split(",")).toEqual(expect.arrayContaining(["estimatedvalue", "name", OpportunityColumn.referralAction, OpportunityColumn.syncWithPartnerCenter]));
      // Sellers and admins find the bridge from Dynamics 365: cosell_BridgeUrl holds its public URL.
      const values = await sandbox.dataverseApi<{ value: Array<{ value: string }> }>("GET", `/environmentvariablevalues?$filter=${encodeURIComponent("schemaname eq 'cosell_BridgeUrl'")}`, undefined, { as: "admin" });
      expect(values.body.value.map((v) => v.value)).toEqual(["http://127.0.0.1:7999"]);
    });

    it("refuses to take over a registration for another URL without --overwrite, and says whose it is", async () => {
      const elsewhere = { ...env, BRIDGE_PUBLIC_URL: "http://127.0.0.1:7998" };
      const refused = await cli(["connect", "--only", "partner-center"], elsewhere);
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/refused — Partner Center sends its events .* to http:\/\/127\.0\.0\.1:7999\/webhooks\/partner-center/);
      const taken = await cli(["connect", "--only", "partner-center", "--overwrite"], elsewhere);
      expect(taken.code).toBe(0);
      expect(taken.out).toMatch(/replaces http:\/\/127\.0\.0\.1:7999\/webhooks\/partner-center with http:\/\/127\.0\.0\.1:7998\/webhooks\/partner-center/);
    });
  });

  describe("backfill, mapping test, status, dead letters", () => {
    let referralIds: string[];

    it("backfill syncs every existing referral once, with a progress bar and a summary", async () => {
      referralIds = await sandbox.seedReferrals();
      const r = await cli(["backfill", "--concurrency", "4"], env);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Backfill done in/);
      expect(r.out).toMatch(/referrals listed\s+3/);
      expect(r.out).toMatch(/created\s+3/);
      for (const id of referralIds.slice(0, 2)) {
        const found = await sandbox.dataverseApi<{ value: unknown[] }>("GET", `/opportunities?$filter=${encodeURIComponent(`cosell_referralid eq '${id}'`)}`);
        expect(found.body.value).toHaveLength(1);
      }
      const lead = await sandbox.dataverseApi<{ value: unknown[] }>("GET", `/leads?$filter=${encodeURIComponent(`cosell_referralid eq '${referralIds[2] as string}'`)}`);
      expect(lead.body.value).toHaveLength(1);
      // Again: nothing new is created.
      const again = await cli(["backfill"], env);
      expect(again.code).toBe(0);
      expect(again.out).toMatch(/created\s+0/);
    });

    it("mapping test shows what a sync would write and writes nothing", async () => {
      const accountId = /\(([0-9a-f-]{36})\)/.exec((await sandbox.dataverseApi("POST", "/accounts", { name: "Dry Run Ltd", address1_country: "Germany" })).headers.get("odata-entityid") ?? "")?.[1];
      const created = await sandbox.dataverseApi("POST", "/opportunities", {
        name: "Dry run",
        estimatedvalue: 10,
        estimatedclosedate: "2027-01-01",
        "customerid_account@odata.bind": `/accounts(${accountId as string})`,
        [OpportunityColumn.syncWithPartnerCenter]: true,
      });
      const opportunityId = /\(([0-9a-f-]{36})\)/.exec(created.headers.get("odata-entityid") ?? "")?.[1] as string;
      const writesBefore = sandbox.dataverse.organization.changes.filter((c) => c.callerId === sandbox.bridgeUserId).length;
      const pcBefore = sandbox.partnerCenter.changes().length;
      const r = await cli(["mapping", "test", opportunityId], env);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/would NOT be sent to Partner Center/);
      expect(r.out).toMatch(/two-letter country code/);
      const linked = await cli(["mapping", "test", referralIds[0] as string], env);
      expect(linked.code).toBe(0);
      expect(linked.out).toMatch(/^Link /);
      expect(linked.out).toMatch(/Partner Center: nothing to write/);
      expect(sandbox.dataverse.organization.changes.filter((c) => c.callerId === sandbox.bridgeUserId).length).toBe(writesBefore);
      expect(sandbox.partnerCenter.changes().length).toBe(pcBefore);
      expect((await cli(["mapping", "test", "no-such-thing"], env)).code).toBe(1);
    });

    it("status reports the store, queue and sign-in", async () => {
      const r = await cli(["status", "--json"], env);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ store: "sqlite", queue: { queued: 0, running: 0 }, signIn: { partnerCenter: { ok: true }, dataverse: { ok: true } } });
      // The sign-in check redeemed the refresh token; the rotated one is stored, with its date (never the token).
      const body = JSON.parse(r.out) as { partnerCenterRefreshTokenStoredAt?: string };
      expect(Date.parse(body.partnerCenterRefreshTokenStoredAt ?? "")).toBeGreaterThan(Date.now() - 120_000);
      expect(r.out).not.toContain(env.PARTNER_CENTER_REFRESH_TOKEN);
    });

    it("lists dead letters and queues one again", async () => {
      const store = await openStore({ kind: "sqlite", path: env.BRIDGE_SQLITE_PATH as string });
      await store.enqueue({ linkKey: "referral:gone", kind: "sync", payload: {} });
      const job = await store.claimNext("t", 60_000);
      await store.deadLetter(job?.id as number, "Partner Center refused it", "t");
      await store.close();
      const list = await cli(["dead-letters", "list"], env);
      expect(list.out).toMatch(new RegExp(`${job?.id as number}\\s+referral:gone .* Partner Center refused it`));
      const retried = await cli(["dead-letters", "retry", String(job?.id)], env);
      expect(retried.code).toBe(0);
      expect((await cli(["dead-letters"], env)).out).toMatch(/No dead letters/);
      expect((await cli(["dead-letters", "retry", "424242"], env)).code).toBe(1);
    });
  });
});
