/**
 * The whole co-sell loop with a browser in it (issue 5): real Chromium on the sandbox form page,
 * which hosts the real PCF bundle on an opportunity of the emulated Dataverse (the managed solution
 * imported), the real bridge on SQLite in this process, both webhooks connected.
 *
 *  1. A seller switches sync on, picks a solution in the products picker and saves: the referral
 *     appears in the Partner Center emulator and the control shows ✔ once the bridge has written back.
 *  2. An incoming referral waits in the control: the seller accepts it and saves; Partner Center
 *     moves it to Active/Accepted and the control shows it.
 *
 * The page re-reads its row every 1.5 s (`poll`), as a seller pressing Refresh would; every wait is
 * a poll for a condition with a generous limit. Screenshots of the section in its main states go to
 * test-artifacts/browser/.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { OpportunityColumn, SOLUTION } from "@cosell/contract";
import { formHostUrl, mountFormHost } from "@cosell/sandbox";
import { fluentBundle } from "../../sandbox/src/form-host";
import { coSellReferral, startE2E, waitFor, type E2E } from "../e2e/harness";
import { REPO, describeWithChromium, ensureBundle, launchChromium } from "./chromium";

const ARTIFACTS = path.join(REPO, "test-artifacts/browser");
/** How long the bridge may take to carry a change across on a slow, shared machine. */
const ACROSS_MS = 120_000;
const PICKED = { name: "Contoso Field Service", solutionId: "SOL-27391-KTR" };

describeWithChromium("cosell-loop")("the co-sell loop in a browser: control → bridge → Partner Center → control", () => {
  jest.setTimeout(300_000);
  let e: E2E | undefined;
  let browser: Browser | undefined;

  function world(): E2E {
    if (!e) throw new Error("the sandbox did not start");
    return e;
  }

  /** Opens the form page on an opportunity and waits until the control is on it. */
  async function open(opportunityId: string): Promise<Page> {
    if (!browser) throw new Error("Chromium did not start");
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    page.setDefaultTimeout(60_000);
    await page.goto(formHostUrl(world().sandbox.urls.dataverse, { entity: "opportunity", id: opportunityId, poll: 1500 }));
    await page.waitForSelector("body[data-state=ready]");
    await page.getByRole("region", { name: "Microsoft Partner Center" }).waitFor();
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.locator("main").screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  }

  /** Runs a scenario on the page of an opportunity; a failure leaves `<name>-failed.png` and the page's state. */
  async function onForm(opportunityId: string, name: string, scenario: (page: Page) => Promise<void>): Promise<void> {
    const page = await open(opportunityId);
    try {
      await scenario(page);
    } catch (err) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}-failed.png`), fullPage: true }).catch(() => undefined);
      const state = await page.evaluate("JSON.stringify(window.formHost)").catch(() => "unknown");
      throw new Error(`${(err as Error).message}\n(page state: ${String(state)}; screenshot ${name}-failed.png)`, { cause: err });
    } finally {
      await page.close();
    }
  }

  /** Save, as on a form; the row is checked by the caller (a poll may re-read it meanwhile). */
  async function save(page: Page): Promise<void> {
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForSelector("body[data-state=ready]");
  }

  beforeAll(async () => {
    await ensureBundle();
    // Fluent UI is bundled on the page's first request; do it now, outside any page's time limit.
    await fluentBundle();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // The page asks for its seller token only once everything is up.
    const live: { e?: E2E } = {};
    const started = await startE2E({
      store: "sqlite",
      sandbox: {
        dataverseRoutes: (app) =>
          mountFormHost(app, {
            accessToken: () => {
              if (!live.e) throw new Error("the sandbox is still starting");
              return live.e.sandbox.userAccessToken("seller");
            },
          }),
      },
    });
    live.e = e = started;
    await started.sandbox.seedSolutionCatalogue();
    browser = await launchChromium();
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await e?.close();
  });

  test("the emulated Dataverse runs on the imported managed solution", async () => {
    expect(world().sandbox.schema).toBe("solution");
    const installed = await world().sandbox.dataverseApi<{ value: Array<{ ismanaged: boolean }> }>(
      "GET",
      `/solutions?$select=ismanaged&$filter=${encodeURIComponent(`uniquename eq '${SOLUTION.uniqueName}'`)}`,
      undefined,
      { as: "admin" },
    );
    expect(installed.body.value).toEqual([expect.objectContaining({ ismanaged: true })]);
  });

  test("sync on, a solution picked, Save: the referral reaches Partner Center and the control shows ✔", async () => {
    const { opportunityId } = await world().sandbox.seedDraftOpportunity("Contoso Pharmaceuticals ERP rollout");
    await onForm(opportunityId, "sync-on", async (page) => {
      await shot(page, "1-draft");

      await page.getByRole("switch", { name: "Sync with Partner Center" }).check();
      const picker = page.getByRole("combobox", { name: "Solutions" });
      await picker.click();
      await picker.pressSequentially("field");
      await page.getByRole("option", { name: new RegExp(PICKED.name) }).click();
      await page.getByRole("toolbar", { name: "Chosen solutions" }).getByText(PICKED.name).waitFor();
      await shot(page, "2-sync-on-unsaved");
      await save(page);

      const referral = await waitFor(() => world().referralsFor(opportunityId)[0], "the referral in Partner Center", ACROSS_MS);
      expect(referral.externalReferenceId).toBe(opportunityId);
      expect(referral.details.requirements.solutions).toEqual(expect.arrayContaining([expect.objectContaining({ id: PICKED.solutionId })]));

      // The bridge writes the referral back; the page's next re-read shows it, synced, with the ✔.
      await page.locator("[data-sync-state=synced]").getByText("✔").waitFor({ timeout: ACROSS_MS });
      await page.getByText(referral.id, { exact: true }).waitFor({ timeout: ACROSS_MS });
      expect(await page.getByRole("switch", { name: "Sync with Partner Center" }).isChecked()).toBe(true);
      const row = await world().opportunity(opportunityId);
      expect(row[OpportunityColumn.referralId]).toBe(referral.id);
      await shot(page, "3-synced");
    });
  });

  test("an incoming referral pending in the control: Accept, Save, and Partner Center has it Active/Accepted", async () => {
    const referralId = await world().inboundReferral(coSellReferral({ name: "Northwind data platform modernisation" }));
    const opportunity = await waitFor(() => world().findOpportunityByReferral(referralId), "the opportunity for the incoming referral", ACROSS_MS);
    // Until the bridge has finished with the new record, a save could race its last write.
    await world().settle(ACROSS_MS);
    await onForm(opportunity.opportunityid, "accept", async (page) => {
      await page.getByText("Microsoft sent you this referral").waitFor();
      await page.getByText("New · Pending").waitFor();
      await shot(page, "4-incoming-pending");

      await page.getByRole("button", { name: "Accept" }).click();
      await page.getByText("Accept requested.", { exact: false }).waitFor();
      await shot(page, "5-accept-requested");
      await save(page);

      await waitFor(
        () => {
          const r = world().referral(referralId);
          return r.status === "Active" && r.substatus === "Accepted";
        },
        "Partner Center to move the referral to Active/Accepted",
        ACROSS_MS,
      );
      // The bridge writes the new status back; the control shows it, the request done.
      await page.getByText("Active · Accepted").waitFor({ timeout: ACROSS_MS });
      await page.getByText("Microsoft sent you this referral").waitFor({ state: "detached", timeout: ACROSS_MS });
      const row = await world().opportunity(opportunity.opportunityid);
      expect(row[OpportunityColumn.referralStatus]).toBe("Active");
      expect(row[OpportunityColumn.referralAction] ?? null).toBeNull();
      await shot(page, "6-accepted");
    });
  });
});
