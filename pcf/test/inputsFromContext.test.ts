import { inputsFromContext, readRecord } from "../PartnerCenterSection/inputsFromContext";
import { createMockContext } from "./__mocks__/mockContext";

test("values of every type are read from their properties", () => {
  const record = readRecord(
    createMockContext({
      values: {
        syncWithPartnerCenter: true,
        microsoftHelp: 174200003,
        products: "SOL-1-A",
        lastSyncedOn: new Date("2026-11-24T16:00:00.000Z"),
        audit: "",
      },
    }).parameters,
  );
  expect(record).toMatchObject({
    syncWithPartnerCenter: true,
    microsoftHelp: 174200003,
    products: "SOL-1-A",
    audit: null, // empty text is no value
    referralId: null,
  });
  expect(record.lastSyncedOn?.toISOString()).toBe("2026-11-24T16:00:00.000Z");
});

test.each([
  ["2026-11-24T16:00:00Z", "2026-11-24T16:00:00.000Z"],
  ["not a date", null],
  [new Date("invalid"), null],
])("a date given as %p reads as %p", (raw, expected) => {
  const record = readRecord(createMockContext({ values: { lastSyncedOn: raw as Date } }).parameters);
  expect(record.lastSyncedOn?.toISOString() ?? null).toBe(expected);
});

test("wrongly typed raw values are ignored rather than trusted", () => {
  const record = readRecord(createMockContext({ values: { microsoftHelp: "3" as never, syncWithPartnerCenter: "yes" as never } }).parameters);
  expect(record.microsoftHelp).toBeNull();
  expect(record.syncWithPartnerCenter).toBeNull();
});

test("access: unbound, secured and open properties", () => {
  const inputs = inputsFromContext(
    createMockContext({ unbound: ["shareWithMicrosoft"], security: { products: { editable: false }, audit: { readable: false } } }),
  );
  expect(inputs.access.shareWithMicrosoft).toEqual({ bound: false, readable: false, editable: false });
  expect(inputs.access.products).toEqual({ bound: true, readable: true, editable: false });
  expect(inputs.access.audit).toMatchObject({ bound: true, readable: false });
  expect(inputs.access.referralId).toEqual({ bound: true, readable: true, editable: true });
});

test.each([
  [{}, "opportunity", "environment"],
  [{ formKind: "lead" as const, checkmarks: "hide" as const }, "lead", "hide"],
])("static inputs %o", (options, formKind, checkmarks) => {
  expect(inputsFromContext(createMockContext(options))).toMatchObject({ formKind, checkmarkSetting: checkmarks });
});

test("help option labels come from the property metadata", () => {
  const inputs = inputsFromContext(createMockContext({ helpOptions: [{ Value: 174200000, Label: "Nessun aiuto" }] }));
  expect(inputs.helpOptions).toEqual([{ value: 174200000, label: "Nessun aiuto" }]);
  expect(inputsFromContext(createMockContext({ helpOptions: null })).helpOptions).toBeNull();
});
