import { readFileSync } from "node:fs";
import * as path from "node:path";
import {
  entityColumns,
  parseDataverseWebhook,
  parseWcfDate,
  DataverseWebhookError,
  OpportunityRowSchema,
} from "../src/dataverse/model";
import {
  knownStatus,
  parseWebhookEvent,
  ReferralCreateSchema,
  ReferralSchema,
  referralIdFromResourceUri,
  WebhookEventError,
} from "../src/partner-center/model";
import { describeWith, sharedFile } from "../../tests/support/prerequisites";
import { buildReferralCreate } from "../src/sync";
import { defaultMapping, recordSet, referral } from "./sync-fixtures";

describe("Referral model", () => {
  it("parses a referral as the API returns it", () => {
    const parsed = ReferralSchema.parse(JSON.parse(JSON.stringify(referral())));
    expect(parsed.details?.dealValue).toBe(50000);
  });

  it("keeps unknown fields and unknown enum values (permissive)", () => {
    const parsed = ReferralSchema.parse({
      id: "r1",
      status: "Paused",
      substatus: "Error",
      type: "Triple",
      solutionArea: "AI Business Solutions",
      details: { dealValue: "10000", currency: null, closingDateTime: null, incentiveLevel: 3 },
      customerProfile: { name: null, address: null, team: null },
    });
    expect(parsed.status).toBe("Paused");
    expect(knownStatus(parsed.status)).toBe("unknown");
    expect((parsed as Record<string, unknown>).solutionArea).toBe("AI Business Solutions");
    expect((parsed.details as Record<string, unknown>).incentiveLevel).toBe(3);
  });

  it.each([
    ["no id", { name: "x" }],
    ["an id that is not text", { id: 5 }],
    ["a team that is not a list", { id: "r", team: { email: "a" } }],
  ])("rejects %s", (_name, body) => {
    expect(ReferralSchema.safeParse(body).success).toBe(false);
  });

  it("builds create bodies the create schema accepts", () => {
    const { body } = buildReferralCreate(recordSet(), defaultMapping());
    expect(ReferralCreateSchema.safeParse(body).success).toBe(true);
  });
});

const FIXTURES = path.resolve(__dirname, "../../../shared/fixtures/partner-center");
const FLOW_SCHEMA = path.join(FIXTURES, "referral-schema-from-microsoft-flow-2019.json");
const FLOW_SCHEMA_FILE = sharedFile("fixtures/partner-center/referral-schema-from-microsoft-flow-2019.json");
const describeWithFixtures = describeWith("plugins-bridge/test/sync-models (flow schema)", [FLOW_SCHEMA_FILE]);

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
}

/** A value every property of which is present, as the 2019 flow would have parsed it. */
function sampleFrom(node: JsonSchemaNode): unknown {
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  if (node.properties) return Object.fromEntries(Object.entries(node.properties).map(([k, v]) => [k, sampleFrom(v)]));
  if (types.includes("array")) return node.items ? [sampleFrom(node.items)] : [];
  if (types.includes("null") || types.length === 0) return null;
  if (types.includes("boolean")) return true;
  return "x";
}

describeWithFixtures("the referral schema Microsoft's own flow parsed (fixtures/partner-center)", () => {
  const schema = FLOW_SCHEMA_FILE.present() ? (JSON.parse(readFileSync(FLOW_SCHEMA, "utf8")) as JsonSchemaNode) : {};

  it("parses a referral carrying every property of it", () => {
    const result = ReferralSchema.safeParse(sampleFrom(schema));
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it("names every property the same way our model does (camelCase, same nesting)", () => {
    expect(missingFromModel(schema, ReferralSchema)).toEqual([]);
    // The check itself can fail:
    expect(missingFromModel({ properties: { details: { properties: { nope: { type: "string" } } } } }, ReferralSchema)).toEqual([
      "/details/nope",
    ]);
  });
});

interface ZodDef {
  type: string;
  innerType?: { _zod: { def: ZodDef } };
  element?: { _zod: { def: ZodDef } };
  shape?: Record<string, { _zod: { def: ZodDef } }>;
}

/** Property paths of the flow's schema that our zod model does not declare. */
function missingFromModel(node: JsonSchemaNode, model: { _zod: { def: ZodDef } }, at = ""): string[] {
  let def = model._zod.def;
  while ((def.type === "optional" || def.type === "nullable") && def.innerType) def = def.innerType._zod.def;
  if (node.items) return def.element ? missingFromModel(node.items, def.element, `${at}[]`) : [`${at}[]`];
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (key.startsWith("@")) continue;
    const ours = def.shape?.[key];
    if (!ours) out.push(`${at}/${key}`);
    else out.push(...missingFromModel(child, ours, `${at}/${key}`));
  }
  return out;
}

describe("Partner Center webhook event", () => {
  it.each<[string, string, string | undefined]>([
    ["the documented URI", "https://api.partnercenter.microsoft.com/engagements/v1/referrals/8d7a1a2b-c3d4-4e5f-a6b7-c8d9e0f1a2b3", "8d7a1a2b-c3d4-4e5f-a6b7-c8d9e0f1a2b3"],
    ["the API's own path", "https://api.partner.microsoft.com/v1.0/engagements/referrals/abc123", "abc123"],
    ["a trailing slash", "https://api.partnercenter.microsoft.com/engagements/v1/referrals/abc123/", "abc123"],
    ["a query string", "https://host/referrals/abc123?x=1#y", "abc123"],
    ["an encoded id", "https://host/referrals/abc%2D123", "abc-123"],
    ["a relative path", "engagements/v1/referrals/abc123", "abc123"],
    ["a dot segment", "https://host/referrals/..", undefined],
    ["an encoded slash", "https://host/referrals/a%2Fb", undefined],
    ["the unfilled template", "https://host/referrals/{{ReferralID}}", undefined],
    ["no path", "https://host/", undefined],
  ])("takes the id from the last segment: %s", (_name, uri, id) => {
    expect(referralIdFromResourceUri(uri)).toBe(id);
  });

  it("parses the documented sample", () => {
    const event = parseWebhookEvent(
      JSON.parse(`{ "EventName": "referral-updated",
        "ResourceUri": "https://api.partnercenter.microsoft.com/engagements/v1/referrals/r-1",
        "ResourceName": "referral", "AuditUri": null,
        "ResourceChangeUtcDate": "2018-02-17T00:05:39.5485487+00:00" }`),
    );
    expect(event).toEqual({
      eventName: "referral-updated",
      isReferralEvent: true,
      isRelated: false,
      referralId: "r-1",
      changedAt: "2018-02-17T00:05:39.5485487+00:00",
    });
  });

  it("answers a validation event whatever its ResourceUri ends in", () => {
    const event = parseWebhookEvent({ EventName: "test-created", ResourceUri: "https://api.partnercenter.microsoft.com/webhooks/v1/{{CorrelationId}}" });
    expect(event).toMatchObject({ eventName: "test-created", isReferralEvent: false, referralId: undefined });
  });

  it.each([
    ["related-referral-created", true, true],
    ["test-created", false, false],
    ["subscription-updated", false, false],
  ])("classifies %s", (name, isReferral, isRelated) => {
    const event = parseWebhookEvent({ EventName: name, ResourceUri: "https://h/referrals/r" });
    expect([event.isReferralEvent, event.isRelated]).toEqual([isReferral, isRelated]);
  });

  it.each([
    ["no EventName", { ResourceUri: "https://h/r/1" }, /EventName/],
    ["no ResourceUri", { EventName: "referral-created" }, /ResourceUri/],
    ["a ResourceUri without id", { EventName: "referral-created", ResourceUri: "https://h/" }, /does not end in a referral id/],
    ["not an object", "referral-created", /not valid/],
  ])("refuses %s", (_name, body, message) => {
    expect(() => parseWebhookEvent(body)).toThrow(WebhookEventError);
    expect(() => parseWebhookEvent(body)).toThrow(message);
  });
});

// A body as Dataverse sends it, slashes escaped the way its serializer writes them (spec §3.2, §7.8).
const REMOTE_EXECUTION_CONTEXT = String.raw`{
  "BusinessUnitId":"e2b9e0d5-0000-0000-0000-000000000001","CorrelationId":"b374239d-0000-0000-0000-000000000002",
  "Depth":1,"InitiatingUserId":"75c2dd30-0000-0000-0000-000000000003",
  "InputParameters":[{"key":"Target","value":{"__type":"Entity:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts",
    "Attributes":[
      {"key":"name","value":"Contoso deal \u2714"},
      {"key":"estimatedvalue","value":{"__type":"Money:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":2154.32}},
      {"key":"cosell_microsofthelp","value":{"__type":"OptionSetValue:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":174200003}},
      {"key":"new_regions","value":[{"__type":"OptionSetValue:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":1},{"__type":"OptionSetValue:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":2}]},
      {"key":"parentcontactid","value":{"__type":"EntityReference:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Id":"b76b0000-0000-0000-0000-000000000004","KeyAttributes":[],"LogicalName":"contact","Name":null,"RowVersion":null}},
      {"key":"estimatedclosedate","value":"\/Date(1608015600000)\/"},
      {"key":"cosell_sharewithmicrosoft","value":true},
      {"key":"description","value":"a\u000ab"},
      {"key":"cosell_declinereason","value":null},
      {"key":"opportunityid","value":"6d810000-0000-0000-0000-000000000005"},
      {"key":"modifiedon","value":"\/Date(1506384247000)\/"},
      {"key":"modifiedby","value":{"__type":"EntityReference:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Id":"75c2dd30-0000-0000-0000-000000000003","KeyAttributes":[],"LogicalName":"systemuser","Name":null,"RowVersion":null}}
    ],
    "EntityState":null,"FormattedValues":[{"key":"cosell_sharewithmicrosoft","value":"Yes"}],"Id":"6d810000-0000-0000-0000-000000000005",
    "KeyAttributes":[],"LogicalName":"opportunity","RelatedEntities":[],"RowVersion":"5948260"}}],
  "IsExecutingOffline":false,"IsInTransaction":false,"IsolationMode":1,"MessageName":"Update","Mode":1,
  "OperationCreatedOn":"\/Date(1506409448000-0700)\/","OperationId":"4af10000-0000-0000-0000-000000000006",
  "OrganizationId":"4ef50000-0000-0000-0000-000000000007","OrganizationName":"OrgName","OutputParameters":[],
  "OwningExtension":{"Id":"75410000-0000-0000-0000-000000000008","LogicalName":"sdkmessageprocessingstep"},
  "PostEntityImages":[{"key":"AsynchronousStepPrimaryName","value":{"Attributes":[{"key":"name","value":"Contoso deal"}],"EntityState":null,"FormattedValues":[],"Id":"6d810000-0000-0000-0000-000000000005","KeyAttributes":[],"LogicalName":"opportunity","RelatedEntities":[],"RowVersion":null}}],
  "PreEntityImages":[],"PrimaryEntityId":"6d810000-0000-0000-0000-000000000005","PrimaryEntityName":"opportunity",
  "RequestId":null,"SecondaryEntityName":"none","SharedVariables":[],"Stage":40,"UserId":"75c2dd30-0000-0000-0000-000000000003",
  "InitiatingUserAzureActiveDirectoryObjectId":"00000000-0000-0000-0000-000000000009"
}`;

describe("Dataverse webhook (RemoteExecutionContext)", () => {
  const event = parseDataverseWebhook(JSON.parse(REMOTE_EXECUTION_CONTEXT));

  it("says what happened to which row, with the dedupe and loop-prevention keys", () => {
    expect(event).toMatchObject({
      messageName: "Update",
      entityName: "opportunity",
      entityId: "6d810000-0000-0000-0000-000000000005",
      operationId: "4af10000-0000-0000-0000-000000000006",
      correlationId: "b374239d-0000-0000-0000-000000000002",
      userId: "75c2dd30-0000-0000-0000-000000000003",
      depth: 1,
    });
  });

  it.each<[string, unknown]>([
    ["name", "Contoso deal ✔"],
    ["estimatedvalue", 2154.32],
    ["cosell_microsofthelp", 174200003],
    ["new_regions", "1,2"],
    ["_parentcontactid_value", "b76b0000-0000-0000-0000-000000000004"],
    ["_parentcontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname", "contact"],
    ["estimatedclosedate", "2020-12-15T07:00:00.000Z"],
    ["cosell_sharewithmicrosoft", true],
    ["description", "a\nb"],
    ["cosell_declinereason", null],
    ["modifiedon", "2017-09-26T00:04:07.000Z"],
  ])("turns %s into a plain column value", (column, value) => {
    expect(event.columns[column]).toEqual(value);
  });

  it("lists the columns the caller changed, without the key and platform columns", () => {
    expect(event.changedColumns).toEqual([
      "name",
      "estimatedvalue",
      "cosell_microsofthelp",
      "new_regions",
      "parentcontactid",
      "estimatedclosedate",
      "cosell_sharewithmicrosoft",
      "description",
      "cosell_declinereason",
    ]);
  });

  it("reads the post image too", () => {
    expect(event.postImage).toEqual({ name: "Contoso deal" });
    expect(event.preImage).toBeUndefined();
  });

  it.each<[string, string | undefined]>([
    ["/Date(1608015600000)/", "2020-12-15T07:00:00.000Z"],
    ["/Date(1506409448000-0700)/", "2017-09-26T07:04:08.000Z"],
    ["/Date(-86400000)/", "1969-12-31T00:00:00.000Z"],
    ["2020-12-15", undefined],
  ])("WCF date %s", (raw, iso) => {
    expect(parseWcfDate(raw)).toBe(iso);
  });

  it("leaves unknown value shapes readable", () => {
    expect(
      entityColumns({ LogicalName: "x", Attributes: [{ key: "party", value: { __type: "EntityCollection:…", Entities: [] } }] }),
    ).toEqual({ party: { __type: "EntityCollection:…", Entities: [] } });
  });

  it.each([
    ["no message name", { PrimaryEntityName: "opportunity", PrimaryEntityId: "1" }],
    ["a Target that is not an entity", { MessageName: "Update", PrimaryEntityName: "opportunity", PrimaryEntityId: "1", InputParameters: [{ key: "Target", value: { Attributes: "x" } }] }],
  ])("refuses %s", (_name, body) => {
    expect(() => parseDataverseWebhook(body)).toThrow(DataverseWebhookError);
  });
});

/** Issue 10 §4: Win and Lose carry the opportunity in InputParameters.OpportunityClose. */
describe("Dataverse Win/Lose webhook", () => {
  const OPPORTUNITY = "6d810000-0000-0000-0000-000000000005";
  const CLOSE = "c1050000-0000-0000-0000-00000000000c";
  const EMPTY = "00000000-0000-0000-0000-000000000000";
  const reference = (id: string, logicalName = "opportunity") => ({
    __type: "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts",
    Id: id,
    KeyAttributes: [],
    LogicalName: logicalName,
    Name: null,
    RowVersion: null,
  });
  const win = (primaryEntityId: string, closeAttributes: Array<{ key: string; value: unknown }>, message = "Win") => ({
    MessageName: message,
    PrimaryEntityName: "opportunity",
    PrimaryEntityId: primaryEntityId,
    OperationId: "4af10000-0000-0000-0000-000000000006",
    InputParameters: [
      {
        key: "OpportunityClose",
        value: { __type: "Entity:http://schemas.microsoft.com/xrm/2011/Contracts", LogicalName: "opportunityclose", Id: CLOSE, Attributes: closeAttributes },
      },
      { key: "Status", value: { __type: "OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts", Value: 3 } },
    ],
  });
  const withOpportunity = [{ key: "subject", value: "Won" }, { key: "opportunityid", value: reference(OPPORTUNITY) }];

  it.each([
    ["the empty GUID", EMPTY],
    ["the opportunityclose activity's id", CLOSE],
    ["another opportunity's id", "6d810000-0000-0000-0000-0000000000ff"],
  ])("reads the opportunity from OpportunityClose.opportunityid when PrimaryEntityId is %s", (_label, primary) => {
    expect(parseDataverseWebhook(win(primary, withOpportunity))).toMatchObject({ messageName: "Win", entityName: "opportunity", entityId: OPPORTUNITY });
    expect(parseDataverseWebhook(win(primary, withOpportunity, "Lose"))).toMatchObject({ messageName: "Lose", entityId: OPPORTUNITY });
  });

  it("falls back to PrimaryEntityId when OpportunityClose does not name the opportunity", () => {
    expect(parseDataverseWebhook(win(OPPORTUNITY, [{ key: "subject", value: "Won" }])).entityId).toBe(OPPORTUNITY);
    expect(parseDataverseWebhook({ ...win(OPPORTUNITY, []), InputParameters: [] }).entityId).toBe(OPPORTUNITY);
  });

  it.each([
    ["OpportunityClose without opportunityid and an empty PrimaryEntityId", win(EMPTY, [{ key: "subject", value: "Won" }])],
    ["OpportunityClose without opportunityid and PrimaryEntityId naming the close activity", win(CLOSE, [])],
    ["opportunityid referring to another table and an empty PrimaryEntityId", win(EMPTY, [{ key: "opportunityid", value: reference(OPPORTUNITY, "account") }])],
    ["no OpportunityClose and an empty PrimaryEntityId", { ...win(EMPTY, []), InputParameters: [] }],
  ])("refuses a context with %s, saying so", (_label, body) => {
    expect(() => parseDataverseWebhook(body)).toThrow(/Win webhook names no opportunity: InputParameters\.OpportunityClose has no opportunityid and PrimaryEntityId is not the opportunity's id/);
  });

  it("refuses an OpportunityClose that is not an entity", () => {
    expect(() => parseDataverseWebhook({ ...win(OPPORTUNITY, []), InputParameters: [{ key: "OpportunityClose", value: { Attributes: "x" } }] })).toThrow(
      /OpportunityClose is not an entity/,
    );
  });
});

describe("Dataverse rows", () => {
  it("validates an opportunity row and keeps unknown columns", () => {
    const row = OpportunityRowSchema.parse({ opportunityid: "1", "@odata.etag": 'W/"5"', new_custom: 3, estimatedvalue: null });
    expect(row.new_custom).toBe(3);
  });

  it("refuses a row whose money is text", () => {
    expect(OpportunityRowSchema.safeParse({ opportunityid: "1", estimatedvalue: "10" }).success).toBe(false);
  });
});
