/**
 * The admin surface of a running bridge (`cosell-bridge serve`): the status page, the admin API and
 * the page's buttons (retry a dead letter, reconcile now) need the admin token. Without it, or with
 * anything that is not exactly it, the answer is 401 and nothing is done: the dead letter is still
 * there, untouched, and no reconcile sweep ran. The comparison itself is constant-time.
 */
import { timingSafeEqual } from "node:crypto";
import { fc } from "@fast-check/jest";
import { OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import { formToken, isAdmin } from "@cosell/bridge/src/server/admin-auth";
import { PC_CURSOR } from "@cosell/bridge/src/reconcile";
import type { Job } from "@cosell/bridge/src/store";
import type { BridgeProcess } from "./support/bridge-process";
import { waitFor } from "./support/wait";
import { coSellReferral, World } from "./support/world";

// The comparison below is checked by watching node:crypto's timingSafeEqual (the real one, wrapped).
jest.mock("node:crypto", () => {
  const actual = jest.requireActual<typeof import("node:crypto")>("node:crypto");
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});

let world: World;
let bridge: BridgeProcess;
let token: string;
let dead: Job;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

beforeAll(async () => {
  world = await World.start({ name: "admin", store: "sqlite" });
  token = world.env.BRIDGE_ADMIN_TOKEN as string;
  await world.connect();
  bridge = world.instance("bridge");
  await world.up(bridge);
  // A dead letter, made the ordinary way: a seller edits an opportunity whose referral has expired.
  const referralId = await world.inboundReferral(coSellReferral("admin1"));
  const opportunityId = await waitFor(() => world.rows(Table.opportunity.logicalName).find((r) => r[OpportunityColumn.referralId] === referralId)?.[SystemColumn.opportunity.id] as string | undefined, "the opportunity");
  await world.settle();
  expect((await world.sandbox.partnerCenterControl("POST", `/_emulator/referrals/${referralId}/expire`)).status).toBe(200);
  await world.settle();
  await world.mustSeller("PATCH", `/${Table.opportunity.entitySetName}(${opportunityId})`, { [SystemColumn.opportunity.description]: "edited after expiry" }, { "if-match": "*" });
  const store = await world.store();
  dead = await waitFor(async () => (await store.listDeadLetters(10))[0], "a dead letter");
  await world.settle();
}, 240_000);

afterAll(async () => {
  await world?.close();
});

/** Everything that is not the admin token. */
const WRONG: ReadonlyArray<readonly [string, () => Record<string, string>]> = [
  ["no credentials", () => ({})],
  ["an empty bearer", () => ({ authorization: "Bearer " })],
  ["a wrong token of the same length", () => ({ authorization: `Bearer ${"x".repeat(token.length)}` })],
  ["the token without its last character", () => ({ authorization: `Bearer ${token.slice(0, -1)}` })],
  ["the token with one character more", () => ({ authorization: `Bearer ${token}x` })],
  ["the token in capitals", () => ({ authorization: `Bearer ${token.toUpperCase()}` })],
  ["the token without a scheme", () => ({ authorization: token })],
  ["the token as the Basic user name", () => ({ authorization: basic(token, "") })],
  ["a wrong Basic password", () => ({ authorization: basic("admin", "not-the-token") })],
  ["the status page's form token", () => ({ authorization: `Bearer ${formToken(token)}` })],
  ["the Dataverse webhook key", () => ({ authorization: `Bearer ${world.env.DATAVERSE_WEBHOOK_KEY as string}` })],
  ["the token in a cookie", () => ({ cookie: `token=${token}` })],
];

const ENDPOINTS: ReadonlyArray<readonly [string, string, (() => { body: string; headers: Record<string, string> }) | undefined]> = [
  ["GET", "/", undefined],
  ["GET", "/admin/status", undefined],
  ["GET", "/admin/dead-letters", undefined],
  ["POST", "/admin/dead-letters/{id}/retry", undefined],
  ["POST", "/admin/reconcile", undefined],
  // The status page's buttons: form posts with the form token.
  ["POST", "/admin/dead-letters/{id}/retry", () => ({ body: `csrf=${encodeURIComponent(formToken(token))}`, headers: { "content-type": "application/x-www-form-urlencoded" } })],
  ["POST", "/admin/reconcile", () => ({ body: `csrf=${encodeURIComponent(formToken(token))}`, headers: { "content-type": "application/x-www-form-urlencoded" } })],
];

describe("without the admin token", () => {
  const cases = ENDPOINTS.flatMap(([method, path, form]) => WRONG.map(([who, credentials]) => [`${method} ${path}${form ? " (form)" : ""}`, who, method, path, form, credentials] as const));

  it.each(cases)("%s with %s: 401, and the answer leaks nothing", async (_name, _who, method, path, form, credentials) => {
    const f = form?.();
    const answer = await world.admin(method, path.replace("{id}", String(dead.id)), { token: null, headers: { ...credentials(), ...(f?.headers ?? {}) }, ...(f ? { body: f.body } : {}) });
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toMatch(/^Basic /);
    expect(answer.text).not.toContain(token);
    expect(answer.text).not.toContain(formToken(token));
    expect(answer.text).not.toMatch(/Dead letters|Recent syncs/);
  });

  it("did nothing: the dead letter is still there, untouched, and no reconcile sweep ran", async () => {
    const store = await world.store();
    const now = await store.getJob(dead.id);
    expect(now).toMatchObject({ id: dead.id, state: "dead", attempts: dead.attempts, lastError: dead.lastError });
    expect(now?.updatedAt.getTime()).toBe(dead.updatedAt.getTime());
    expect(await store.getCursor(PC_CURSOR)).toBeUndefined();
    expect(world.logText()).not.toMatch(/reconcile sweep done|queued again by an admin/);
  });
});

describe("with the admin token", () => {
  it("shows the status page with the dead letter, its reason and a Retry button carrying the form token", async () => {
    const page = await world.admin("GET", "/");
    expect(page.status).toBe(200);
    expect(page.text).toContain(`action="/admin/dead-letters/${dead.id}/retry"`);
    expect(page.text).toContain("can no longer be changed");
    expect(page.text).toContain(`name="csrf" value="${formToken(token)}"`);
    expect(page.text).not.toContain(token);
  });

  it("refuses a form post with Basic credentials but without the form token (another site's button): 403, nothing done", async () => {
    const answer = await world.admin("POST", `/admin/dead-letters/${dead.id}/retry`, { token: null, headers: { authorization: basic("admin", token), "content-type": "application/x-www-form-urlencoded" }, body: "csrf=wrong" });
    expect(answer.status).toBe(403);
    expect((await (await world.store()).getJob(dead.id))?.state).toBe("dead");
  });

  it("retries the dead letter from the status page's button (Basic + form token): 303, queued again", async () => {
    const answer = await world.admin("POST", `/admin/dead-letters/${dead.id}/retry`, {
      token: null,
      headers: { authorization: basic("admin", token), "content-type": "application/x-www-form-urlencoded" },
      body: `csrf=${encodeURIComponent(formToken(token))}`,
    });
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toBe(`/?retried=${dead.id}`);
    await waitFor(() => world.logText().includes("queued again by an admin"), "the retry in the bridge's log");
    // Run again, it finds the edit already reported as kept in Dynamics 365 only: done, no longer a dead letter.
    await world.settle();
    expect((await (await world.store()).getJob(dead.id))?.state).not.toBe("dead");
  });

  it("reconciles on request (Bearer): the sweep runs and moves its cursor", async () => {
    const answer = await world.admin<{ status: string; enqueued: number }>("POST", "/admin/reconcile");
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe("done");
    expect(await (await world.store()).getCursor(PC_CURSOR)).toEqual(expect.any(String));
    await waitFor(() => /reconcile sweep done/.test(world.logText()), "the sweep in the bridge's log");
  });
});

describe("the comparison", () => {
  it("is constant-time: digests of both sides through crypto.timingSafeEqual, whatever the lengths", () => {
    const spy = timingSafeEqual as unknown as jest.Mock;
    try {
      fc.assert(
        fc.property(fc.string({ maxLength: 80 }), fc.string({ minLength: 24, maxLength: 80 }), (given, expected) => {
          spy.mockClear();
          const ok = isAdmin(`Bearer ${given}`, expected);
          expect(ok).toBe(given === expected && !/\s/.test(given) && given !== "");
          // Exactly one comparison, of two equal-length digests: no early exit on length or first byte.
          expect(spy).toHaveBeenCalledTimes(1);
          const [a, b] = spy.mock.calls[0] as [Buffer, Buffer];
          expect(a.length).toBe(32);
          expect(b.length).toBe(32);
        }),
        { numRuns: 300 },
      );
      expect(isAdmin(`Bearer ${"t".repeat(30)}`, "t".repeat(30))).toBe(true);
    } finally {
      spy.mockClear();
    }
  });
});
