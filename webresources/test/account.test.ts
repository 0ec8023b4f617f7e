import { checkAccountCountry } from "../src/account";
import { DataverseReadError, type DataverseReader, type DataverseRecord } from "../src/dataverse";

function accountReader(answer: DataverseRecord | Error): DataverseReader & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    retrieveRecord: (...args) => {
      calls.push(args);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    retrieveMultipleRecords: () => Promise.reject(new Error("not used")),
  };
}

test.each<[DataverseRecord, unknown]>([
  [{ address1_country: "US" }, { state: "valid", code: "US" }],
  [{ address1_country: " nl " }, { state: "valid", code: "NL" }],
  [{ address1_country: "USA" }, { state: "invalid", found: "USA" }],
  [{ address1_country: "" }, { state: "invalid", found: null }],
  [{ address1_country: null }, { state: "invalid", found: null }],
  [{}, { state: "invalid", found: null }],
  [{ address1_country: 840 }, { state: "invalid", found: "840" }],
])("%p → %p", async (record, expected) => {
  await expect(checkAccountCountry(accountReader(record), "{A1}", "address1_country")).resolves.toEqual(expected);
});

test("selects only the country column of the account", async () => {
  const reader = accountReader({ new_iso: "DE" });
  await expect(checkAccountCountry(reader, "{A1}", "new_iso")).resolves.toEqual({ state: "valid", code: "DE" });
  expect(reader.calls).toEqual([["account", "{A1}", "?$select=new_iso"]]);
});

test("a failed read is an answer, not a rejection", async () => {
  const failure = new DataverseReadError("reading account failed: timeout", "timeout", { cause: null });
  await expect(checkAccountCountry(accountReader(failure), "{A1}", "address1_country")).resolves.toEqual({
    state: "failed",
    reason: "timeout",
  });
  await expect(checkAccountCountry(accountReader(new Error("boom")), "{A1}", "address1_country")).resolves.toEqual({
    state: "failed",
    reason: "the request to Dataverse failed",
  });
});
