import "../support/dom";
import * as React from "react";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ReferralAction, SyncState } from "@cosell/contract";
import { webDarkTheme } from "@fluentui/react-components";
import { PartnerCenterSection } from "../../PartnerCenterSection";
import type { PartnerCenterSectionProps } from "../../PartnerCenterSection/components/Component.types";
import { createMockContext, updateContext, type MockContextOptions } from "../__mocks__/mockContext";
import { fakeWebApi } from "../__mocks__/fakeWebApi";
import { STATES } from "../support/fixtures";
import { CATALOGUE_ROWS, settle } from "../support/render";

function start(options: MockContextOptions = {}) {
  const context = createMockContext({ webAPI: fakeWebApi({ solutions: CATALOGUE_ROWS }), ...options });
  const notifyOutputChanged = jest.fn();
  const control = new PartnerCenterSection();
  control.init(context, notifyOutputChanged);
  return { context, control, notifyOutputChanged };
}

const propsOf = (element: React.ReactElement): PartnerCenterSectionProps => element.props as PartnerCenterSectionProps;

describe("init", () => {
  test("asks for container sizes and reads nothing yet", () => {
    const { context } = start();
    expect(context.mode.trackContainerResize).toHaveBeenCalledWith(true);
    expect((context.webAPI as ReturnType<typeof fakeWebApi>).calls).toEqual([]);
  });
});

describe("updateView", () => {
  test("hands the view plain inputs read from the context", () => {
    const { context, control } = start({ values: STATES.synced, allocatedWidth: 640, formFactor: 2 });
    const props = propsOf(control.updateView(context));
    expect(props.inputs.record.referralId).toBe(STATES.synced.referralId);
    expect(props.inputs.record.syncState).toBe(SyncState.Synced);
    expect(props.inputs).toMatchObject({ formKind: "opportunity", allocatedWidth: 640, formFactor: 2, controlDisabled: false });
    expect(props.strings("Sync_Label" as never)).toBe("Sync with Partner Center");
  });

  test("dates are formatted the user's way (context.formatting)", () => {
    const { context, control } = start();
    const d = new Date("2026-11-24T16:00:00.000Z");
    expect(propsOf(control.updateView(context)).formatDateTime(d)).toBe("2026-11-24 16:00 UTC");
    expect(context.formatting.formatDateShort).toHaveBeenCalledWith(d, true);
  });

  test("the host's Fluent theme is used when it provides one", () => {
    const { context, control } = start({ theme: { tokenTheme: webDarkTheme } as ComponentFramework.FluentDesignState });
    expect(propsOf(control.updateView(context)).theme).toBe(webDarkTheme);
  });

  test("renders the section", async () => {
    const { context, control } = start({ values: STATES.synced });
    render(control.updateView(context));
    await settle();
    expect(screen.getByRole("region", { name: "Microsoft Partner Center" })).toBeInTheDocument();
    expect(screen.getByText("✔")).toBeInTheDocument();
  });

  test("recomputes only when a relevant property changed", () => {
    const { context, control } = start({ values: STATES.synced });
    const first = control.updateView(context);
    context.updatedProperties = ["someOtherControlProperty"];
    expect(control.updateView(context)).toBe(first);
    updateContext(context, { syncState: SyncState.Error }, ["syncState"]);
    const second = control.updateView(context);
    expect(second).not.toBe(first);
    expect(propsOf(second).inputs.record.syncState).toBe(SyncState.Error);
  });

  test.each([
    ["the container resized", (c: ReturnType<typeof createMockContext>) => (c.mode.allocatedWidth = 320)],
    ["the form became read-only", (c: ReturnType<typeof createMockContext>) => (c.mode.isControlDisabled = true)],
    ["the platform reported layout", (c: ReturnType<typeof createMockContext>) => (c.updatedProperties = ["layout"])],
    ["the platform said nothing (empty list)", (c: ReturnType<typeof createMockContext>) => (c.updatedProperties = [])],
  ])("recomputes when %s", (_name, change) => {
    const { context, control } = start({ values: STATES.synced });
    const first = control.updateView(context);
    context.updatedProperties = ["someOtherControlProperty"];
    change(context);
    expect(control.updateView(context)).not.toBe(first);
  });
});

describe("outputs", () => {
  test("a change in the view notifies the platform and becomes an output", async () => {
    const { context, control, notifyOutputChanged } = start({ values: STATES.newOpportunity });
    render(control.updateView(context));
    await settle();
    await userEvent.click(screen.getByRole("switch", { name: "Sync with Partner Center" }));
    expect(notifyOutputChanged).toHaveBeenCalledTimes(1);
    expect(control.getOutputs()).toEqual({ syncWithPartnerCenter: true });
  });

  test("nothing changed → no outputs", () => {
    const { context, control } = start({ values: STATES.synced });
    control.updateView(context);
    expect(control.getOutputs()).toEqual({});
  });

  test("once the platform echoes the value the output is settled", async () => {
    const { context, control } = start({ values: STATES.newOpportunity });
    const { rerender } = render(control.updateView(context));
    await settle();
    await userEvent.click(screen.getByRole("switch", { name: "Sync with Partner Center" }));
    rerender(control.updateView(updateContext(context, { syncWithPartnerCenter: true })));
    expect(control.getOutputs()).toEqual({});
    expect(screen.getByRole("switch", { name: "Sync with Partner Center" })).toBeChecked();
  });

  test("removing the last solution clears the column (undefined output)", async () => {
    const { context, control } = start({ values: { products: "SOL-15974-MQF" } });
    render(control.updateView(context));
    await settle();
    await userEvent.click(screen.getByRole("button", { name: /Remove Contoso Field Service$/ }));
    const outputs = control.getOutputs();
    expect(Object.keys(outputs)).toEqual(["products"]);
    expect(outputs.products).toBeUndefined();
  });

  test("a pending change survives an unrelated update", async () => {
    const { context, control } = start({ values: STATES.newOpportunity });
    render(control.updateView(context));
    await settle();
    await userEvent.click(screen.getByRole("switch", { name: "Sync with Partner Center" }));
    control.updateView(updateContext(context, { syncState: SyncState.NotSynced }, ["syncState"]));
    expect(control.getOutputs()).toEqual({ syncWithPartnerCenter: true });
  });

  // Regression: after the save the bridge accepts the referral and clears cosell_referralaction;
  // the control must show the cleared value, not replay its own earlier "Accept".
  test("regression: the bridge clearing the referral action after the save wins over the control", async () => {
    const { context, control } = start({ values: STATES.incomingPending });
    const { rerender } = render(control.updateView(context));
    await settle();
    await userEvent.click(screen.getByRole("button", { name: "Accept" }));
    expect(control.getOutputs()).toEqual({ referralAction: ReferralAction.Accept, declineReason: undefined });
    // The platform takes the outputs (save), then the bridge answers: Active/Accepted, action cleared.
    rerender(control.updateView(updateContext(context, { referralAction: ReferralAction.Accept, declineReason: null })));
    rerender(
      control.updateView(
        updateContext(context, { referralAction: null, referralStatus: "Active", referralSubstatus: "Accepted" }),
      ),
    );
    expect(control.getOutputs()).toEqual({});
    expect(propsOf(control.updateView(context)).inputs.record.referralAction).toBeNull();
    expect(screen.queryByText("Microsoft sent you this referral")).not.toBeInTheDocument();
  });

  test("destroy drops unsaved changes", async () => {
    const { context, control } = start({ values: STATES.newOpportunity });
    render(control.updateView(context));
    await settle();
    await userEvent.click(screen.getByRole("switch", { name: "Sync with Partner Center" }));
    control.destroy();
    expect(control.getOutputs()).toEqual({});
  });
});

describe("reads through context.webAPI", () => {
  test("the catalogue and the check mark setting are read once for the control's life", async () => {
    const webAPI = fakeWebApi({ solutions: CATALOGUE_ROWS, checkmark: "no" });
    const { context, control } = start({ values: STATES.synced, webAPI });
    const { rerender } = render(control.updateView(context));
    await settle();
    rerender(control.updateView(updateContext(context, { syncState: SyncState.Pending }, ["syncState"])));
    await settle();
    rerender(control.updateView(updateContext(context, { syncState: SyncState.Synced }, ["syncState"])));
    await settle();
    expect(webAPI.calls.map((c) => c.entity).sort()).toEqual(["cosell_solution", "environmentvariabledefinition"]);
    expect(screen.queryByText("✔")).not.toBeInTheDocument();
  });
});
