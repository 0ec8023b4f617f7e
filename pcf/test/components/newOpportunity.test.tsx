import { openDialog } from "../support/dom";
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { HelpNeeded } from "@cosell/contract";
import { renderSection, settle } from "../support/render";
import { STATES } from "../support/fixtures";

const syncStatus = (): HTMLElement => screen.getByText(/^(Not synced|Syncing…|Synced|Sync failed)$/).closest("[role=status]") as HTMLElement;

describe("a new opportunity", () => {
  test("shows the seller's choices, nothing linked yet", async () => {
    await renderSection({ values: STATES.newOpportunity });
    const region = screen.getByRole("region", { name: "Microsoft Partner Center" });
    expect(within(region).getByRole("switch", { name: "Sync with Partner Center" })).not.toBeChecked();
    expect(within(region).getByRole("switch", { name: "Share with Microsoft sellers" })).not.toBeChecked();
    expect(within(region).getByRole("combobox", { name: "How can Microsoft help?" })).toBeEnabled();
    expect(within(region).getByRole("combobox", { name: "Solutions" })).toBeEnabled();
    expect(within(region).getByText("No solutions chosen yet.")).toBeInTheDocument();
    expect(within(region).getByText("Not shared with Partner Center yet.")).toBeInTheDocument();
    expect(syncStatus()).toHaveTextContent("Not synced");
    expect(syncStatus()).toHaveTextContent("Never synced");
    expect(within(region).getByText("No sync activity yet.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Accept" })).not.toBeInTheDocument();
    expect(screen.queryByText("✔")).not.toBeInTheDocument();
  });

  test("turning sync on reports the change and shows it at once", async () => {
    const { onChange } = await renderSection({ values: STATES.newOpportunity });
    const sync = screen.getByRole("switch", { name: "Sync with Partner Center" });
    await userEvent.click(sync);
    expect(onChange).toHaveBeenCalledWith({ syncWithPartnerCenter: true });
    expect(sync).toBeChecked();
    // Sync on and no solution: the seller is told before saving.
    expect(screen.getByText("Choose at least one solution to share this opportunity with Partner Center.")).toBeInTheDocument();
  });

  test("choosing how Microsoft can help writes the option value", async () => {
    const { onChange } = await renderSection({ values: STATES.newOpportunity });
    await userEvent.click(screen.getByRole("combobox", { name: "How can Microsoft help?" }));
    await userEvent.click(screen.getByRole("option", { name: "Proof of concept or demo" }));
    expect(onChange).toHaveBeenCalledWith({ microsoftHelp: HelpNeeded.ProofOfConceptOrDemo });
    expect(screen.getByRole("combobox", { name: "How can Microsoft help?" })).toHaveTextContent("Proof of concept or demo");
  });

  describe("sharing with Microsoft sellers is confirmed first (it cannot be undone)", () => {
    test("cancel leaves it off", async () => {
      const { onChange } = await renderSection({ values: STATES.newOpportunity });
      await userEvent.click(screen.getByRole("switch", { name: "Share with Microsoft sellers" }));
      const dialog = await openDialog("Share with Microsoft sellers?");
      expect(dialog).toHaveTextContent("Once shared, it can't be undone.");
      await userEvent.click(within(dialog).getByRole("button", { name: "Cancel", hidden: true }));
      await settle();
      expect(screen.queryByRole("dialog", { hidden: true })).not.toBeInTheDocument();
      expect(onChange).not.toHaveBeenCalled();
      expect(screen.getByRole("switch", { name: "Share with Microsoft sellers" })).not.toBeChecked();
    });

    test("Escape closes the dialog without sharing", async () => {
      const { onChange } = await renderSection({ values: STATES.newOpportunity });
      await userEvent.click(screen.getByRole("switch", { name: "Share with Microsoft sellers" }));
      await openDialog("Share with Microsoft sellers?");
      await userEvent.keyboard("{Escape}");
      await settle();
      expect(screen.queryByRole("dialog", { hidden: true })).not.toBeInTheDocument();
      expect(onChange).not.toHaveBeenCalled();
    });

    test("confirm turns it on and locks it", async () => {
      const { onChange } = await renderSection({ values: STATES.newOpportunity });
      await userEvent.click(screen.getByRole("switch", { name: "Share with Microsoft sellers" }));
      const dialog = await openDialog("Share with Microsoft sellers?");
      await userEvent.click(within(dialog).getByRole("button", { name: "Share", hidden: true }));
      // The dialog keeps the page aria-hidden until it has unmounted, which takes longer on a loaded machine.
      await waitFor(() => expect(screen.queryByRole("dialog", { hidden: true })).not.toBeInTheDocument(), { timeout: 10_000 });
      expect(onChange).toHaveBeenCalledWith({ shareWithMicrosoft: true });
      const share = screen.getByRole("switch", { name: "Share with Microsoft sellers" });
      expect(share).toBeChecked();
      expect(share).toBeDisabled();
      expect(screen.getByText("Shared with Microsoft sellers. This can't be undone.")).toBeInTheDocument();
    });
  });
});

describe("the products picker", () => {
  test("searches the catalogue and adds the chosen solution id", async () => {
    const { onChange } = await renderSection({ values: STATES.newOpportunity });
    const picker = screen.getByRole("combobox", { name: "Solutions" });
    await userEvent.type(picker, "analytics");
    const options = screen.getAllByRole("option").map((o) => o.textContent);
    expect(options).toEqual(["Fabrikam Analytics · SOL-34104-EBB · Fabrikam", "Contoso Analytics Plus · SOL-1234-PQRS"]);
    await userEvent.click(screen.getByRole("option", { name: /Fabrikam Analytics/ }));
    expect(onChange).toHaveBeenLastCalledWith({ products: "SOL-34104-EBB" });
    const chosen = screen.getByRole("toolbar", { name: "Chosen solutions" });
    expect(within(chosen).getByText("Fabrikam Analytics")).toBeInTheDocument();
    expect(picker).toHaveValue("");
  });

  test("a solution id typed by hand can be added when the catalogue lacks it", async () => {
    const { onChange } = await renderSection({ values: { products: "SOL-15974-MQF" } });
    await userEvent.type(screen.getByRole("combobox", { name: "Solutions" }), "sol-777-abc");
    await userEvent.click(screen.getByRole("option", { name: "Add SOL-777-ABC (not in the catalogue)" }));
    expect(onChange).toHaveBeenLastCalledWith({ products: "SOL-15974-MQF, SOL-777-ABC" });
  });

  test("nothing found says so", async () => {
    await renderSection({ values: STATES.newOpportunity });
    await userEvent.type(screen.getByRole("combobox", { name: "Solutions" }), "zzz");
    expect(screen.getByRole("option", { name: "No matching solutions" })).toHaveAttribute("aria-disabled", "true");
  });

  test("removing a solution writes the rest; removing the last clears the column", async () => {
    const { onChange } = await renderSection({ values: { products: "SOL-15974-MQF, SOL-34104-EBB" } });
    await userEvent.click(screen.getByRole("button", { name: /Remove Contoso Field Service$/ }));
    expect(onChange).toHaveBeenLastCalledWith({ products: "SOL-34104-EBB" });
    await userEvent.click(screen.getByRole("button", { name: /Remove Fabrikam Analytics$/ }));
    expect(onChange).toHaveBeenLastCalledWith({ products: null });
    expect(screen.getByText("No solutions chosen yet.")).toBeInTheDocument();
  });

  test("ids Partner Center would reject are flagged before saving", async () => {
    await renderSection({ values: { products: "SOL-15974-MQF, PRODUCT-1" } });
    expect(screen.getByText("PRODUCT-1 is not a valid solution ID.")).toBeInTheDocument();
  });

  test("ids missing from the catalogue stay visible and removable", async () => {
    await renderSection({ values: { products: "SOL-999-OLD" } });
    expect(screen.getByText("not in the catalogue")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /Remove SOL-999-OLD$/ })).toBeInTheDocument();
  });

  test("a catalogue that cannot be read leaves typing an id possible", async () => {
    const { onChange } = await renderSection(
      { values: STATES.newOpportunity },
      { failWith: new Error("403 no read privilege on cosell_solution") },
    );
    expect(screen.getByText(/The solution list couldn't be loaded/)).toBeInTheDocument();
    await userEvent.type(screen.getByRole("combobox", { name: "Solutions" }), "SOL-15974-MQF");
    await userEvent.click(screen.getByRole("option", { name: "Add SOL-15974-MQF (not in the catalogue)" }));
    expect(onChange).toHaveBeenLastCalledWith({ products: "SOL-15974-MQF" });
  });

  test("the catalogue is read with dataverse-ify through context.webAPI, once", async () => {
    const { webAPI } = await renderSection({ values: { products: "SOL-15974-MQF" } });
    await act(async () => {
      await userEvent.type(screen.getByRole("combobox", { name: "Solutions" }), "x");
    });
    expect(webAPI.calls.filter((c) => c.entity === "cosell_solution")).toHaveLength(1);
    expect(webAPI.calls.find((c) => c.entity === "cosell_solution")?.options).toContain("cosell_isactive eq true");
  });
});
