import { isTerminalReferral, safeReferralLink } from "../../PartnerCenterSection/model/referral";

test.each([
  ["Closed", "Won", true],
  ["Closed", "Lost", true],
  ["Closed", null, true],
  [null, "Expired", true],
  ["closed", "declined", true],
  ["Active", "Accepted", false],
  ["New", "Pending", false],
  [null, null, false],
] as [string | null, string | null, boolean][])("isTerminalReferral(%p, %p) → %p", (status, substatus, expected) => {
  expect(isTerminalReferral(status, substatus)).toBe(expected);
});

test.each([
  ["https://partner.microsoft.com/x", "https://partner.microsoft.com/x"],
  ["  http://localhost:7071/referrals/1 ", "http://localhost:7071/referrals/1"],
  ["javascript:alert(1)", null],
  ["data:text/html,hi", null],
  ["/relative", null],
  [null, null],
] as [string | null, string | null][])("safeReferralLink(%p) → %p", (link, expected) => {
  expect(safeReferralLink(link)).toBe(expected);
});
