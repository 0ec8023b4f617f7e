/**
 * Secrets never reach a log line. A bridge runs at LOG_LEVEL=trace (everything it can say) through
 * ordinary syncs and through the paths most likely to spill a credential: short-lived tokens
 * refreshed all the time, a revoked refresh token, a client secret that no longer works, refused
 * webhooks and admin calls, and the CLI's own output (connect, status, dead-letters). Every line
 * every process wrote is then searched for the client secret, the refresh tokens (configured and
 * rotated), every access token the Entra emulator issued to the bridge, the webhook key and the
 * admin token (support/secrets.ts, shared with the end-to-end and chaos suites).
 */
import { OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import { REFERRALS_ADMIN } from "@cosell/sandbox/src/compose";
import { DATAVERSE_WEBHOOK_HEADER } from "@cosell/bridge/src/config";
import { runCli } from "./support/bridge-process";
import { expectNoSecrets, findSecrets } from "./support/secrets";
import type { BridgeProcess } from "./support/bridge-process";
import { waitFor } from "./support/wait";
import { coSellReferral, World } from "./support/world";

let world: World;
let bridge: BridgeProcess;

beforeAll(async () => {
  // Access tokens live 45 s: the bridge fetches and refreshes them all the time (and rotates the refresh token).
  world = await World.start({ name: "secrets", store: "sqlite", logLevel: "trace", sandbox: { accessTokenLifetimeSeconds: 45 }, env: { BRIDGE_JOB_LEASE_SECONDS: "3" } });
  await world.connect();
  bridge = world.instance("bridge");
  await world.up(bridge);
}, 240_000);

afterAll(async () => {
  await world?.close();
});

describe("every log line, at trace level", () => {
  it("holds no secret through ordinary syncs, refusals, broken sign-in and CLI output", async () => {
    const env = world.env;
    // Ordinary work: both directions, a dead letter.
    const referralId = await world.inboundReferral(coSellReferral("secrets1"));
    await world.createReadyOpportunity("secrets2");
    const opportunityId = await waitFor(() => world.rows(Table.opportunity.logicalName).find((r) => r[OpportunityColumn.referralId] === referralId)?.[SystemColumn.opportunity.id] as string | undefined, "the opportunity");
    await world.settle();
    await world.sandbox.partnerCenterControl("POST", `/_emulator/referrals/${referralId}/expire`);
    await world.settle();
    await world.mustSeller("PATCH", `/${Table.opportunity.entitySetName}(${opportunityId})`, { [SystemColumn.opportunity.description]: "after expiry" }, { "if-match": "*" });
    await waitFor(async () => (await (await world.store()).listDeadLetters(5)).length > 0, "a dead letter");

    // Refusals: admin calls with near-miss tokens, webhooks with near-miss keys.
    const admin = env.BRIDGE_ADMIN_TOKEN as string;
    const key = env.DATAVERSE_WEBHOOK_KEY as string;
    for (const wrong of [admin.slice(0, -1), `${admin}x`, admin.toUpperCase()]) expect((await world.admin("GET", "/admin/status", { token: wrong })).status).toBe(401);
    for (const wrong of [key.slice(0, -1), `${key}x`]) {
      const r = await fetch(`${bridge.url}/webhooks/dataverse`, { method: "POST", headers: { "content-type": "application/json", [DATAVERSE_WEBHOOK_HEADER]: wrong }, body: "{}" });
      expect(r.status).toBe(401);
    }

    // Tokens come and go while it works (45-second lifetime).
    await waitFor(() => world.witness.tokensIssued >= 6, "several tokens issued to the bridge", 120_000, 500);

    // CLI output, while sign-in still works.
    const cliEnv = { ...env, BRIDGE_INSTANCE_ID: "secrets-cli" };
    for (const args of [["status", "--json"], ["dead-letters", "list", "--json"], ["connect", "--dry-run", "--public-url", world.balancer.url]]) {
      const r = await runCli(args, cliEnv, { logFile: world.logFile("cli"), timeoutMs: 120_000 });
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
    }

    // Broken sign-in: the service account's refresh tokens are revoked (a password reset)...
    world.sandbox.tokens.revokeUser(REFERRALS_ADMIN.userPrincipalName);
    // ...and the client secret no longer works (rotated in Entra ID but not in the bridge).
    world.sandbox.tokens.registerClient({ clientId: world.sandbox.bridgeClient.clientId, clientSecret: "a-new-secret-the-bridge-does-not-have-0123456789", tenantId: world.sandbox.bridgeClient.tenantId });
    world.witness.add("the new client secret", "a-new-secret-the-bridge-does-not-have-0123456789");
    await world.inboundReferral(coSellReferral("secrets3"));
    await waitFor(() => /invalid_grant|AADSTS50173|invalid_client|AADSTS7000215|cannot sign in/i.test(world.logText()), "the bridge to report the failed sign-in", 120_000, 500);
    const status = await runCli(["status"], cliEnv, { logFile: world.logFile("cli"), timeoutMs: 120_000 });
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/CANNOT SIGN IN/);
    await world.down(bridge);

    const text = world.logText();
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    console.log(`${lines.length} log lines from ${world.bridges.length} bridge process(es) and 5 CLI commands, searched for ${world.witness.size} secrets (${world.witness.tokensIssued} tokens issued to the bridge)`);
    expect(lines.length).toBeGreaterThan(40);
    expect(text).toMatch(/"level":20,/); // the most verbose lines the bridge writes are there
    expect(text).toMatch(/"level":50,.*(sign in|sign-in|invalid_grant|invalid_client|AADSTS)/i); // and the loud sign-in failure
    expect(world.witness.size).toBeGreaterThanOrEqual(10);
    expectNoSecrets(lines, world.witness);
  }, 420_000);

  it("would notice a secret if one were there (the scan itself works, also on a cut-off token)", () => {
    const secrets = world.witness.secrets();
    const token = secrets.find((s) => s.value.startsWith("eyJ"));
    const client = secrets.find((s) => s.name === "DATAVERSE_CLIENT_SECRET");
    if (!token || !client) throw new Error("the witness saw no access token or no client secret");
    expect(findSecrets([`{"msg":"calling","authorization":"Bearer ${token.value}"}`], secrets)).toHaveLength(1);
    expect(findSecrets([`{"msg":"cut","t":"${token.value.slice(0, -20)}"}`], secrets)).toHaveLength(1);
    expect(findSecrets([`{"secret":"${client.value.slice(0, 30)}…"}`], secrets)).toHaveLength(1);
    expect(() => expectNoSecrets([`x ${client.value} y`], secrets)).toThrow(/DATAVERSE_CLIENT_SECRET/);
    expect(() => expectNoSecrets([`x ${client.value} y`], secrets)).not.toThrow(new RegExp(client.value));
  });
});
