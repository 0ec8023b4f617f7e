import { EnvironmentVariable, HelpNeeded, OpportunityColumn } from "@cosell/contract";
import { ReferralCreateSchema } from "../src/partner-center/model";
import {
  buildRecordFromReferral,
  buildReferralCreate,
  syncErrorText,
  validateForCreate,
  type ProblemCode,
} from "../src/sync";
import { defaultMapping, OPPORTUNITY_ID, recordSet, referral } from "./sync-fixtures";

describe("validateForCreate", () => {
  const mapping = defaultMapping();

  it("finds nothing wrong with a complete opportunity", () => {
    expect(validateForCreate(recordSet(), mapping)).toEqual([]);
  });

  it.each<[string, Parameters<typeof recordSet>[0], ProblemCode, string, string, RegExp]>([
    ["no name", { recordColumns: { name: " ✔" } }, "name-missing", "opportunity", "name", /Give the opportunity a name in Topic/],
    ["no deal value", { recordColumns: { estimatedvalue: null } }, "deal-value-missing", "opportunity", "estimatedvalue", /Enter the deal value in Deal value/],
    ["a zero deal value", { recordColumns: { estimatedvalue: 0 } }, "deal-value-not-positive", "opportunity", "estimatedvalue", /greater than 0/],
    ["a negative deal value", { recordColumns: { estimatedvalue: -5 } }, "deal-value-not-positive", "opportunity", "estimatedvalue", /greater than 0/],
    ["no close date", { recordColumns: { estimatedclosedate: null } }, "close-date-missing", "opportunity", "estimatedclosedate", /Est\. close date/],
    ["no currency", { currency: null }, "currency-missing", "opportunity", "transactioncurrencyid", /Choose the Currency/],
    ["no solution", { recordColumns: { [OpportunityColumn.products]: " , " } }, "solution-missing", "opportunity", OpportunityColumn.products, /at least one solution ID \(for example SOL-15974-MQF\)/],
    ["a malformed solution id", { recordColumns: { [OpportunityColumn.products]: "SOL-15974-MQF, Azure" } }, "solution-id-invalid", "opportunity", OpportunityColumn.products, /AZURE is not a solution ID/],
    ["no account", { account: null }, "account-missing", "opportunity", "customerid", /Potential Customer/],
    ["an account without name", { account: { accountid: "a", address1_country: "US" } }, "account-name-missing", "account", "name", /name in Account name/],
    ["no country code", { account: { accountid: "a", name: "Contoso" } }, "country-code-missing", "account", "address1_country", /^Add the customer's two-letter country code \(for example US\) to the account's Country\/Region field\.$/],
    ["a country name instead of a code", { account: { accountid: "a", name: "Contoso", address1_country: "Germany" } }, "country-code-invalid", "account", "address1_country", /says "Germany"/],
    ["help requested without contact", { contact: null }, "contact-missing", "opportunity", "parentcontactid", /customer contact/],
  ])("%s", (_name, overrides, code, table, column, message) => {
    const problems = validateForCreate(recordSet(overrides), mapping);
    expect(problems).toEqual([{ code, table, column, message: expect.stringMatching(message) }]);
  });

  it("needs no contact when no help is requested", () => {
    const crm = recordSet({ contact: null, recordColumns: { [OpportunityColumn.microsoftHelp]: HelpNeeded.NoHelpNeeded } });
    expect(validateForCreate(crm, mapping)).toEqual([]);
  });

  it("points at the columns the environment variables name", () => {
    const custom = defaultMapping({ [EnvironmentVariable.dealValueField]: "new_dealamount", [EnvironmentVariable.countryCodeField]: "new_countrycode" });
    const crm = recordSet({ recordColumns: { new_dealamount: 0 }, account: { accountid: "a", name: "Contoso", address1_country: "US" } });
    expect(validateForCreate(crm, custom).map((p) => [p.code, p.column])).toEqual([
      ["deal-value-not-positive", "new_dealamount"],
      ["country-code-missing", "new_countrycode"],
    ]);
  });

  it("checks ids against the solution catalogue when there is one", () => {
    const crm = recordSet({ recordColumns: { [OpportunityColumn.products]: "SOL-15974-MQF, SOL-1-UNKNOWN" } });
    expect(validateForCreate(crm, mapping, { catalogue: new Set(["SOL-15974-MQF"]) })).toEqual([
      expect.objectContaining({ code: "solution-not-in-catalogue", message: expect.stringMatching(/SOL-1-UNKNOWN is not in the co-sell solution catalogue/) }),
    ]);
  });

  it("reports every problem at once, and joins them for cosell_syncerror", () => {
    const problems = validateForCreate(recordSet({ account: null, contact: null, recordColumns: { estimatedvalue: 0 } }), mapping);
    expect(problems.map((p) => p.code)).toEqual(["deal-value-not-positive", "account-missing", "contact-missing"]);
    const text = syncErrorText(problems);
    expect(text).toContain("Deal value must be greater than 0");
    expect(syncErrorText(problems, 40)).toHaveLength(40);
  });
});

describe("buildReferralCreate", () => {
  const mapping = defaultMapping();

  it("builds a co-sell request when Microsoft's help is asked", () => {
    const { body, omitted } = buildReferralCreate(recordSet(), mapping);
    expect(omitted).toEqual([]);
    expect(ReferralCreateSchema.safeParse(body).success).toBe(true);
    expect(body).toEqual({
      name: "Contoso Azure migration",
      externalReferenceId: OPPORTUNITY_ID,
      type: "Shared",
      qualification: "SalesQualified",
      consent: { consentToShareReferralWithMicrosoftSellers: true },
      inviteContext: { assistanceRequestCode: "CustomerTechnicalArchitecture" },
      customerProfile: {
        name: "Contoso Ltd",
        address: { addressLine1: "One Microsoft Way", city: "Redmond", state: "WA", postalCode: "98052", country: "US" },
        team: [{ firstName: "Sue", lastName: "Smith", email: "sue@contoso.com", phoneNumber: "1234567890" }],
      },
      details: {
        dealValue: 50000,
        currency: "USD",
        closingDateTime: "2026-12-31T00:00:00Z",
        notes: "Move 200 VMs to Azure",
        requirements: { solutions: [{ type: "Name", id: "SOL-15974-MQF" }] },
      },
      team: [{ email: "ann@fabrikam.com", firstName: "Ann", lastName: "Seller" }],
      target: [{ type: "SolutionProfile", id: "SOL-15974-MQF" }],
    });
  });

  it.each<[string, number, boolean, string, boolean]>([
    ["private deal: no help, not shared", HelpNeeded.NoHelpNeeded, false, "Independent", false],
    ["partner-led: no help, shared", HelpNeeded.NoHelpNeeded, true, "Independent", true],
    ["co-sell: help forces sharing", HelpNeeded.QuotesOrLicensing, false, "Shared", true],
  ])("%s", (_name, help, share, type, consent) => {
    const crm = recordSet({ recordColumns: { [OpportunityColumn.microsoftHelp]: help, [OpportunityColumn.shareWithMicrosoft]: share } });
    const { body } = buildReferralCreate(crm, mapping);
    expect(body.type).toBe(type);
    expect(body.consent.consentToShareReferralWithMicrosoftSellers).toBe(consent);
    expect(body.inviteContext === undefined).toBe(type === "Independent");
    expect(body.target).toEqual(type === "Shared" ? [{ type: "SolutionProfile", id: "SOL-15974-MQF" }] : []);
  });

  it("never sends the checkmark, and takes the deal value from the configured column", () => {
    const custom = defaultMapping({ [EnvironmentVariable.dealValueField]: "new_dealamount" });
    const crm = recordSet({ recordColumns: { name: "Big deal ✖", new_dealamount: 123.456 } });
    const { body } = buildReferralCreate(crm, custom);
    expect(body.name).toBe("Big deal");
    expect(body.details.dealValue).toBe(123.46);
  });

  it("sends several solutions, sorted", () => {
    const crm = recordSet({ recordColumns: { [OpportunityColumn.products]: "SOL-2-B, sol-1-a" } });
    expect(buildReferralCreate(crm, mapping).body.details.requirements?.solutions).toEqual([
      { type: "Name", id: "SOL-1-A" },
      { type: "Name", id: "SOL-2-B" },
    ]);
  });

  it("leaves out what has no value and says what it could not express", () => {
    const crm = recordSet({ contact: null, recordColumns: { description: null, [OpportunityColumn.microsoftHelp]: 174209999 } });
    const { body, omitted } = buildReferralCreate(crm, mapping);
    expect(body.details.notes).toBeUndefined();
    expect(body.customerProfile.team).toBeUndefined();
    expect(omitted).toEqual([expect.objectContaining({ field: "opportunity.helpRequest", reason: expect.stringMatching(/no Partner Center equivalent/) })]);
  });
});

describe("buildRecordFromReferral", () => {
  it("makes a co-sell opportunity with its account and contact to match or create", () => {
    const plan = buildRecordFromReferral({ referral: referral() }, defaultMapping());
    expect(plan).toEqual({
      kind: "opportunity",
      category: "co-sell-opportunity",
      record: expect.objectContaining({
        name: "Contoso Azure migration ✔",
        estimatedvalue: 50000,
        estimatedclosedate: "2026-12-31",
        description: "Move 200 VMs to Azure",
        transactioncurrencyid: { lookup: { table: "transactioncurrency", matchColumn: "isocurrencycode", matchValue: "USD" } },
        ownerid: { lookup: { table: "systemuser", matchColumn: "internalemailaddress", matchValue: "ann@fabrikam.com" } },
        [OpportunityColumn.products]: "SOL-15974-MQF",
        [OpportunityColumn.referralId]: referral().id,
        [OpportunityColumn.referralStatus]: "Active",
        [OpportunityColumn.syncWithPartnerCenter]: true,
      }),
      account: {
        match: { name: "Contoso Ltd", postalCode: "98052" },
        values: expect.objectContaining({ name: "Contoso Ltd", address1_postalcode: "98052", address1_country: "US" }),
      },
      contact: {
        match: { email: "sue@contoso.com" },
        values: { firstname: "Sue", lastname: "Smith", emailaddress1: "sue@contoso.com", telephone1: "1234567890" },
      },
    });
  });

  it("does not copy what only flows from Dynamics (help request, sharing)", () => {
    const plan = buildRecordFromReferral({ referral: referral() }, defaultMapping());
    expect(plan.kind === "opportunity" && plan.record[OpportunityColumn.microsoftHelp]).toBeFalsy();
    expect(plan.kind === "opportunity" && plan.record[OpportunityColumn.shareWithMicrosoft]).toBeFalsy();
  });

  it("writes the plain name when checkmarks are off, and the deal value where configured", () => {
    const mapping = defaultMapping({ [EnvironmentVariable.checkmark]: "no", [EnvironmentVariable.dealValueField]: "new_dealamount" });
    const plan = buildRecordFromReferral({ referral: referral() }, mapping);
    expect(plan.kind === "opportunity" && plan.record.name).toBe("Contoso Azure migration");
    expect(plan.kind === "opportunity" && plan.record.new_dealamount).toBe(50000);
  });

  const marketplaceLead = referral({
    type: "Independent",
    qualification: "Direct",
    inviteContext: { invitedBy: { organizationId: "msft" } },
    status: "New",
    substatus: "Pending",
  });

  it("makes a lead of a marketplace lead", () => {
    const plan = buildRecordFromReferral({ referral: marketplaceLead }, defaultMapping());
    expect(plan).toEqual({
      kind: "lead",
      category: "marketplace-lead",
      record: expect.objectContaining({
        subject: "Contoso Azure migration",
        companyname: "Contoso Ltd",
        firstname: "Sue",
        lastname: "Smith",
        emailaddress1: "sue@contoso.com",
        address1_country: "US",
        estimatedamount: 50000,
        [OpportunityColumn.referralId]: referral().id,
        [OpportunityColumn.referralStatus]: "New",
      }),
    });
  });

  it("skips leads when only co-sell opportunities are synced", () => {
    const plan = buildRecordFromReferral({ referral: marketplaceLead }, defaultMapping({ [EnvironmentVariable.syncCoSellOnly]: "yes" }));
    expect(plan).toEqual({ kind: "skip", category: "marketplace-lead", reason: expect.stringMatching(/co-sell opportunities only/) });
  });

  it("creates no contact when the customer has none", () => {
    const plan = buildRecordFromReferral(
      { referral: referral({ customerProfile: { name: "Contoso Ltd", address: { country: "US" }, team: [] } }) },
      defaultMapping(),
    );
    expect(plan.kind === "opportunity" && plan.contact).toBeUndefined();
    expect(plan.kind === "opportunity" && plan.account?.match).toEqual({ name: "Contoso Ltd", postalCode: null });
  });
});
