import "../support/dom";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { renderSection } from "../support/render";
import { AUDIT_OUTGOING, STATES, auditText } from "../support/fixtures";
import { AUDIT_PAGE } from "../../PartnerCenterSection/components/AuditTimeline";

const timeline = (): HTMLElement => screen.getByRole("list", { name: "Sync history" });
const messages = (): string[] =>
  within(timeline())
    .getAllByRole("listitem")
    .map((li) => li.lastElementChild?.textContent ?? "");

async function choose(filter: string, option: RegExp | string): Promise<void> {
  await userEvent.click(screen.getByRole("combobox", { name: filter }));
  await userEvent.click(screen.getByRole("option", { name: option }));
}

test("newest first, each entry with its time, direction and outcome", async () => {
  await renderSection({ values: { audit: AUDIT_OUTGOING } });
  expect(messages()).toEqual([
    "No change",
    "Close date changed on both sides; Partner Center kept",
    "Deal value must be above 0",
    "Status changed to Active/Accepted",
    "Referral created in Partner Center",
  ]);
  const newest = within(timeline()).getAllByRole("listitem")[0] as HTMLElement;
  expect(newest).toHaveTextContent("2026-11-24 16:00 UTC");
  expect(newest).toHaveTextContent("From Partner Center");
  expect(newest).toHaveTextContent("Skipped");
  expect(newest.querySelector("time")).toHaveAttribute("datetime", "2026-11-24T16:00:00.000Z");
  expect(screen.getByText("5 of 5 entries")).toBeInTheDocument();
});

test("filter by direction", async () => {
  await renderSection({ values: { audit: AUDIT_OUTGOING } });
  await choose("Direction", "To Partner Center");
  expect(messages()).toEqual([
    "Close date changed on both sides; Partner Center kept",
    "Deal value must be above 0",
    "Referral created in Partner Center",
  ]);
  expect(screen.getByText("3 of 3 entries")).toBeInTheDocument();
});

test("filter by outcome (with counts), combined with direction", async () => {
  await renderSection({ values: { audit: AUDIT_OUTGOING } });
  await choose("Outcome", "Error (1)");
  expect(messages()).toEqual(["Deal value must be above 0"]);
  await choose("Direction", "From Partner Center");
  expect(screen.queryByRole("list", { name: "Sync history" })).not.toBeInTheDocument();
  expect(screen.getByText("No entries match these filters.")).toBeInTheDocument();
  await choose("Outcome", "All");
  await choose("Direction", "All");
  expect(messages()).toHaveLength(5);
});

test(`long trails show ${AUDIT_PAGE} at a time`, async () => {
  const entries = Array.from({ length: AUDIT_PAGE + 5 }, (_, i) => ({
    at: new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString(),
    direction: "CRM→PC" as const,
    outcome: "ok" as const,
    message: `change ${i}`,
  }));
  await renderSection({ values: { audit: auditText(...entries) } });
  expect(messages()).toHaveLength(AUDIT_PAGE);
  expect(messages()[0]).toBe(`change ${AUDIT_PAGE + 4}`);
  await userEvent.click(screen.getByRole("button", { name: "Show more" }));
  expect(messages()).toHaveLength(AUDIT_PAGE + 5);
  expect(screen.queryByRole("button", { name: "Show more" })).not.toBeInTheDocument();
});

test("an empty trail says so", async () => {
  await renderSection({ values: STATES.newOpportunity });
  expect(screen.getByText("No sync activity yet.")).toBeInTheDocument();
  expect(screen.queryByRole("combobox", { name: "Direction" })).not.toBeInTheDocument();
});
