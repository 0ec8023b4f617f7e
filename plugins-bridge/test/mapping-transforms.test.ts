import { HelpNeeded } from "@cosell/contract";
import { applyOps, opToSet, transformFor, type JsonValue, type TransformImpl } from "../src/mapping";
import type { Transform } from "../src/mapping/schema";
import type { CoSellSettings } from "../src/mapping/settings";
import type { CrmRecordSet } from "../src/dataverse/model";
import type { JsonPatchOp } from "../src/partner-center/model";
import { recordSet, referral } from "./sync-fixtures";

const settings: CoSellSettings = { checkmark: true, syncCoSellOnly: false, dealValueField: "estimatedvalue", countryCodeField: "address1_country" };

function impl(t: Transform): TransformImpl {
  return transformFor(t);
}
const pcRead = (t: Transform, raw: unknown, doc: Record<string, unknown> = referral(), linkKind: "opportunity" | "lead" = "opportunity") =>
  impl(t).fromPartnerCenter(raw, { referral: doc, linkKind, settings });
const crmRead = (t: Transform, raw: unknown, set: CrmRecordSet = recordSet()) =>
  impl(t).fromDataverse(raw, { set, row: set.record, settings });

const HELP: Transform = { type: "picklist", globalChoice: "cosell_helpneeded" };

describe("normalized values read from Partner Center", () => {
  it.each<[string, Transform, unknown, JsonValue]>([
    ["text", { type: "text" }, "Lorem", "Lorem"],
    ["empty text is no value", { type: "text" }, "", null],
    ["blank text is no value", { type: "text" }, "   ", null],
    ["text cut to maxLength", { type: "text", maxLength: 3 }, "abcdef", "abc"],
    ["non-text", { type: "text" }, 42, null],
    ["name without checkmark", { type: "stripCheckmark" }, "Deal ✔", "Deal"],
    ["name without stacked marks", { type: "stripCheckmark" }, "Deal ✖ ✔", "Deal"],
    ["e-mail without case", { type: "email" }, " Sue@Contoso.COM ", "sue@contoso.com"],
    ["country code upper-cased", { type: "countryCode" }, "us", "US"],
    ["country name kept as written", { type: "countryCode" }, "United States", "United States"],
    ["money as number", { type: "money" }, 50000, 50000],
    ["money as string (the PATCH sample sends one)", { type: "money" }, "10000", 10000],
    ["money rounded to cents", { type: "money" }, 10.005001, 10.01],
    ["money not a number", { type: "money" }, "ten", null],
    ["closing date: the date part", { type: "dateOnly" }, "2024-11-14T00:00:00Z", "2024-11-14"],
    ["closing date with offset: the date as written", { type: "dateOnly" }, "2024-11-14T23:30:00-08:00", "2024-11-14"],
    ["closing date impossible", { type: "dateOnly" }, "2024-02-30T00:00:00Z", null],
    ["boolean", { type: "boolean" }, true, true],
    ["boolean null", { type: "boolean" }, null, null],
    ["picklist known", HELP, "ProofOfConceptOrDemo", "ProofOfConceptOrDemo"],
    ["picklist known, other casing", HELP, "proofofconceptordemo", "ProofOfConceptOrDemo"],
    ["picklist unknown value kept", HELP, "SomethingNew", "SomethingNew"],
    [
      "solutions: Name ids sorted, Category dropped",
      { type: "products" },
      [{ type: "Name", id: "SOL-2-B" }, { type: "Category", id: "Dynamics365forSales" }, { type: "Name", id: "sol-1-a" }],
      ["SOL-1-A", "SOL-2-B"],
    ],
    ["solutions: untyped SOL id counts", { type: "products" }, [{ id: "SOL-9-Z" }, { id: "Azure" }], ["SOL-9-Z"]],
    ["solutions: none", { type: "products" }, [], null],
    ["currency upper-cased", { type: "currencyIsoCode" }, "eur", "EUR"],
    ["owner: the newest team member", { type: "owner" }, [{ email: "a@x.com" }, { email: "B@x.com" }], "b@x.com"],
    ["owner: no team", { type: "owner" }, null, null],
    ["referral link from the id", { type: "referralLink", template: "https://pc/{id}?e={engagementId}" }, "r 1", "https://pc/r%201?e=65edc0b5-1111-4222-8333-444455556666"],
  ])("%s", (_name, t, raw, expected) => {
    expect(pcRead(t, raw)).toEqual(expected);
  });

  it.each<[string, Record<string, unknown>, "opportunity" | "lead", string]>([
    ["new pending", { status: "New", substatus: "Pending" }, "opportunity", "Open"],
    ["accepted opportunity is open", { status: "Active", substatus: "Accepted" }, "opportunity", "Open"],
    ["accepted lead is qualified", { status: "Active", substatus: "Accepted" }, "lead", "Qualified"],
    ["won", { status: "Closed", substatus: "Won" }, "opportunity", "Won"],
    ["lost", { status: "Closed", substatus: "Lost" }, "opportunity", "Lost"],
    ["declined lead is disqualified", { status: "Closed", substatus: "Declined" }, "lead", "Disqualified"],
    ["expired", { status: "Closed", substatus: "Expired" }, "opportunity", "Expired"],
    ["closed for an unknown reason", { status: "Closed", substatus: "Error" }, "opportunity", "Closed"],
    ["unknown status", { status: "Paused", substatus: "Whatever" }, "opportunity", "Open"],
  ])("status: %s", (_name, state, kind, expected) => {
    expect(pcRead({ type: "status" }, state.status, { ...referral(), ...state }, kind)).toBe(expected);
  });
});

describe("normalized values read from Dynamics 365", () => {
  it.each<[string, Transform, unknown, JsonValue]>([
    ["name with checkmark", { type: "stripCheckmark" }, "Deal ✖", "Deal"],
    ["money", { type: "money" }, 1234.5, 1234.5],
    ["date-only", { type: "dateOnly" }, "2026-12-31", "2026-12-31"],
    ["date-time read as its date", { type: "dateOnly" }, "2026-12-31T00:00:00Z", "2026-12-31"],
    ["picklist option with an API value", HELP, HelpNeeded.QuotesOrLicensing, "QuotesOrLicensing"],
    ["picklist No help needed = no value", HELP, HelpNeeded.NoHelpNeeded, null],
    ["picklist unset = no value", HELP, null, null],
    ["picklist option the map does not know stays a number", HELP, 99, 99],
    ["products sorted and cleaned", { type: "products" }, "sol-2-b;  SOL-1-A, SOL-2-B", ["SOL-1-A", "SOL-2-B"]],
    ["products empty", { type: "products" }, "", null],
    ["boolean", { type: "boolean", sticky: true }, false, false],
  ])("%s", (_name, t, raw, expected) => {
    expect(crmRead(t, raw)).toEqual(expected);
  });

  it.each<[string, "opportunity" | "lead", number, string | null]>([
    ["open opportunity", "opportunity", 0, "Open"],
    ["won opportunity", "opportunity", 1, "Won"],
    ["lost opportunity", "opportunity", 2, "Lost"],
    ["qualified lead", "lead", 1, "Qualified"],
    ["disqualified lead", "lead", 2, "Disqualified"],
    ["unknown state", "opportunity", 7, null],
  ])("status: %s", (_name, kind, statecode, expected) => {
    expect(crmRead({ type: "status" }, statecode, { ...recordSet(), kind })).toBe(expected);
  });

  it("reads lookups from the resolved rows, not from the record", () => {
    const set = recordSet({ currency: { transactioncurrencyid: "c", isocurrencycode: "eur" }, owner: { systemuserid: "u", internalemailaddress: "Boss@Fabrikam.com" } });
    expect(crmRead({ type: "currencyIsoCode" }, undefined, set)).toBe("EUR");
    expect(crmRead({ type: "owner" }, undefined, set)).toBe("boss@fabrikam.com");
  });
});

describe("writes", () => {
  const writeCtx = (doc: Record<string, unknown>, segments: string[], crm: CrmRecordSet = recordSet()) => ({
    referral: doc,
    linkKind: "opportunity" as const,
    settings,
    segments,
    crm,
  });

  it.each<[string, Transform, JsonValue, unknown]>([
    ["name gets the ✔ when checkmarks are on", { type: "stripCheckmark" }, "Deal", "Deal ✔"],
    ["picklist value → option", HELP, "QuotesOrLicensing", HelpNeeded.QuotesOrLicensing],
    ["picklist no value → the option without API value", HELP, null, HelpNeeded.NoHelpNeeded],
    ["products → comma-separated", { type: "products" }, ["SOL-1-A", "SOL-2-B"], "SOL-1-A, SOL-2-B"],
    ["products none → empty", { type: "products" }, null, null],
    [
      "currency → lookup by ISO code",
      { type: "currencyIsoCode" },
      "EUR",
      { lookup: { table: "transactioncurrency", matchColumn: "isocurrencycode", matchValue: "EUR" } },
    ],
    ["owner → lookup by e-mail", { type: "owner" }, "a@x.com", { lookup: { table: "systemuser", matchColumn: "internalemailaddress", matchValue: "a@x.com" } }],
  ])("to Dynamics 365: %s", (_name, t, value, expected) => {
    const set = recordSet();
    expect(impl(t).toDataverse(value, { set, row: set.record, settings })).toEqual({ ok: true, value: expected });
  });

  it.each<[string, Transform, JsonValue, RegExp]>([
    ["an unknown Partner Center enum value", HELP, "SomethingNew", /no matching choice/],
    ["no currency", { type: "currencyIsoCode" }, null, /needs a currency/],
    ["no owner", { type: "owner" }, null, /always has an owner/],
    ["a status", { type: "status" }, "Won", /status columns/],
  ])("to Dynamics 365 refuses %s", (_name, t, value, reason) => {
    const set = recordSet();
    const result = impl(t).toDataverse(value, { set, row: set.record, settings });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it.each<[string, Transform, Record<string, unknown>, string[], JsonValue, JsonPatchOp[]]>([
    ["replace an existing value", { type: "money" }, { details: { dealValue: 1 } }, ["details", "dealValue"], 2, [{ op: "replace", path: "/details/dealValue", value: 2 }]],
    ["add a missing member", { type: "text" }, { details: {} }, ["details", "notes"], "n", [{ op: "add", path: "/details/notes", value: "n" }]],
    ["add a missing parent whole", { type: "text" }, {}, ["details", "notes"], "n", [{ op: "add", path: "/details", value: { notes: "n" } }]],
    ["replace a null parent", HELP, { inviteContext: null }, ["inviteContext", "assistanceRequestCode"], "GeneralOrOther", [{ op: "replace", path: "/inviteContext", value: { assistanceRequestCode: "GeneralOrOther" } }]],
    ["closing date at midnight UTC", { type: "dateOnly" }, { details: { closingDateTime: "x" } }, ["details", "closingDateTime"], "2027-01-15", [{ op: "replace", path: "/details/closingDateTime", value: "2027-01-15T00:00:00Z" }]],
    ["clear a value", { type: "text" }, { details: { notes: "old" } }, ["details", "notes"], null, [{ op: "replace", path: "/details/notes", value: null }]],
    [
      "solutions keep Category tags and known details",
      { type: "products" },
      { details: { requirements: { solutions: [{ type: "Category", id: "Azure" }, { type: "Name", id: "SOL-1-A", name: "One" }, { type: "Name", id: "SOL-3-C" }] } } },
      ["details", "requirements", "solutions"],
      ["SOL-1-A", "SOL-2-B"],
      [
        {
          op: "replace",
          path: "/details/requirements/solutions",
          value: [{ type: "Category", id: "Azure" }, { type: "Name", id: "SOL-1-A", name: "One" }, { type: "Name", id: "SOL-2-B" }],
        },
      ],
    ],
    [
      "owner appended to the team with the user's names",
      { type: "owner" },
      { team: [{ email: "old@fabrikam.com" }] },
      ["team"],
      "ann@fabrikam.com",
      [{ op: "add", path: "/team/-", value: { email: "ann@fabrikam.com", firstName: "Ann", lastName: "Seller" } }],
    ],
    ["owner starts a team", { type: "owner" }, {}, ["team"], "new@fabrikam.com", [{ op: "add", path: "/team", value: [{ email: "new@fabrikam.com" }] }]],
    ["won", { type: "status" }, { status: "Active", substatus: "Accepted" }, ["status"], "Won", [{ op: "replace", path: "/status", value: "Closed" }, { op: "replace", path: "/substatus", value: "Won" }]],
  ])("to Partner Center: %s", (_name, t, doc, segments, value, ops) => {
    expect(impl(t).toPartnerCenter(value, writeCtx(doc, segments))).toEqual({ ok: true, value: ops });
  });

  it("sends the lost reason from the opportunity's status reason", () => {
    const crm = recordSet({ recordColumns: { statecode: 2, statuscode: 5 } });
    const result = impl({ type: "status" }).toPartnerCenter("Lost", writeCtx({ status: "New", substatus: "Pending" }, ["status"], crm));
    expect(result).toEqual({
      ok: true,
      value: [
        { op: "replace", path: "/status", value: "Closed" },
        { op: "replace", path: "/substatus", value: "Lost" },
        { op: "add", path: "/statusReason", value: "Out-sold" },
      ],
    });
  });

  it.each<[string, Transform, Record<string, unknown>, string[], JsonValue, RegExp]>([
    ["sharing turned off once on", { type: "boolean", sticky: true }, { consent: { c: true } }, ["consent", "c"], false, /does not allow turning it off/],
    ["a Dynamics option without API value", HELP, {}, ["inviteContext", "assistanceRequestCode"], 99, /no Partner Center equivalent/],
    ["malformed solution ids", { type: "products" }, {}, ["details", "requirements", "solutions"], ["FOO", "SOL-1-A"], /This solution ID is not valid: FOO/],
    ["reopening", { type: "status" }, { status: "Active", substatus: "Accepted" }, ["status"], "Open", /cannot be reopened/],
    ["winning a declined referral", { type: "status" }, { status: "Closed", substatus: "Declined" }, ["status"], "Won", /can no longer be changed/],
    ["the referral link", { type: "referralLink", template: "x/{id}" }, {}, ["id"], "x/1", /made by Partner Center/],
  ])("to Partner Center refuses %s", (_name, t, doc, segments, value, reason) => {
    expect(impl(t).toPartnerCenter(value, writeCtx(doc, segments))).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it("allows a sticky flag to be turned on", () => {
    const result = impl({ type: "boolean", sticky: true }).toPartnerCenter(true, writeCtx({ consent: { c: false } }, ["consent", "c"]));
    expect(result).toEqual({ ok: true, value: [{ op: "replace", path: "/consent/c", value: true }] });
  });
});

describe("JSON pointer ops", () => {
  it.each<[string, unknown, string[], JsonValue, JsonPatchOp]>([
    ["array index inside", { a: [{ b: 1 }] }, ["a", "0", "b"], 2, { op: "replace", path: "/a/0/b", value: 2 }],
    ["array index at the end", { a: [] }, ["a", "0", "b"], 2, { op: "add", path: "/a/0", value: { b: 2 } }],
    ["array index past the end appends", { a: [] }, ["a", "3"], 2, { op: "add", path: "/a/-", value: 2 }],
    ["missing array built", {}, ["a", "0", "b"], 2, { op: "add", path: "/a", value: [{ b: 2 }] }],
    ["scalar parent replaced", { a: 5 }, ["a", "b"], 2, { op: "replace", path: "/a", value: { b: 2 } }],
  ])("%s", (_name, doc, segments, value, op) => {
    const got = opToSet(doc, segments, value);
    expect(got).toEqual(op);
    // And the op does what it says (an append lands at the array's end).
    let cursor: unknown = applyOps(doc as Record<string, unknown>, [got]);
    for (const s of segments) {
      const next = (cursor as Record<string, unknown>)[s];
      cursor = next === undefined && Array.isArray(cursor) ? cursor[cursor.length - 1] : next;
    }
    expect(cursor).toEqual(value);
  });

  it("never mutates its input", () => {
    const doc = { a: { b: 1 } };
    applyOps(doc, [{ op: "replace", path: "/a/b", value: 2 }]);
    expect(doc).toEqual({ a: { b: 1 } });
  });

  it("refuses replacing a missing member", () => {
    expect(() => applyOps({}, [{ op: "replace", path: "/a", value: 1 }])).toThrow(/missing/);
  });
});
