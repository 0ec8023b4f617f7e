/**
 * The real PCF bundle in real Chromium, on the sandbox form page of the emulated Dataverse: a seller
 * switches sync on, picks a solution and saves; what the bridge would write back (referral, ✔, ✖)
 * shows after a refresh; an incoming referral is accepted; lead form, phone width, Italian,
 * read-only. Screenshots of the main states go to test-artifacts/pcf/.
 *
 * The full loop through the bridge (save → bridge → referral in the Partner Center emulator → ✔)
 * is cosell-loop.test.ts; here the bridge's writes are made by an admin through the Web API,
 * exactly as the bridge would make them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import {
  LeadColumn,
  OpportunityColumn,
  ReferralAction,
  SOLUTION_CATALOG_TABLE,
  SolutionCatalogColumn,
  SyncState,
  SystemColumn,
  Table,
  formatAuditEntry,
} from "@cosell/contract";
import { SANDBOX_ADMIN, SANDBOX_SELLER, TokenService, startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox";
import { formHostUrl, mountFormHost, type FormHostLinkOptions } from "../../sandbox/src/form-host";
import { REPO, describeWithChromium, ensureBundle, launchChromium } from "./chromium";

const ARTIFACTS = path.join(REPO, "test-artifacts/pcf");

describeWithChromium("form-host")("the Partner Center section on the sandbox form", () => {
  jest.setTimeout(240_000);
  let tokens: TokenService;
  let dataverse: DataverseEmulator;
  let browser: Browser;

  const token = (as: "seller" | "admin") =>
    tokens.issueUserAccessToken(as === "admin" ? SANDBOX_ADMIN : SANDBOX_SELLER, dataverse.resourceUrl).accessToken;

  async function api<T = Record<string, unknown>>(method: string, p: string, body?: unknown, as: "seller" | "admin" = "seller"): Promise<T> {
    const res = await fetch(`${dataverse.apiUrl}/${p}`, {
      method,
      headers: {
        authorization: `Bearer ${token(as)}`,
        accept: "application/json",
        prefer: "return=representation",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${p}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  async function createOpportunity(columns: Record<string, unknown> = {}, as: "seller" | "admin" = "seller"): Promise<string> {
    const created = await api("POST", Table.opportunity.entitySetName, { [SystemColumn.opportunity.name]: "Contoso ERP rollout", ...columns }, as);
    return String(created[Table.opportunity.primaryIdAttribute]);
  }

  /** Opens the page and waits until the control is on it. */
  async function open(options: FormHostLinkOptions): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(30_000);
    await page.goto(formHostUrl(dataverse.url, options));
    await page.waitForSelector("body[data-state=ready]");
    // The section's landmark (its label is the product name in every language).
    await page.getByRole("region", { name: "Microsoft Partner Center" }).waitFor();
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.locator("main").screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  }

  async function save(page: Page): Promise<void> {
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForSelector("body[data-state=ready]");
    await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
  }

  async function refresh(page: Page): Promise<void> {
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("status").filter({ hasText: "Refreshed" }).waitFor();
  }

  beforeAll(async () => {
    await ensureBundle();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    tokens = new TokenService();
    dataverse = await startDataverseEmulator({
      tokens,
      port: 0,
      extraRoutes: (app) => mountFormHost(app, { accessToken: () => token("seller") }),
    });
    dataverse.provisionContract();
    for (const [name, id, publisher] of [
      ["Contoso Field Service", "SOL-15974-MQF", "Contoso"],
      ["Fabrikam Analytics", "SOL-34104-EBB", "Fabrikam"],
    ] as const) {
      await api(
        "POST",
        SOLUTION_CATALOG_TABLE.entitySetName,
        {
          [SolutionCatalogColumn.name]: name,
          [SolutionCatalogColumn.solutionCode]: id,
          [SolutionCatalogColumn.publisher]: publisher,
          [SolutionCatalogColumn.isActive]: true,
        },
        "admin",
      );
    }
    browser = await launchChromium();
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await dataverse?.close();
  });

  test("a seller switches sync on, picks a solution and saves: the row has them", async () => {
    const id = await createOpportunity();
    const page = await open({ entity: "opportunity", id });
    await shot(page, "1-new-opportunity");

    await page.getByRole("switch", { name: "Sync with Partner Center" }).check();
    await page.getByText("Choose at least one solution to share this opportunity with Partner Center.").waitFor();
    const picker = page.getByRole("combobox", { name: "Solutions" });
    await picker.click();
    await picker.pressSequentially("contoso");
    await page.getByRole("option", { name: /Contoso Field Service/ }).click();
    await page.getByRole("toolbar", { name: "Chosen solutions" }).getByText("Contoso Field Service").waitFor();
    await page.getByRole("combobox", { name: "How can Microsoft help?" }).click();
    await page.getByRole("option", { name: "Proof of concept or demo" }).click();
    await shot(page, "2-sync-on-unsaved");
    await save(page);

    const row = await api("GET", `${Table.opportunity.entitySetName}(${id})`);
    expect(row[OpportunityColumn.syncWithPartnerCenter]).toBe(true);
    expect(row[OpportunityColumn.products]).toBe("SOL-15974-MQF");
    expect(typeof row[OpportunityColumn.microsoftHelp]).toBe("number");
    // Saved values came back from the row: the control shows them, and nothing is left to save.
    await expect(page.getByRole("switch", { name: "Sync with Partner Center" }).isChecked()).resolves.toBe(true);
    await expect(page.getByRole("button", { name: "Save" }).isDisabled()).resolves.toBe(true);
    await page.close();
  });

  test("what the bridge writes back shows after a refresh: the referral and ✔, then ✖ with the error", async () => {
    const id = await createOpportunity({ [OpportunityColumn.syncWithPartnerCenter]: true, [OpportunityColumn.products]: "SOL-15974-MQF" });
    const page = await open({ entity: "opportunity", id });
    const referralId = "5c3a1d3e-0000-4000-8000-00000000beef";
    await api(
      "PATCH",
      `${Table.opportunity.entitySetName}(${id})`,
      {
        [OpportunityColumn.referralId]: referralId,
        [OpportunityColumn.referralLink]: `https://partner.microsoft.com/dashboard/referrals/v2/leads/${referralId}/details`,
        [OpportunityColumn.referralStatus]: "Active",
        [OpportunityColumn.referralSubstatus]: "Accepted",
        [OpportunityColumn.syncState]: SyncState.Synced,
        [OpportunityColumn.lastSyncedOn]: "2026-11-24T16:00:00Z",
        [OpportunityColumn.audit]: formatAuditEntry({
          at: "2026-11-24T16:00:00.000Z",
          direction: "CRM→PC",
          outcome: "ok",
          message: "Referral created in Partner Center",
        }),
      },
      "admin",
    );
    await refresh(page);
    await page.locator("[data-sync-state=synced]").getByText("✔").waitFor();
    await page.getByText(referralId).waitFor();
    const link = page.getByRole("link", { name: /Open in Partner Center/ });
    expect(await link.getAttribute("target")).toBe("_blank");
    expect(await page.getByRole("switch", { name: "Sync with Partner Center" }).isDisabled()).toBe(true);
    await shot(page, "3-synced");

    await api(
      "PATCH",
      `${Table.opportunity.entitySetName}(${id})`,
      {
        [OpportunityColumn.syncState]: SyncState.Error,
        [OpportunityColumn.syncError]: "Partner Center needs a deal value above 0. Enter the estimated revenue and save again.",
      },
      "admin",
    );
    await refresh(page);
    await page.locator("[data-sync-state=error]").getByText("✖").waitFor();
    await page.getByText("Partner Center needs a deal value above 0.", { exact: false }).waitFor();
    await shot(page, "4-error");
    await page.close();
  });

  test("sharing with Microsoft sellers asks first; the dialog is reachable by role and keyboard", async () => {
    const id = await createOpportunity();
    const page = await open({ entity: "opportunity", id });
    await page.getByRole("switch", { name: "Share with Microsoft sellers" }).click();
    const dialog = page.getByRole("dialog", { name: "Share with Microsoft sellers?" });
    await dialog.waitFor();
    await shot(page, "5-share-confirm");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(await page.getByRole("switch", { name: "Share with Microsoft sellers" }).isChecked()).toBe(false);

    await page.getByRole("switch", { name: "Share with Microsoft sellers" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Share" }).click();
    expect(await page.getByRole("switch", { name: "Share with Microsoft sellers" }).isDisabled()).toBe(true);
    await save(page);
    expect((await api("GET", `${Table.opportunity.entitySetName}(${id})`))[OpportunityColumn.shareWithMicrosoft]).toBe(true);
    await page.close();
  });

  test("Tab moves through the section in reading order", async () => {
    const id = await createOpportunity();
    const page = await open({ entity: "opportunity", id });
    await page.getByRole("switch", { name: "Sync with Partner Center" }).focus();
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const focused = page.locator(":focus");
      const id = await focused.getAttribute("id");
      const label = id ? await page.locator(`label[for="${id}"]`).textContent() : null;
      names.push((label ?? (await focused.getAttribute("aria-label")) ?? (await focused.textContent()) ?? "").trim());
      await page.keyboard.press("Tab");
    }
    expect(names).toEqual(["Sync with Partner Center", "How can Microsoft help?", "Share with Microsoft sellers", "Solutions"]);
    await page.close();
  });

  test("an incoming referral still pending is accepted from the form", async () => {
    const id = await createOpportunity(
      {
        [OpportunityColumn.syncWithPartnerCenter]: true,
        [OpportunityColumn.referralId]: "5c3a1d3e-0000-4000-8000-00000000cafe",
        [OpportunityColumn.referralStatus]: "New",
        [OpportunityColumn.referralSubstatus]: "Pending",
        [OpportunityColumn.syncState]: SyncState.Synced,
        [OpportunityColumn.audit]: formatAuditEntry({
          at: "2026-11-24T12:00:00.000Z",
          direction: "PC→CRM",
          outcome: "ok",
          message: "Opportunity created from an incoming referral",
        }),
      },
      "admin",
    );
    const page = await open({ entity: "opportunity", id });
    await page.getByText("Microsoft sent you this referral").waitFor();
    await shot(page, "6-incoming-pending");
    await page.getByRole("button", { name: "Accept" }).click();
    await page.getByText("Accept requested.", { exact: false }).waitFor();
    await save(page);
    expect((await api("GET", `${Table.opportunity.entitySetName}(${id})`))[OpportunityColumn.referralAction]).toBe(ReferralAction.Accept);
    await page.close();
  });

  test("the lead form shows only what applies to a lead", async () => {
    const lead = await api(
      "POST",
      Table.lead.entitySetName,
      {
        [SystemColumn.lead.subject]: "Marketplace lead: Tailspin Toys trial",
        [SystemColumn.lead.lastName]: "Ng",
        [LeadColumn.referralId]: "5c3a1d3e-0000-4000-8000-00000000f00d",
        [LeadColumn.referralStatus]: "New",
        [LeadColumn.referralSubstatus]: "Received",
        [LeadColumn.syncState]: SyncState.Synced,
      },
      "admin",
    );
    const page = await open({ entity: "lead", id: String(lead[Table.lead.primaryIdAttribute]) });
    expect(await page.locator("[data-form-kind]").getAttribute("data-form-kind")).toBe("lead");
    expect(await page.getByRole("switch").count()).toBe(0);
    await page.getByText("New · Received").waitFor();
    await shot(page, "7-lead");
    await page.close();
  });

  test("phone width, Italian, and a read-only form", async () => {
    const id = await createOpportunity({ [OpportunityColumn.products]: "SOL-15974-MQF" });
    const phone = await open({ entity: "opportunity", id, formFactor: 3, width: 360 });
    expect(await phone.locator("[data-layout]").getAttribute("data-layout")).toBe("narrow");
    await shot(phone, "8-phone");
    await phone.close();

    const italian = await open({ entity: "opportunity", id, lcid: 1040 });
    await italian.getByRole("switch", { name: "Sincronizza con Partner Center" }).waitFor();
    await shot(italian, "9-italian");
    await italian.close();

    const readOnly = await open({ entity: "opportunity", id, disabled: true });
    await readOnly.getByText("This section is read-only.").waitFor();
    expect(await readOnly.getByRole("switch", { name: "Sync with Partner Center" }).isDisabled()).toBe(true);
    await readOnly.close();
  });
});
