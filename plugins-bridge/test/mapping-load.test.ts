import { readFileSync } from "node:fs";
import { EnvironmentVariable, GLOBAL_CHOICES, OpportunityColumn } from "@cosell/contract";
import { DEFAULT_MAPPING, loadMapping, MappingError, picklistOptions, type FieldMapping } from "../src/mapping";
import { MAPPING_SCHEMA_PATH, mappingJsonSchemaText } from "../src/mapping/json-schema";

function field(fields: readonly FieldMapping[], id: string): FieldMapping {
  const f = fields.find((x) => x.id === id);
  if (!f) throw new Error(`no field ${id}`);
  return f;
}

function issuesOf(admin: unknown, env = {}): { path: string; message: string }[] {
  try {
    loadMapping(admin, env);
  } catch (e) {
    if (e instanceof MappingError) return [...e.issues];
    throw e;
  }
  throw new Error("expected a MappingError");
}

describe("mapping schema file", () => {
  it("is generated from the zod schema and up to date (run: npx tsx plugins-bridge/src/mapping/json-schema.ts)", () => {
    expect(readFileSync(MAPPING_SCHEMA_PATH, "utf8")).toBe(mappingJsonSchemaText());
  });

  it("is referenced by the shipped default", () => {
    expect((DEFAULT_MAPPING as { $schema?: string }).$schema).toBe("./mapping.schema.json");
  });
});

describe("default mapping", () => {
  const mapping = loadMapping(undefined, {});

  it("loads with the default settings of the contract", () => {
    expect(mapping.settings).toEqual({
      checkmark: true,
      syncCoSellOnly: false,
      dealValueField: "estimatedvalue",
      countryCodeField: "address1_country",
    });
  });

  // specs/partner-center-api.md §4.7 and the issue's list of what the connector syncs.
  it.each([
    ["opportunity.name", "name", "name"],
    ["opportunity.dealValue", "details/dealValue", "estimatedvalue"],
    ["opportunity.currency", "details/currency", "transactioncurrencyid"],
    ["opportunity.closeDate", "details/closingDateTime", "estimatedclosedate"],
    ["opportunity.notes", "details/notes", "description"],
    ["opportunity.referralStatus", "status", OpportunityColumn.referralStatus],
    ["opportunity.referralSubstatus", "substatus", OpportunityColumn.referralSubstatus],
    ["opportunity.outcome", "status", "statecode"],
    ["opportunity.solutions", "details/requirements/solutions", OpportunityColumn.products],
    ["opportunity.helpRequest", "inviteContext/assistanceRequestCode", OpportunityColumn.microsoftHelp],
    ["opportunity.shareWithMicrosoft", "consent/consentToShareReferralWithMicrosoftSellers", OpportunityColumn.shareWithMicrosoft],
    ["opportunity.microsoftCrmId", "trackingInfo/microsoftMsxId", OpportunityColumn.microsoftCrmId],
    ["opportunity.referralId", "id", OpportunityColumn.referralId],
    ["opportunity.referralLink", "id", OpportunityColumn.referralLink],
    ["opportunity.engagementId", "engagementId", OpportunityColumn.engagementId],
    ["opportunity.owner", "team", "ownerid"],
    ["account.name", "customerProfile/name", "name"],
    ["account.postalCode", "customerProfile/address/postalCode", "address1_postalcode"],
    ["account.country", "customerProfile/address/country", "address1_country"],
    ["contact.firstName", "customerProfile/team/0/firstName", "firstname"],
    ["contact.lastName", "customerProfile/team/0/lastName", "lastname"],
    ["contact.email", "customerProfile/team/0/email", "emailaddress1"],
    ["contact.phone", "customerProfile/team/0/phoneNumber", "telephone1"],
    ["lead.subject", "name", "subject"],
    ["lead.companyName", "customerProfile/name", "companyname"],
    ["lead.referralId", "id", "cosell_referralid"],
  ])("maps %s: %s ⇄ %s", (id, path, column) => {
    const f = field(mapping.fields, id);
    expect(f.partnerCenter[0]?.text).toBe(path);
    expect(f.dataverse).toBe(column);
  });

  it("takes the help-request map from the contract's option API values", () => {
    const f = field(mapping.fields, "opportunity.helpRequest");
    expect(f.transform.type).toBe("picklist");
    if (f.transform.type !== "picklist") return;
    const expected = GLOBAL_CHOICES.helpNeeded.options.map((o) => ({ crm: o.value, pc: "api" in o ? o.api : null }));
    expect(picklistOptions(f.transform)).toEqual(expected);
  });

  it("follows the connector's update scope: Dynamics → Partner Center status only, Partner Center status into read-only text", () => {
    expect(field(mapping.fields, "opportunity.outcome").direction).toBe("crm-to-pc");
    expect(field(mapping.fields, "opportunity.referralStatus").direction).toBe("pc-to-crm");
    expect(field(mapping.fields, "opportunity.helpRequest").direction).toBe("crm-to-pc");
    expect(field(mapping.fields, "account.name").onUpdate).toBe(false);
  });
});

describe("environment variable indirection", () => {
  it.each([
    [{}, "estimatedvalue", "address1_country"],
    [{ [EnvironmentVariable.dealValueField]: "new_dealamount" }, "new_dealamount", "address1_country"],
    [{ [EnvironmentVariable.countryCodeField]: "Address2_Country" }, "estimatedvalue", "address2_country"],
    [{ [EnvironmentVariable.dealValueField]: "  " }, "estimatedvalue", "address1_country"],
  ])("env %j → deal value %s, country %s", (env, deal, country) => {
    const mapping = loadMapping(undefined, env);
    expect(field(mapping.fields, "opportunity.dealValue").dataverse).toBe(deal);
    expect(field(mapping.fields, "account.country").dataverse).toBe(country);
    expect(mapping.settings.dealValueField).toBe(deal === "estimatedvalue" ? "estimatedvalue" : deal);
  });

  it("reads Yes/No variables as Dataverse stores them", () => {
    const mapping = loadMapping(undefined, { [EnvironmentVariable.checkmark]: "no", [EnvironmentVariable.syncCoSellOnly]: "yes" });
    expect(mapping.settings.checkmark).toBe(false);
    expect(mapping.settings.syncCoSellOnly).toBe(true);
  });
});

describe("an admin's file overrides the default per field", () => {
  it("changes only the properties it names", () => {
    const mapping = loadMapping({ opportunity: { fields: { notes: { conflict: { policy: "manual" } } } } });
    const notes = field(mapping.fields, "opportunity.notes");
    expect(notes.conflict).toEqual({ policy: "manual" });
    expect(notes.dataverse).toBe("description");
    expect(notes.transform).toEqual({ type: "text", maxLength: 2000 });
  });

  it("switches a field off", () => {
    const mapping = loadMapping({ opportunity: { fields: { notes: { enabled: false } } } });
    expect(mapping.fields.find((f) => f.id === "opportunity.notes")).toBeUndefined();
  });

  it("adds a field of its own", () => {
    const mapping = loadMapping({
      opportunity: {
        fields: {
          consentToContact: {
            partnerCenter: "consent/consentToContact",
            dataverse: "new_customerconsent",
            transform: { type: "boolean" },
            direction: "crm-to-pc",
            when: ["create"],
          },
        },
      },
    });
    const f = field(mapping.fields, "opportunity.consentToContact");
    expect(f).toMatchObject({ onCreate: true, onUpdate: false, direction: "crm-to-pc", conflict: { policy: "latest-wins" } });
    expect(f.label).toBe("Consent to contact");
  });

  it("replaces a transform whole (a picklist of its own values)", () => {
    const mapping = loadMapping({
      opportunity: {
        fields: {
          helpRequest: { transform: { type: "picklist", values: [{ crm: 1, pc: "GeneralOrOther" }, { crm: 2, pc: null }] } },
        },
      },
    });
    const f = field(mapping.fields, "opportunity.helpRequest");
    expect(f.transform).toEqual({ type: "picklist", values: [{ crm: 1, pc: "GeneralOrOther" }, { crm: 2, pc: null }] });
  });
});

describe("mistakes are all reported, each with its JSON path", () => {
  it.each<[string, unknown, Record<string, string>, { path: string; message: RegExp }[]]>([
    [
      "structural mistakes in one go",
      {
        opportunity: { fields: { dealValue: { transform: { type: "currency" } }, notes: { direction: "sideways" } } },
        contact: 3,
        extra: true,
      },
      {},
      [
        { path: "opportunity.fields.dealValue.transform.type", message: /Invalid/ },
        { path: "opportunity.fields.notes.direction", message: /both.*pc-to-crm.*crm-to-pc/ },
        { path: "contact", message: /expected object/ },
        { path: "", message: /extra/ },
      ],
    ],
    [
      "a new field without its places",
      { opportunity: { fields: { budget: { transform: { type: "money" } } } } },
      {},
      [
        { path: "opportunity.fields.budget.partnerCenter", message: /required/ },
        { path: "opportunity.fields.budget.dataverse", message: /required/ },
      ],
    ],
    [
      "semantic mistakes and a bad environment value together",
      {
        opportunity: {
          fields: {
            microsoftCrmId: { direction: "both" },
            helpRequest: { transform: { type: "picklist" } },
            outcome: { direction: "both" },
          },
        },
        account: { fields: { owner: { partnerCenter: "team/0/email", dataverse: "ownerid", transform: { type: "owner" }, when: ["create"] } } },
      },
      { [EnvironmentVariable.dealValueField]: "Deal Value" },
      [
        { path: "opportunity.fields.dealValue.dataverse", message: /cosell_DealValueField is "Deal Value"/ },
        { path: "opportunity.fields.helpRequest.transform", message: /exactly one of values or globalChoice/ },
        { path: "opportunity.fields.outcome.direction", message: /crm-to-pc/ },
        { path: "opportunity.fields.microsoftCrmId.direction", message: /pc-to-crm/ },
        { path: "account.fields.owner.transform.type", message: /opportunity or lead/ },
      ],
    ],
    [
      "two fields writing one column",
      { opportunity: { fields: { summary: { partnerCenter: "inviteContext/notes", dataverse: "description" } } } },
      {},
      [{ path: "opportunity.fields.summary.dataverse", message: /also written by opportunity.notes/ }],
    ],
    [
      "a picklist listing an option twice",
      { opportunity: { fields: { helpRequest: { transform: { type: "picklist", values: [{ crm: 1, pc: "A" }, { crm: 1, pc: "B" }] } } } } },
      {},
      [{ path: "opportunity.fields.helpRequest.transform.values[1].crm", message: /listed twice/ }],
    ],
  ])("%s", (_name, admin, env, expected) => {
    const issues = issuesOf(admin, env);
    for (const e of expected) {
      expect(issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: e.path, message: expect.stringMatching(e.message) })]));
    }
    expect(issues).toHaveLength(expected.length);
  });

  it("says everything in the error message too", () => {
    expect(() => loadMapping({ opportunity: { fields: { notes: { direction: "x" }, name: { when: [] } } } })).toThrow(
      /mapping file has 2 problems:\n {2}- opportunity\.fields\.notes\.direction: .*\n {2}- opportunity\.fields\.name\.when: /,
    );
  });

  it("rejects a broken default too, naming it", () => {
    expect(() => loadMapping(undefined, {}, { version: 2 })).toThrow(/default mapping has 1 problem/);
  });
});
