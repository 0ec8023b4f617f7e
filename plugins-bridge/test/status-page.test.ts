/** The status page's lines on the Partner Center refresh token as it ages (Entra: 90 days without use) and on alternate keys not yet built. */
import { renderStatusPage, type StatusView } from "../src/server/status-page";

const now = new Date("2026-12-08T00:00:00Z");
const view = (refreshTokenStoredAt?: Date): StatusView => ({
  instanceId: "test",
  queue: { queued: 0, ready: 0, running: 0, dead: 0, oldestQueuedAt: null, lagMs: 0 },
  signIn: { partnerCenter: { ok: true }, dataverse: { ok: true } },
  recent: [],
  failures: [],
  deadLetters: [],
  formToken: "t",
  now,
  ...(refreshTokenStoredAt ? { refreshTokenStoredAt } : {}),
});
const line = (html: string) => /<li[^>]*>Partner Center refresh token[^]*?<\/li>|<li[^>]*><strong>Partner Center refresh token[^]*?<\/li>/.exec(html)?.[0] ?? "";

describe("status page: the Partner Center refresh token", () => {
  it("renewed recently: when, and when Entra ID would end it unused", () => {
    const l = line(renderStatusPage(view(new Date("2026-12-07T23:10:00Z"))));
    expect(l).toMatch(/class="ok"/);
    expect(l).toContain("renewed 2026-12-07 23:10:00 UTC");
    expect(l).toContain("after 90 days without use (on 2027-03-07 23:10:00 UTC");
  });

  it("not renewed for a week or more: a warning that says what to do", () => {
    const l = line(renderStatusPage(view(new Date("2026-11-20T00:00:00Z"))));
    expect(l).toMatch(/class="error"/);
    expect(l).toContain("not renewed for 18 days");
    expect(l).toContain("cosell-bridge login");
  });

  it("none stored: says so", () => {
    expect(line(renderStatusPage(view()))).toMatch(/none stored .*cosell-bridge login/);
  });
});

describe("status page: the referral-id alternate keys", () => {
  const keys = (keysNotReady: StatusView["keysNotReady"]) => renderStatusPage({ ...view(), keysNotReady });

  it("all Active: no line", () => {
    expect(keys([])).not.toContain("Alternate key");
  });

  it("still being built: says so and that syncs wait", () => {
    const html = keys([{ table: "opportunity", key: "cosell_opportunity_referralid", status: "Pending" }]);
    expect(html).toMatch(/<li class="empty">Alternate key <code>cosell_opportunity_referralid<\/code> on opportunity: still being built by Dynamics 365 \(Pending\); syncs of new opportunity records wait/);
  });

  it("failed: an error telling the admin to reactivate it", () => {
    const html = keys([{ table: "lead", key: "cosell_lead_referralid", status: "Failed" }]);
    expect(html).toMatch(/<li class="error"><strong>Alternate key <code>cosell_lead_referralid<\/code> on lead could not be built \(Failed\)\.<\/strong> Reactivate it .*ReactivateEntityKey/);
  });
});
