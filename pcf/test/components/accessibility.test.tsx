import "../support/dom";
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ReferralAction } from "@cosell/contract";
import { renderSection } from "../support/render";
import { STATES } from "../support/fixtures";

/** The label of a form control: its <label for>, else aria-label, else its text. */
function nameOf(el: HTMLElement): string {
  const label = el.id ? document.querySelector(`label[for="${el.id}"]`) : null;
  return (label?.textContent ?? el.getAttribute("aria-label") ?? el.textContent ?? "").trim();
}

/** Not inside display:none (e.g. a Dropdown's clear button while nothing can be cleared). */
function displayed(el: HTMLElement): boolean {
  for (let e: HTMLElement | null = el; e; e = e.parentElement) if (getComputedStyle(e).display === "none") return false;
  return true;
}

/**
 * Elements reachable with Tab, in Tab order. Fluent's tabster moves focus itself and sees nothing
 * as visible under jsdom (no layout), so real Tab presses are tested in Chromium (tests/browser);
 * here we check the order the DOM gives: no positive tabindex, controls in reading order.
 */
function tabOrder(): HTMLElement[] {
  const candidates = Array.from(
    document.querySelectorAll<HTMLElement>("input, button, a[href], textarea, select, [tabindex]"),
  ).filter(
    (el) => !el.hasAttribute("disabled") && el.tabIndex >= 0 && !el.hasAttribute("data-tabster-dummy") && displayed(el),
  );
  expect(candidates.filter((el) => el.tabIndex > 0)).toEqual([]);
  return candidates;
}

test("the section is a named region with headings per part", async () => {
  await renderSection({ values: STATES.synced });
  expect(screen.getByRole("region", { name: "Microsoft Partner Center" })).toBeInTheDocument();
  expect(screen.getAllByRole("heading", { level: 3 }).map((h) => h.textContent)).toEqual(["Referral", "Sync", "Sync history"]);
});

test("every control has a label", async () => {
  await renderSection({ values: STATES.synced });
  for (const el of [...screen.getAllByRole("switch"), ...screen.getAllByRole("combobox")]) {
    const label = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : undefined;
    expect(label || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")).toBeTruthy();
  }
});

test("focus order follows the reading order", async () => {
  await renderSection({ values: { ...STATES.synced, syncWithPartnerCenter: false, audit: null } });
  const names = tabOrder().map(nameOf);
  expect(names.slice(0, 4)).toEqual(["Sync with Partner Center", "How can Microsoft help?", "Share with Microsoft sellers", "Solutions"]);
  const firstTag = names.findIndex((n) => n.startsWith("Contoso Field Service"));
  const link = names.findIndex((n) => n.startsWith("Open in Partner Center"));
  expect(firstTag).toBeGreaterThan(3);
  expect(link).toBeGreaterThan(firstTag);
});

test("the sync switch works with the keyboard", async () => {
  const { onChange } = await renderSection({ values: STATES.newOpportunity });
  screen.getByRole("switch", { name: "Sync with Partner Center" }).focus();
  await userEvent.keyboard(" ");
  expect(onChange).toHaveBeenCalledWith({ syncWithPartnerCenter: true });
});

test("a solution can be found and added with the keyboard alone", async () => {
  const { onChange } = await renderSection({ values: STATES.newOpportunity });
  screen.getByRole("combobox", { name: "Solutions" }).focus();
  await userEvent.keyboard("fabrikam");
  await userEvent.keyboard("{ArrowDown}{Enter}");
  expect(onChange).toHaveBeenLastCalledWith({ products: "SOL-34104-EBB" });
});

test("an incoming referral can be accepted with the keyboard", async () => {
  const { onChange } = await renderSection({ values: STATES.incomingPending });
  screen.getByRole("button", { name: "Accept" }).focus();
  await userEvent.keyboard("{Enter}");
  expect(onChange).toHaveBeenCalledWith({ referralAction: ReferralAction.Accept, declineReason: null });
});

test("sync state changes are announced (a polite live region)", async () => {
  await renderSection({ values: STATES.syncing });
  const status = document.querySelector("[data-sync-state]");
  expect(status).toHaveAttribute("role", "status");
});

test("the strings follow the user's language (1040)", async () => {
  await renderSection({ values: STATES.synced, lcid: 1040 });
  expect(screen.getByRole("switch", { name: "Sincronizza con Partner Center" })).toBeInTheDocument();
  expect(screen.getByRole("heading", { name: "Cronologia di sincronizzazione" })).toBeInTheDocument();
  expect(screen.getByText("Sincronizzata")).toBeInTheDocument();
});
