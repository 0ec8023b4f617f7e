import { openDialog } from "../support/dom";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ReferralAction } from "@cosell/contract";
import { renderSection } from "../support/render";
import { REFERRAL_LINK, STATES } from "../support/fixtures";

const syncStatus = (): HTMLElement => document.querySelector("[data-sync-state]") as HTMLElement;
const region = (): HTMLElement => screen.getByRole("region", { name: "Microsoft Partner Center" });

describe("syncing", () => {
  test("says so, without a check mark", async () => {
    await renderSection({ values: STATES.syncing });
    expect(syncStatus()).toHaveAttribute("data-sync-state", "pending");
    expect(syncStatus()).toHaveTextContent("Syncing…");
    expect(syncStatus()).not.toHaveTextContent(/[✔✖]/);
    expect(screen.getByText("Not shared with Partner Center yet.")).toBeInTheDocument();
  });
});

describe("synced ✔", () => {
  test("shows the referral, the ✔ and when it last synced", async () => {
    await renderSection({ values: STATES.synced });
    expect(syncStatus()).toHaveTextContent("✔Synced");
    expect(syncStatus()).toHaveTextContent("Last synced 2026-11-24 16:00 UTC");
    const referral = within(region()).getByRole("heading", { name: "Referral" }).closest("section") as HTMLElement;
    expect(within(referral).getByText(STATES.synced.referralId as string)).toBeInTheDocument();
    expect(within(referral).getByText("Active · Accepted")).toBeInTheDocument();
    expect(within(referral).getByText("e-7788")).toBeInTheDocument();
  });

  test("the link opens the referral in Partner Center in a new tab", async () => {
    await renderSection({ values: STATES.synced });
    const link = screen.getByRole("link", { name: "Open in Partner Center (opens in a new tab)" });
    expect(link).toHaveAttribute("href", REFERRAL_LINK);
    expect(link).toHaveAttribute("target", "_blank");
    expect(link).toHaveAttribute("rel", "noopener noreferrer");
  });

  test("sync cannot be turned off once a referral exists, and says why", async () => {
    await renderSection({ values: STATES.synced });
    const sync = screen.getByRole("switch", { name: "Sync with Partner Center" });
    expect(sync).toBeChecked();
    expect(sync).toBeDisabled();
    expect(screen.getByText("A referral exists in Partner Center, so sync can't be turned off.")).toBeInTheDocument();
  });

  test("chosen solutions show their catalogue names", async () => {
    await renderSection({ values: STATES.synced });
    const chosen = screen.getByRole("toolbar", { name: "Chosen solutions" });
    expect(within(chosen).getByText("Contoso Field Service")).toBeInTheDocument();
    expect(within(chosen).getByText("Fabrikam Analytics")).toBeInTheDocument();
  });

  test("check marks off (input) → no ✔", async () => {
    await renderSection({ values: STATES.synced, checkmarks: "hide" });
    expect(syncStatus()).toHaveTextContent("Synced");
    expect(syncStatus()).not.toHaveTextContent("✔");
  });

  test("check marks off (cosell_Checkmark = no) → no ✔", async () => {
    await renderSection({ values: STATES.synced }, { checkmark: "no" });
    expect(syncStatus()).not.toHaveTextContent("✔");
  });

  test("check marks forced on despite the variable", async () => {
    await renderSection({ values: STATES.synced, checkmarks: "show" }, { checkmark: "no" });
    expect(syncStatus()).toHaveTextContent("✔");
  });
});

describe("error ✖", () => {
  test("shows ✖ and the last error in the bridge's words", async () => {
    await renderSection({ values: STATES.error });
    expect(syncStatus()).toHaveTextContent("✖Sync failed");
    expect(syncStatus()).toHaveTextContent("Last synced 2026-11-21 10:30 UTC");
    const error = screen.getByText(STATES.error.syncError as string);
    expect(error.closest(".fui-MessageBar")).toHaveTextContent("Partner Center didn't take the last change");
  });
});

describe("incoming referral still pending", () => {
  test("offers Accept and Decline", async () => {
    await renderSection({ values: STATES.incomingPending });
    expect(screen.getByText("Microsoft sent you this referral")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Accept" })).toBeEnabled();
    expect(screen.getByRole("button", { name: "Decline…" })).toBeEnabled();
    // The referral exists already: no solution is asked for.
    expect(screen.queryByText(/Choose at least one solution/)).not.toBeInTheDocument();
  });

  test("Accept sets the referral action", async () => {
    const { onChange } = await renderSection({ values: STATES.incomingPending });
    await userEvent.click(screen.getByRole("button", { name: "Accept" }));
    expect(onChange).toHaveBeenCalledWith({ referralAction: ReferralAction.Accept, declineReason: null });
    expect(screen.getByText("Accept requested. Partner Center is updated after you save.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Accept" })).not.toBeInTheDocument();
  });

  test("Decline asks for a reason and will not go on without one", async () => {
    const { onChange } = await renderSection({ values: STATES.incomingPending });
    await userEvent.click(screen.getByRole("button", { name: "Decline…" }));
    const dialog = await openDialog("Decline this referral?");
    await userEvent.click(within(dialog).getByRole("button", { name: "Decline", hidden: true }));
    expect(within(dialog).getByText("Enter a reason.")).toBeInTheDocument();
    expect(onChange).not.toHaveBeenCalled();

    await userEvent.type(within(dialog).getByRole("textbox", { name: /Reason/, hidden: true }), "  Customer already has a partner  ");
    await userEvent.click(within(dialog).getByRole("button", { name: "Decline", hidden: true }));
    expect(onChange).toHaveBeenCalledWith({ referralAction: ReferralAction.Decline, declineReason: "Customer already has a partner" });
    expect(screen.getByText("Decline requested: Customer already has a partner. Partner Center is updated after you save.")).toBeInTheDocument();
  });

  test("the reason is limited to the column length", async () => {
    await renderSection({ values: STATES.incomingPending });
    await userEvent.click(screen.getByRole("button", { name: "Decline…" }));
    const dialog = await openDialog("Decline this referral?");
    expect(within(dialog).getByRole("textbox", { name: /Reason/, hidden: true })).toHaveAttribute("maxlength", "500");
  });

  test("a requested accept can be undone before saving", async () => {
    const { onChange } = await renderSection({ values: STATES.incomingAccepted });
    expect(screen.getByText("Accept requested. Partner Center is updated after you save.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Undo" }));
    expect(onChange).toHaveBeenCalledWith({ referralAction: null, declineReason: null });
    expect(screen.getByRole("button", { name: "Accept" })).toBeInTheDocument();
  });

  test("without the decline reason column only Accept is possible", async () => {
    await renderSection({ values: STATES.incomingPending, security: { declineReason: { editable: false } } });
    expect(screen.getByRole("button", { name: "Accept" })).toBeEnabled();
    expect(screen.getByRole("button", { name: "Decline…" })).toBeDisabled();
  });
});

describe("terminal referral", () => {
  test("says it is closed and nothing can change", async () => {
    await renderSection({ values: STATES.terminal });
    expect(screen.getByText("This referral is closed in Partner Center (Won). It can no longer be changed.")).toBeInTheDocument();
    expect(screen.getByRole("switch", { name: "Sync with Partner Center" })).toBeDisabled();
    expect(screen.getByRole("switch", { name: "Share with Microsoft sellers" })).toBeDisabled();
    expect(screen.getByRole("combobox", { name: "How can Microsoft help?" })).toBeDisabled();
    expect(screen.getByRole("combobox", { name: "Solutions" })).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Accept" })).not.toBeInTheDocument();
    expect(screen.getByText("7-ABCDEF")).toBeInTheDocument();
  });
});

describe("lead form", () => {
  test("shows only what applies to a lead", async () => {
    const { webAPI } = await renderSection({ formKind: "lead", values: STATES.lead });
    expect(region()).toHaveAttribute("data-form-kind", "lead");
    expect(screen.queryByRole("switch")).not.toBeInTheDocument();
    expect(screen.queryByRole("combobox", { name: "Solutions" })).not.toBeInTheDocument();
    expect(screen.queryByRole("combobox", { name: "How can Microsoft help?" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Accept" })).not.toBeInTheDocument();
    expect(screen.getByText("New · Received")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: /Open in Partner Center/ })).toBeInTheDocument();
    expect(syncStatus()).toHaveTextContent("Synced");
    expect(screen.getByRole("heading", { name: "Sync history" })).toBeInTheDocument();
    // Nothing on a lead needs the catalogue.
    expect(webAPI.calls.filter((c) => c.entity === "cosell_solution")).toHaveLength(0);
  });
});

describe("disabled form", () => {
  test("everything is read-only and the section says so", async () => {
    await renderSection({ values: { ...STATES.synced, syncWithPartnerCenter: false }, disabled: true });
    expect(screen.getByText("This section is read-only.")).toBeInTheDocument();
    expect(screen.getByRole("switch", { name: "Sync with Partner Center" })).toBeDisabled();
    expect(screen.getByRole("switch", { name: "Share with Microsoft sellers" })).toBeDisabled();
    expect(screen.getByRole("combobox", { name: "How can Microsoft help?" })).toBeDisabled();
    expect(screen.getByRole("combobox", { name: "Solutions" })).toBeDisabled();
    // Chosen solutions cannot be removed.
    expect(screen.queryByRole("button", { name: /Remove/ })).not.toBeInTheDocument();
  });

  test("an incoming referral cannot be answered", async () => {
    await renderSection({ values: STATES.incomingPending, disabled: true });
    expect(screen.getByRole("button", { name: "Accept" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Decline…" })).toBeDisabled();
  });
});

describe("field security", () => {
  test("a column the seller may read but not change is locked with a reason", async () => {
    await renderSection({ values: STATES.synced, security: { products: { editable: false } } });
    expect(screen.getByRole("combobox", { name: "Solutions" })).toBeDisabled();
    expect(screen.getByText("You don't have permission to change this.")).toBeInTheDocument();
    expect(screen.getByRole("switch", { name: "Share with Microsoft sellers" })).toBeEnabled();
  });

  test("columns the seller may not read are not shown", async () => {
    await renderSection({
      values: { ...STATES.error },
      security: { audit: { readable: false, editable: false }, syncError: { readable: false, editable: false } },
    });
    expect(screen.queryByRole("heading", { name: "Sync history" })).not.toBeInTheDocument();
    expect(screen.queryByText(STATES.error.syncError as string)).not.toBeInTheDocument();
    expect(syncStatus()).toHaveTextContent("Sync failed");
  });
});

describe("widths", () => {
  test.each([
    [{ formFactor: 3, allocatedWidth: 360 }, "narrow"],
    [{ formFactor: 2, allocatedWidth: 700 }, "medium"],
    [{ formFactor: 1, allocatedWidth: 1100 }, "wide"],
  ] as const)("%o → %s layout", async (size, layout) => {
    await renderSection({ values: STATES.synced, ...size });
    expect(region()).toHaveAttribute("data-layout", layout);
    // Every part is still there at every width.
    expect(screen.getByRole("switch", { name: "Sync with Partner Center" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Sync history" })).toBeInTheDocument();
  });
});
