import { dataverseClientFor } from "../../PartnerCenterSection/services/dataverse";
import { checkmarkQuery, readCheckmarksEnabled } from "../../PartnerCenterSection/services/settings";
import { fakeWebApi, type FakeWebApiOptions } from "../__mocks__/fakeWebApi";

test("reads the definition with its current value expanded", () => {
  expect(checkmarkQuery()).toBe(
    "?$select=defaultvalue&$filter=schemaname eq 'cosell_Checkmark'&$expand=environmentvariabledefinition_environmentvariablevalue($select=value)",
  );
});

test.each([
  ["default yes, no value", { checkmarkDefault: "yes" }, true],
  ["default no, no value", { checkmarkDefault: "no" }, false],
  ["value no overrides default yes", { checkmarkDefault: "yes", checkmark: "no" }, false],
  ["value yes overrides default no", { checkmarkDefault: "no", checkmark: "yes" }, true],
  ["value true/false spelling", { checkmark: "false" }, false],
  ["variable missing → contract default (yes)", { checkmarkDefault: null }, true],
  ["read fails → contract default (yes)", { failWith: new Error("offline") }, true],
] as [string, FakeWebApiOptions, boolean][])("%s", async (_name, options, expected) => {
  await expect(readCheckmarksEnabled(dataverseClientFor(fakeWebApi(options)))).resolves.toBe(expected);
});
