import { LeadColumn, OpportunityColumn, ReferralAction, SyncState } from "@cosell/contract";
import { DEFAULT_HELP_OPTIONS, bindingFor, changedProperties, parametersFor, patchFor, selectFor } from "../../src/form-host/binding";

describe("bindingFor", () => {
  test("opportunity: every contract column, property named after its key, writable as the form allows", () => {
    const b = bindingFor("opportunity");
    expect(b.properties.map((p) => p.name).sort()).toEqual(Object.keys(OpportunityColumn).sort());
    const writable = b.properties.filter((p) => p.writable).map((p) => p.name).sort();
    expect(writable).toEqual(["declineReason", "microsoftHelp", "products", "referralAction", "shareWithMicrosoft", "syncWithPartnerCenter"]);
    expect(b.properties.find((p) => p.name === "referralLink")?.type).toBe("SingleLine.URL");
    expect(b.properties.find((p) => p.name === "audit")?.type).toBe("Multiple");
    expect(b.properties.find((p) => p.name === "lastSyncedOn")?.type).toBe("DateAndTime.DateAndTime");
  });

  test("lead: the lead columns only, none writable", () => {
    const b = bindingFor("lead");
    expect(b.properties.map((p) => p.column).sort()).toEqual(Object.values(LeadColumn).sort());
    expect(b.properties.some((p) => p.writable)).toBe(false);
    expect(selectFor(b).split(",")).toEqual(expect.arrayContaining(["leadid", "subject", LeadColumn.audit]));
  });
});

describe("parametersFor", () => {
  const b = bindingFor("opportunity");
  const row = {
    [OpportunityColumn.syncWithPartnerCenter]: true,
    [OpportunityColumn.microsoftHelp]: 174200003,
    [`${OpportunityColumn.microsoftHelp}@OData.Community.Display.V1.FormattedValue`]: "Proof of concept or demo",
    [OpportunityColumn.lastSyncedOn]: "2026-11-24T16:00:00Z",
    [OpportunityColumn.products]: null,
  };
  const p = parametersFor(b, row, { checkmarks: "hide" }) as Record<string, { raw: unknown; formatted?: string; attributes?: { Options?: unknown } }>;

  test("raw values typed as the platform passes them", () => {
    expect(p.syncWithPartnerCenter?.raw).toBe(true);
    expect(p.shareWithMicrosoft?.raw).toBe(false); // Yes/No is never null on a form
    expect(p.microsoftHelp?.raw).toBe(174200003);
    expect(p.microsoftHelp?.formatted).toBe("Proof of concept or demo");
    expect((p.lastSyncedOn?.raw as Date).toISOString()).toBe("2026-11-24T16:00:00.000Z");
    expect(p.products?.raw).toBeNull();
  });

  test("static inputs and the help options", () => {
    expect(p.formKind?.raw).toBe("opportunity");
    expect(p.checkmarks?.raw).toBe("hide");
    expect(p.microsoftHelp?.attributes?.Options).toEqual(DEFAULT_HELP_OPTIONS);
  });
});

describe("patchFor", () => {
  const b = bindingFor("opportunity");
  test("writable outputs only; cleared values become null", () => {
    expect(
      patchFor(b, {
        syncWithPartnerCenter: true,
        products: undefined,
        referralAction: ReferralAction.Decline,
        declineReason: "No capacity",
        syncState: SyncState.Synced, // the bridge's column: never written by the form
      }),
    ).toEqual({
      [OpportunityColumn.syncWithPartnerCenter]: true,
      [OpportunityColumn.products]: null,
      [OpportunityColumn.referralAction]: ReferralAction.Decline,
      [OpportunityColumn.declineReason]: "No capacity",
    });
  });
});

test("changedProperties names the bound properties whose columns changed", () => {
  const b = bindingFor("opportunity");
  const before = { [OpportunityColumn.syncState]: SyncState.Pending, [OpportunityColumn.referralId]: null };
  const after = { [OpportunityColumn.syncState]: SyncState.Synced, [OpportunityColumn.referralId]: "R-1" };
  expect(changedProperties(b, before, after).sort()).toEqual(["referralId", "syncState"]);
  expect(changedProperties(b, after, after)).toEqual([]);
});
