import { readFileSync } from "node:fs";
import path from "node:path";
import { describeWith, sharedFile } from "../../tests/support/prerequisites";
import { MFA_REQUIRED_CODE, REFERRALS_AUDIENCE, WEBHOOKS_AUDIENCE, type CommitEvent, type Referral } from "../src/partner-center";
import { fixture, SELLER, startHarness, type Harness } from "./fixtures/partner-center/harness";

type Json = Record<string, unknown>;
interface ErrorBody {
  code: string;
  description: string;
  data: unknown[];
  source: string;
}
interface Page {
  "@odata.context": string;
  "@odata.count"?: number;
  "@odata.nextLink"?: string;
  value: Referral[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DOTNET_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$/;
const privateDeal = (): Json => fixture<Json>("create-private-deal.json");
const sharedReferral = (): Json => fixture<Json>("create-shared-referral.json");
const inbound = (): Json => fixture<Json>("inbound-co-sell.json");

function expectErrorBody(body: unknown, code: string, descriptionPart?: string | RegExp): void {
  const e = body as ErrorBody;
  expect(e).toEqual({ code, description: expect.any(String), data: [], source: expect.any(String) });
  if (descriptionPart !== undefined) expect(e.description).toMatch(descriptionPart);
}

describe("Partner Center emulator: Referrals API", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ pageSize: 5 });
  });
  afterAll(() => h.close());
  beforeEach(() => h.pc.reset());

  const create = async (body: Json = privateDeal(), headers?: Record<string, string>): Promise<Referral> => {
    const res = await h.api<Referral>("POST", "/v1.0/engagements/referrals", body, headers);
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
    return res.body;
  };
  const createInbound = async (body: Json = inbound()): Promise<Referral> => {
    const res = await fetch(`${h.pc.url}/_emulator/inbound-referrals`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`inbound failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as Referral;
  };
  const get = async (id: string): Promise<Referral> => (await h.api<Referral>("GET", `/v1.0/engagements/referrals/${id}`)).body;

  describe("create (POST)", () => {
    it("creates the documented Private deal sample and fills every server field", async () => {
      const res = await h.api<Referral & Json>("POST", "/v1.0/engagements/referrals", privateDeal());
      expect(res.status).toBe(201);
      const r = res.body;
      expect(r.id).toMatch(GUID);
      expect(r.engagementId).toMatch(GUID);
      expect(r.eTag).toMatch(/^"[0-9a-f]{8}-0000-0000-0000-[0-9a-f]{8}0000"$/);
      expect(r).toMatchObject({
        name: "Contoso Test Deal - [Private]",
        organizationId: h.pc.partner.organizationId,
        organizationName: h.pc.partner.organizationName,
        direction: "Outgoing",
        status: "Active",
        substatus: "Accepted",
        type: "Independent",
        qualification: "SalesQualified",
        // mixed casing in the sample binds to the camelCase properties
        consent: {
          consentToToShareInfoWithOthers: true,
          consentToContact: true,
          consentToMicrosoftToContactSpecificPartners: true,
          consentToShareReferralWithMicrosoftSellers: false,
        },
        details: { dealValue: 50000, currency: "USD", closingDateTime: "2024-11-14T00:00:00Z" },
        links: {
          self: { uri: `${h.pc.url}/v1.0/engagements/referrals/${r.id}`, method: "GET" },
          relatedReferrals: { uri: `${h.pc.url}/v1.0/engagements/referrals?$filter=engagementId eq '${r.engagementId}'`, method: "GET" },
        },
      });
      expect(r.createdDateTime).toMatch(DOTNET_INSTANT);
      expect(r.updatedDateTime).toBe(r.createdDateTime);
      expect(r.acceptedDateTime).toBe(r.createdDateTime); // "For outgoing referrals, it's same date as referral creation datetime"
      expect(Date.parse(r.expirationDateTime as string) - Date.parse(r.createdDateTime)).toBe(14 * 86_400_000);
      expect(res.headers.get("location")).toBe(r.links.self.uri);
      // materialized like a typed .NET model: every member field present
      expect(r.team[0]).toEqual({ firstName: "John", lastName: "Doe", phoneNumber: "1231231234", email: "", contactPreference: null });
      expect(r.details.requirements).toEqual({
        industries: [],
        products: [],
        services: [],
        solutions: [{ id: "SOL-15974-MQF", name: "Contoso-Ale_Test", type: "Name", publisherName: "Contoso_Test", solutionType: "3P" }],
      });
      expect(await get(r.id)).toEqual({ ...r });
    });

    it("drops unknown properties (and says which in a sandbox header) and ignores server-owned ones", async () => {
      const body = { ...privateDeal(), colour: "blue", id: "not-mine", direction: "Incoming", organizationId: "evil", eTag: "x", createdDateTime: "2000-01-01T00:00:00Z" };
      const res = await h.api<Referral & Json>("POST", "/v1.0/engagements/referrals", body);
      expect(res.status).toBe(201);
      expect(res.body.colour).toBeUndefined();
      expect(res.headers.get("x-emulator-ignored-properties")).toBe("colour");
      expect(res.body.id).not.toBe("not-mine");
      expect(res.body.direction).toBe("Outgoing");
      expect(res.body.organizationId).toBe(h.pc.partner.organizationId);
      expect(res.body.createdDateTime.startsWith("2000")).toBe(false);
    });

    it("binds property names and enum values case-insensitively, and numeric strings to numbers", async () => {
      const body = privateDeal();
      const r = await create({
        ...body,
        Type: "shared",
        STATUS: "new",
        details: { ...(body.details as Json), DealValue: "1234.5" },
        consent: { consentToShareReferralWithMicrosoftSellers: "true" },
        type: undefined,
      });
      expect(r).toMatchObject({ type: "Shared", status: "New", substatus: "Pending", acceptedDateTime: null, details: { dealValue: 1234.5 } });
      expect(r.consent.consentToShareReferralWithMicrosoftSellers).toBe(true);
    });

    it("lets a second referral join an existing engagement (a shared referral and its connected Microsoft referral)", async () => {
      const first = await create(sharedReferral());
      expect(first).toMatchObject({ status: "New", substatus: "Pending", type: "Shared", externalReferenceId: "6f1c2b3a-1111-4222-8333-944455556666" });
      const second = await create({ ...sharedReferral(), engagementId: first.engagementId, target: [{ type: "BusinessProfileLocation", id: "msft" }], inviteContext: undefined });
      expect(second.engagementId).toBe(first.engagementId);
      expect(second.id).not.toBe(first.id);
      const related = await h.api<Page>("GET", first.links.relatedReferrals.uri as string);
      expect(related.status).toBe(200);
      expect(related.body.value.map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
    });

    it.each<[string, (b: Json) => Json, RegExp]>([
      ["type missing", (b) => ({ ...b, type: undefined }), /type is required/],
      ["customerProfile missing", (b) => ({ ...b, customerProfile: undefined }), /customerProfile is required/],
      ["consent missing", (b) => ({ ...b, consent: null }), /consent is required/],
      ["details missing", (b) => ({ ...b, details: undefined }), /details is required/],
      ["type not an enum value", (b) => ({ ...b, type: "Friendly" }), /'type' must be one of Independent, Shared/],
      ["dealValue not a number", (b) => ({ ...b, details: { ...(b.details as Json), dealValue: "lots" } }), /'details.dealValue' must be a number/],
      ["closingDateTime not a date", (b) => ({ ...b, details: { ...(b.details as Json), closingDateTime: "soon" } }), /details.closingDateTime/],
      ["team not an array", (b) => ({ ...b, team: { firstName: "x" } }), /'team' must be an array/],
      ["country missing", (b) => ({ ...b, customerProfile: { name: "C", address: { city: "X" } } }), /customerProfile.address.country/],
      ["country not ISO alpha-2", (b) => ({ ...b, customerProfile: { name: "C", address: { country: "USA" } } }), /alpha-2/],
      ["customer name missing", (b) => ({ ...b, customerProfile: { address: { country: "US" } } }), /customerProfile.name/],
      ["created Closed", (b) => ({ ...b, status: "Closed", substatus: "Won" }), /cannot be created with status 'Closed'/],
      ["status/substatus mismatch", (b) => ({ ...b, status: "Active", substatus: "Pending" }), /substatus 'Pending' is not allowed with status 'Active'/],
      ["unknown engagement", (b) => ({ ...b, engagementId: "5e1f0000-0000-4000-8000-000000000000" }), /engagementId .* does not name an existing engagement/],
      ["negative deal value", (b) => ({ ...b, details: { ...(b.details as Json), dealValue: -1 } }), /cannot be negative/],
      ["shared with Microsoft without a solution", (b) => ({ ...b, consent: { consentToShareReferralWithMicrosoftSellers: true }, details: { dealValue: 1 } }), /needs a solution/],
      ["help requested without sharing", (b) => ({ ...b, inviteContext: { assistanceRequestCode: "ProofOfConceptOrDemo" } }), /needs consent.consentToShareReferralWithMicrosoftSellers/],
    ])("refuses a body with %s (400, naming the field)", async (_name, change, message) => {
      const res = await h.api<ErrorBody>("POST", "/v1.0/engagements/referrals", JSON.parse(JSON.stringify(change(privateDeal()))));
      expect(res.status).toBe(400);
      expectErrorBody(res.body, "BadRequest", message);
    });

    it.each([
      ["invalid JSON", "{ not json", /not valid JSON/],
      ["an array", "[]", /must be a Referral object/],
      ["nothing", "", /must be a Referral object/],
    ])("refuses %s as a body", async (_name, text, message) => {
      const res = await h.api<ErrorBody>("POST", "/v1.0/engagements/referrals", text, { "content-type": "application/json" });
      expect(res.status).toBe(400);
      expectErrorBody(res.body, "BadRequest", message);
    });
  });

  it("answers an unsupported media type with 415 in the error shape", async () => {
    const res = await h.api<ErrorBody>("POST", "/v1.0/engagements/referrals", "name=x", { "content-type": "text/plain" });
    expect(res.status).toBe(415);
    expectErrorBody(res.body, "UnsupportedMediaType");
  });

  describe("authentication and common headers", () => {
    it.each<[string, (hh: Harness) => Record<string, string>, number, RegExp]>([
      ["no Authorization header", () => ({ authorization: "" }), 401, /missing Authorization/],
      ["a malformed token", () => ({ authorization: "Bearer abc.def" }), 401, /malformed/],
      ["a Basic credential", () => ({ authorization: "Basic dXNlcjpwYXNz" }), 401, /not a Bearer token/],
      ["a token for another audience", (hh) => ({ authorization: `Bearer ${hh.webhookToken}` }), 401, /audience/],
      [
        "an app-only token (Referrals are App+User only)",
        (hh) => {
          hh.tokens.registerClient({ clientId: "bridge", clientSecret: "s" });
          return { authorization: `Bearer ${hh.tokens.clientCredentials({ clientId: "bridge", clientSecret: "s", resource: REFERRALS_AUDIENCE }).accessToken}` };
        },
        403,
        /App\+User/,
      ],
    ])("refuses %s", async (_name, headers, status, message) => {
      const res = await h.api<ErrorBody>("GET", "/v1.0/engagements/referrals", undefined, headers(h));
      expect(res.status).toBe(status);
      expectErrorBody(res.body, status === 401 ? "Unauthorized" : "Forbidden", message);
      if (status === 401) expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    });

    it("refuses an App+User token whose sign-in did not pass MFA: 401, code 900421 (enforced since 2026-04-01)", async () => {
      const noMfa = h.tokens.issueUserAccessToken(SELLER, REFERRALS_AUDIENCE, "bridge", ["pwd"]).accessToken;
      for (const path of ["/v1.0/engagements/referrals", "/webhooks/v1/registration"]) {
        const token = path.startsWith("/webhooks") ? h.tokens.issueUserAccessToken(SELLER, WEBHOOKS_AUDIENCE, "bridge", ["pwd"]).accessToken : noMfa;
        const res = await h.api<ErrorBody>("GET", path, undefined, { authorization: `Bearer ${token}` });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ code: MFA_REQUIRED_CODE, description: expect.stringMatching(/multi-factor authentication required/i), data: [], source: expect.any(String) });
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      }
      const created = await h.api("POST", "/v1.0/engagements/referrals", privateDeal(), { authorization: `Bearer ${noMfa}` });
      expect(created.status).toBe(401);
    });

    it("still accepts an app-only token on the Webhooks API (MFA concerns App+User calls only)", async () => {
      h.tokens.registerClient({ clientId: "bridge", clientSecret: "s" });
      const app = h.tokens.clientCredentials({ clientId: "bridge", clientSecret: "s", resource: WEBHOOKS_AUDIENCE }).accessToken;
      const res = await h.api("GET", "/webhooks/v1/registration", undefined, { authorization: `Bearer ${app}` });
      expect(res.status).not.toBe(401);
    });

    it("refuses an expired token", async () => {
      h.tokens.setAccessTokenLifetime(-60);
      const expired = h.tokens.issueUserAccessToken(SELLER, REFERRALS_AUDIENCE).accessToken;
      h.tokens.setAccessTokenLifetime(3600);
      const res = await h.api<ErrorBody>("GET", "/v1.0/engagements/referrals", undefined, { authorization: `Bearer ${expired}` });
      expect(res.status).toBe(401);
      expectErrorBody(res.body, "Unauthorized", /expired/);
    });

    it("echoes MS-RequestId and MS-CorrelationId and records X-Caller-Id on the change", async () => {
      const commits: CommitEvent[] = [];
      h.pc.events.on("commit", (c: CommitEvent) => commits.push(c));
      const res = await h.api("POST", "/v1.0/engagements/referrals", privateDeal(), {
        "MS-RequestId": "0b7e1c2a-0000-4000-8000-000000000001",
        "MS-CorrelationId": "0b7e1c2a-0000-4000-8000-000000000002",
        "X-Caller-Id": "60858c1b-2062-40ad-b42c-996b6b5b047d",
      });
      expect(res.headers.get("ms-requestid")).toBe("0b7e1c2a-0000-4000-8000-000000000001");
      expect(res.headers.get("ms-correlationid")).toBe("0b7e1c2a-0000-4000-8000-000000000002");
      expect(commits).toHaveLength(1);
      expect(commits[0]).toMatchObject({ eventName: "referral-created", actor: "partner", callerId: "60858c1b-2062-40ad-b42c-996b6b5b047d" });
      const fresh = await h.api("GET", "/v1.0/engagements/referrals");
      expect(fresh.headers.get("ms-correlationid")).toMatch(GUID);
      h.pc.events.removeAllListeners("commit");
    });
  });

  describe("get by id", () => {
    it("returns the referral with @odata.context, matching ids case-insensitively", async () => {
      const r = await create();
      const res = await h.api<Json>("GET", `/v1.0/engagements/referrals/${r.id.toUpperCase()}`);
      expect(res.status).toBe(200);
      expect(res.body["@odata.context"]).toBe(`${h.pc.url}/v1.0/$metadata#Referrals/$entity`);
      expect(res.body.id).toBe(r.id);
    });

    it("answers 404 with the error body for an unknown id, and for an unknown route", async () => {
      const res = await h.api<ErrorBody>("GET", "/v1.0/engagements/referrals/00000000-0000-4000-8000-000000000000");
      expect(res.status).toBe(404);
      expectErrorBody(res.body, "NotFound", /not found/);
      const route = await h.api<ErrorBody>("DELETE", "/v1.0/engagements/referrals/00000000-0000-4000-8000-000000000000");
      expect(route.status).toBe(404);
      expectErrorBody(route.body, "NotFound");
    });
  });

  describe("list ($filter, $orderby, $top, $select, $count, paging)", () => {
    let outgoingShared: Referral;
    let incomingUs: Referral;
    let incomingAu: Referral;
    let privateUs: Referral;
    const seed = async () => {
      outgoingShared = await create({
        ...sharedReferral(),
        status: "Active",
        substatus: "Accepted",
        team: [{ firstName: "R2", lastName: "D2", email: "r2d2@contoso.com", phoneNumber: "1" }],
      });
      incomingUs = await createInbound({ ...inbound(), customerProfile: { ...(inbound().customerProfile as Json), address: { country: "US" } } });
      incomingAu = await createInbound({ ...inbound(), qualification: "MarketingQualified", status: "New", substatus: "Received" });
      privateUs = await create();
    };

    it.each<[number, () => string[]]>([
      [0, () => [outgoingShared.id]],
      [1, () => [incomingUs.id]],
      [2, () => [incomingUs.id]],
      [3, () => [incomingUs.id, incomingAu.id]],
      [4, () => [incomingUs.id]],
      [5, () => [outgoingShared.id]],
    ])("documented filter example %d selects the right referrals", async (index, expected) => {
      await seed();
      const filter = (fixture<string[]>("list-filters.json")[index] as string).replace("ENGAGEMENT", outgoingShared.engagementId);
      const res = await h.api<Page>("GET", `/v1.0/engagements/referrals?$filter=${encodeURIComponent(filter)}`);
      expect(res.status).toBe(200);
      expect(res.body["@odata.context"]).toBe(`${h.pc.url}/v1.0/$metadata#Referrals`);
      expect(res.body.value.map((r) => r.id).sort()).toEqual(expected().sort());
    });

    it("orders by createdDateTime and updatedDateTime both ways", async () => {
      await seed();
      await h.api("PATCH", `/v1.0/engagements/referrals/${incomingUs.id}`, [{ op: "replace", path: "/details/notes", value: "touched" }]);
      const ids = async (orderby: string) =>
        (await h.api<Page>("GET", `/v1.0/engagements/referrals?$orderby=${encodeURIComponent(orderby)}&$top=10`)).body.value.map((r) => r.id);
      const byCreation = [outgoingShared.id, incomingUs.id, incomingAu.id, privateUs.id];
      expect(await ids("createdDateTime")).toEqual(byCreation);
      expect(await ids("createdDateTime desc")).toEqual([...byCreation].reverse());
      expect(await ids("updatedDateTime asc")).toEqual([outgoingShared.id, incomingAu.id, privateUs.id, incomingUs.id]);
      expect(await ids("UpdatedDateTime DESC")).toEqual([incomingUs.id, privateUs.id, incomingAu.id, outgoingShared.id]);
    });

    it("applies $select, $count and $top", async () => {
      await seed();
      const res = await h.api<Page>("GET", "/v1.0/engagements/referrals?$select=id,status,customerProfile/address/country&$count=true&$top=2&$filter=direction eq 'Incoming'");
      expect(res.body["@odata.count"]).toBe(2);
      expect(res.body.value).toEqual([
        { id: incomingUs.id, status: "New", customerProfile: { address: { country: "US" } } },
        { id: incomingAu.id, status: "New", customerProfile: { address: { country: "AU" } } },
      ]);
      expect(res.body["@odata.nextLink"]).toBeUndefined();
      const none = await h.api<Page>("GET", "/v1.0/engagements/referrals?$top=0&$count=true");
      expect(none.body).toMatchObject({ "@odata.count": 4, value: [] });
    });

    it.each([
      ["$orderby=name", /cannot be sorted on/],
      ["$orderby=createdDateTime sideways", /Invalid \$orderby/],
      ["$filter=status eq", /Invalid \$filter: Syntax error at position 9/],
      ["$filter=colour eq 'blue'", /could not find a property named 'colour'/],
      ["$filter=team/email eq 'x'", /is a collection; use team\/any/],
      ["$filter=status/any(s:s eq 'x')", /not a collection/],
      ["$filter=Microsoft.Dynamics.CRM.In(PropertyName='status',PropertyValues=['New'])", /Dataverse function/],
      ["$select=id,colour", /colour/],
      ["$top=-1", /not a non-negative integer/],
      ["$top=many", /not a non-negative integer/],
      ["$count=maybe", /Invalid \$count/],
      ["$expand=team", /\$expand' is not supported/],
      ["$search=x", /'\$search' is not supported/],
      ["$top=1&$top=2", /more than once/],
      ["$skiptoken=forged.token", /Invalid \$skiptoken/],
    ])("refuses %s with 400", async (query, message) => {
      const res = await h.api<ErrorBody>("GET", `/v1.0/engagements/referrals?${query.replace(/ /g, "%20").replace(/'/g, "%27")}`);
      expect(res.status).toBe(400);
      expectErrorBody(res.body, "BadRequest", message);
    });

    it("accepts property names in any case in $filter and $select", async () => {
      await seed();
      const res = await h.api<Page>("GET", `/v1.0/engagements/referrals?$filter=${encodeURIComponent("CustomerProfile/Address/Country eq 'AU'")}&$select=ID,Status`);
      expect(res.body.value).toEqual([{ id: incomingAu.id, status: "New" }]);
    });

    it("pages with an absolute nextLink whose opaque keyset token is stable under concurrent inserts", async () => {
      const originals: string[] = [];
      for (let i = 0; i < 12; i++) originals.push((await create({ ...privateDeal(), name: `deal ${i}` })).id);
      const seen: string[] = [];
      let url: string | undefined = "/v1.0/engagements/referrals?$orderby=createdDateTime asc&$count=true";
      const inserted: string[] = [];
      let pages = 0;
      while (url) {
        const res: { status: number; body: Page } = await h.api<Page>("GET", url);
        expect(res.status).toBe(200);
        pages++;
        expect(res.body.value.length).toBeLessThanOrEqual(5);
        seen.push(...res.body.value.map((r) => r.id));
        url = res.body["@odata.nextLink"];
        if (url) {
          expect(url.startsWith(`${h.pc.url}/v1.0/engagements/referrals?$skiptoken=`)).toBe(true);
          expect(url).not.toMatch(/\$skip=/); // keyset, not offsets
          // inserts between pages land after the cursor and are still seen exactly once
          inserted.push((await create({ ...privateDeal(), name: `late ${pages}` })).id);
        }
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.slice(0, 12)).toEqual(originals);
      expect(seen.slice(12)).toEqual(inserted.slice(0, seen.length - 12));
      expect(pages).toBeGreaterThan(2);
    });

    it("descending pages never repeat or skip a row when newer rows arrive between pages", async () => {
      const originals: string[] = [];
      for (let i = 0; i < 11; i++) originals.push((await create({ ...privateDeal(), name: `deal ${i}` })).id);
      const seen: string[] = [];
      let url: string | undefined = "/v1.0/engagements/referrals?$orderby=createdDateTime desc";
      while (url) {
        const res: { body: Page } = await h.api<Page>("GET", url);
        seen.push(...res.body.value.map((r) => r.id));
        url = res.body["@odata.nextLink"];
        await create({ ...privateDeal(), name: "newer" });
      }
      expect(seen).toEqual([...originals].reverse());
    });

    it("carries $filter, $select and the remaining $top in the token", async () => {
      for (let i = 0; i < 9; i++) await create({ ...privateDeal(), name: `deal ${i}`, externalReferenceId: i % 2 === 0 ? "even" : "odd" });
      const first = await h.api<Page>("GET", `/v1.0/engagements/referrals?$filter=${encodeURIComponent("externalReferenceId eq 'even'")}&$select=name&$top=7`);
      expect(first.body.value).toEqual(["deal 0", "deal 2", "deal 4", "deal 6", "deal 8"].map((name) => ({ name })));
      expect(first.body["@odata.nextLink"]).toBeUndefined(); // only 5 match
      const capped = await h.api<Page>("GET", "/v1.0/engagements/referrals?$select=name&$top=7");
      expect(capped.body.value).toHaveLength(5);
      const second = await h.api<Page>("GET", capped.body["@odata.nextLink"] as string);
      expect(second.body.value).toEqual([{ name: "deal 5" }, { name: "deal 6" }]);
      expect(second.body["@odata.nextLink"]).toBeUndefined();
    });

    it("serves the documented nextLink sample path (/v1.0/referrals) too", async () => {
      for (let i = 0; i < 6; i++) await create();
      const first = await h.api<Page>("GET", "/v1.0/engagements/referrals");
      const token = new URL(first.body["@odata.nextLink"] as string).searchParams.get("$skiptoken") as string;
      const alias = await h.api<Page>("GET", `/v1.0/referrals?$skiptoken=${encodeURIComponent(token)}`);
      expect(alias.status).toBe(200);
      expect(alias.body.value).toHaveLength(1);
    });

    it("$skip skips matching rows on the first page", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await create()).id);
      const res = await h.api<Page>("GET", "/v1.0/engagements/referrals?$skip=3");
      expect(res.body.value.map((r) => r.id)).toEqual([ids[3]]);
    });
  });

  describe("update (PATCH with JSON Patch)", () => {
    it("applies the documented sample with Prefer: return=representation", async () => {
      const r = await create();
      const res = await h.api<Referral>("PATCH", `/v1.0/engagements/referrals/${r.id}`, fixture("patch-documented-sample.json"), {
        prefer: "return=representation",
        "content-type": "application/json-patch+json",
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "Closed", substatus: "Won", details: { dealValue: 10000, notes: "Lorem ipsum dolor sit amet." } });
      expect(res.body.team.map((m) => m.email)).toEqual(["", "jane.doe@contoso.com"]);
      expect(res.body.team[1]).toEqual({ email: "jane.doe@contoso.com", firstName: "Jane", lastName: "Doe", phoneNumber: "0000000001", contactPreference: null });
      expect(res.body.eTag).not.toBe(r.eTag);
      expect(Date.parse(res.body.updatedDateTime)).toBeGreaterThanOrEqual(Date.parse(r.updatedDateTime));
      expect(res.body.updatedDateTime).not.toBe(r.updatedDateTime);
    });

    it("answers 204 without Prefer, and the change is visible on GET", async () => {
      const r = await create();
      const res = await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: "/details/notes", value: "no body" }]);
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
      expect((await get(r.id)).details.notes).toBe("no body");
    });

    it("honours If-Match: current and * succeed, stale is 412, absent means no check", async () => {
      const r = await create();
      const op = (v: string) => [{ op: "replace", path: "/details/notes", value: v }];
      const ok = await h.api<Referral>("PATCH", `/v1.0/engagements/referrals/${r.id}`, op("1"), { "if-match": r.eTag, prefer: "return=representation" });
      expect(ok.status).toBe(200);
      const stale = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, op("2"), { "if-match": r.eTag });
      expect(stale.status).toBe(412);
      expectErrorBody(stale.body, "PreconditionFailed", /eTag/);
      expect((await get(r.id)).details.notes).toBe("1");
      const unquoted = await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, op("3"), { "if-match": ok.body.eTag.slice(1, -1) });
      expect(unquoted.status).toBe(204);
      expect((await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, op("4"), { "if-match": "*" })).status).toBe(204);
      expect((await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, op("5"))).status).toBe(204);
      expect((await get(r.id)).details.notes).toBe("5");
    });

    it("lets exactly one of two concurrent writers with the same If-Match win", async () => {
      const r = await create();
      const results = await Promise.all(
        ["a", "b", "c", "d"].map((v) => h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: "/details/notes", value: v }], { "if-match": r.eTag })),
      );
      expect(results.map((x) => x.status).sort()).toEqual([204, 412, 412, 412]);
    });

    it("bumps eTag and updatedDateTime even when the patch changes nothing (documented choice)", async () => {
      const r = await create();
      const res = await h.api<Referral>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: "/name", value: r.name }], { prefer: "return=representation" });
      expect(res.body.name).toBe(r.name);
      expect(res.body.eTag).not.toBe(r.eTag);
      expect(res.body.updatedDateTime).not.toBe(r.updatedDateTime);
    });

    it("binds paths case-insensitively and values to the property's type", async () => {
      const r = await create();
      const res = await h.api<Referral>(
        "PATCH",
        `/v1.0/engagements/referrals/${r.id}`,
        [
          { op: "replace", path: "/Details/DealValue", value: "77.5" },
          { op: "add", path: "/details/requirements/solutions/-", value: { Id: "SOL-1", Type: "name" } },
          { op: "replace", path: "/externalReferenceId", value: "opp-1" },
          { op: "replace", path: "/details/additionalRequirements/anything/goes", value: 1 },
        ],
        { prefer: "return=representation" },
      );
      expect(res.status).toBe(400); // additionalRequirements/anything does not exist yet: replace needs a target
      const ok = await h.api<Referral>(
        "PATCH",
        `/v1.0/engagements/referrals/${r.id}`,
        [
          { op: "replace", path: "/Details/DealValue", value: "77.5" },
          { op: "add", path: "/details/requirements/solutions/-", value: { Id: "SOL-1", Type: "name" } },
          { op: "replace", path: "/externalReferenceId", value: "opp-1" },
          { op: "add", path: "/details/additionalRequirements/anything", value: { goes: 1 } },
        ],
        { prefer: "return=representation" },
      );
      expect(ok.status).toBe(200);
      expect(ok.body.details.dealValue).toBe(77.5);
      expect(ok.body.details.requirements.solutions[1]).toEqual({ id: "SOL-1", name: null, type: "Name", publisherName: null, solutionType: null });
      expect(ok.body.externalReferenceId).toBe("opp-1");
      expect((ok.body.details.additionalRequirements as Json).anything).toEqual({ goes: 1 });
      // the external reference index follows the change
      const found = await h.api<Page>("GET", `/v1.0/engagements/referrals?$filter=${encodeURIComponent("externalReferenceId eq 'opp-1'")}`);
      expect(found.body.value.map((x) => x.id)).toEqual([r.id]);
    });

    it.each([
      ["remove", { op: "remove", path: "/details/notes" }, /op 'remove' is not supported/],
      ["move", { op: "move", from: "/name", path: "/details/notes" }, /op 'move' is not supported/],
      ["copy", { op: "copy", from: "/name", path: "/details/notes" }, /op 'copy' is not supported/],
      ["test", { op: "test", path: "/name", value: "x" }, /op 'test' is not supported/],
      ["upper-case op", { op: "REPLACE", path: "/name", value: "x" }, /op 'REPLACE' is not supported/],
      ["no value", { op: "replace", path: "/name" }, /needs a value/],
      ["no path", { op: "replace", value: "x" }, /JSON Pointer/],
      ["unknown path", { op: "replace", path: "/colour", value: "x" }, /'colour' is unknown/],
      ["a path into a scalar", { op: "replace", path: "/name/first", value: "x" }, /not an object/],
      ["a bad array index", { op: "replace", path: "/team/first", value: {} }, /array index/],
      ["a value of the wrong type", { op: "replace", path: "/details/dealValue", value: "lots" }, /must be a number/],
      ["an index past the end", { op: "replace", path: "/team/5/email", value: "x" }, /cannot be applied/],
    ])("refuses a patch with %s", async (_name, op, message) => {
      const r = await create();
      const res = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [op]);
      expect(res.status).toBe(400);
      expectErrorBody(res.body, "BadRequest", message);
    });

    it.each(["id", "engagementId", "eTag", "createdDateTime", "updatedDateTime", "organizationId", "organizationName", "direction", "links", "acceptedDateTime", "expirationDateTime"])(
      "refuses to change the server-owned field %s",
      async (field) => {
        const r = await create();
        const res = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: `/${field}`, value: "x" }]);
        expect(res.status).toBe(400);
        expectErrorBody(res.body, "BadRequest", new RegExp(`'${field}' is set by Partner Center`));
      },
    );

    it.each([
      ["not an array", { op: "replace", path: "/name", value: "x" }],
      ["an empty array", []],
      ["an array of non-objects", ["replace"]],
    ])("refuses a body that is %s", async (_name, body) => {
      const r = await create();
      const res = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, body);
      expect(res.status).toBe(400);
      expectErrorBody(res.body, "BadRequest");
    });

    it("is all or nothing: a failing later operation leaves the referral untouched", async () => {
      const r = await create();
      const res = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [
        { op: "replace", path: "/details/dealValue", value: 1 },
        { op: "replace", path: "/status", value: "New" }, // Active → New is not allowed
      ]);
      expect(res.status).toBe(400);
      expectErrorBody(res.body, "BadRequest", /status cannot change from 'Active' to 'New'/);
      const after = await get(r.id);
      expect(after.details.dealValue).toBe(50000);
      expect(after.eTag).toBe(r.eTag);
      const failingApply = await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, [
        { op: "replace", path: "/details/dealValue", value: 2 },
        { op: "replace", path: "/team/9/email", value: "x" },
      ]);
      expect(failingApply.status).toBe(400);
      expect((await get(r.id)).details.dealValue).toBe(50000);
    });

    it.each([
      ["Won", "Closed", "Won"],
      ["Lost", "Closed", "Lost"],
      ["Declined", "Closed", "Declined"],
    ])("makes a referral closed as %s read-only", async (_name, status, substatus) => {
      const r = await create();
      const close = await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, [
        { op: "replace", path: "/status", value: status },
        { op: "replace", path: "/substatus", value: substatus },
        { op: "replace", path: "/statusReason", value: "why" },
      ]);
      expect(close.status).toBe(204);
      const res = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: "/details/notes", value: "late" }]);
      expect(res.status).toBe(400);
      expectErrorBody(res.body, "BadRequest", new RegExp(`${status}/${substatus}, a terminal state`));
    });

    it("never lets consent to share with Microsoft sellers go back to false, nor Shared back to Independent", async () => {
      const r = await create(sharedReferral());
      const consent = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [
        { op: "replace", path: "/consent/consentToShareReferralWithMicrosoftSellers", value: false },
      ]);
      expect(consent.status).toBe(400);
      expectErrorBody(consent.body, "BadRequest", /cannot go back to false/);
      const type = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: "/type", value: "Independent" }]);
      expect(type.status).toBe(400);
      const upgrade = await h.api<Referral>("PATCH", `/v1.0/engagements/referrals/${(await create()).id}`, [{ op: "replace", path: "/type", value: "Shared" }], {
        prefer: "return=representation",
      });
      expect(upgrade.body.type).toBe("Shared"); // a private deal can be upgraded
    });

    it("sets acceptedDateTime when an incoming referral is accepted", async () => {
      const r = await createInbound();
      expect(r).toMatchObject({ direction: "Incoming", status: "New", substatus: "Pending", acceptedDateTime: null });
      const res = await h.api<Referral>(
        "PATCH",
        `/v1.0/engagements/referrals/${r.id}`,
        [
          { op: "replace", path: "/status", value: "Active" },
          { op: "replace", path: "/substatus", value: "Accepted" },
        ],
        { prefer: "return=representation" },
      );
      expect(res.body.acceptedDateTime).toBe(res.body.updatedDateTime);
    });

    // Spec §2.8, written out here independently of the emulator's table.
    const FROM: [string, string][] = [
      ["New", "Pending"],
      ["New", "Received"],
      ["Active", "Accepted"],
    ];
    const ALLOWED: Record<string, string[]> = {
      "New/Pending": ["New/Pending", "New/Received", "Active/Accepted", "Closed/Won", "Closed/Lost", "Closed/Declined", "Closed/Expired"],
      "New/Received": ["New/Pending", "New/Received", "Active/Accepted", "Closed/Won", "Closed/Lost", "Closed/Declined", "Closed/Expired"],
      "Active/Accepted": ["Active/Accepted", "Closed/Won", "Closed/Lost", "Closed/Declined", "Closed/Expired"],
    };
    const STATUSES = ["None", "New", "Active", "Closed"];
    const SUBSTATUSES = ["None", "Pending", "Received", "Accepted", "Won", "Lost", "Declined", "Expired"];
    const cases = FROM.flatMap(([fs, fsub]) =>
      STATUSES.flatMap((ts) => SUBSTATUSES.map((tsub): [string, string, string, string, boolean] => [fs, fsub, ts, tsub, ALLOWED[`${fs}/${fsub}`]?.includes(`${ts}/${tsub}`) ?? false])),
    );
    it.each(cases)("transition %s/%s → %s/%s allowed: %p", async (fs, fsub, ts, tsub, allowed) => {
      const r = await createInbound({ ...inbound(), status: fs, substatus: fsub });
      const res = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${r.id}`, [
        { op: "replace", path: "/status", value: ts },
        { op: "replace", path: "/substatus", value: tsub },
      ]);
      expect(res.status).toBe(allowed ? 204 : 400);
      if (!allowed) expectErrorBody(res.body, "BadRequest", /status|substatus/);
    });
  });

  describe("update (PUT, obsolete)", () => {
    it("replaces the whole referral with If-Match, keeping server fields, as the 2019 flow did on the ResourceUri path", async () => {
      const r = await create();
      const current = (await h.api<Referral & Json>("GET", `/engagements/v1/referrals/${r.id}`)).body;
      const res = await h.api<Referral>(
        "PUT",
        `/engagements/v1/referrals/${r.id}`,
        { ...current, externalReferenceId: "lead-42", createdDateTime: "2000-01-01T00:00:00Z", organizationId: "other" },
        { "if-match": current.eTag },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: r.id, externalReferenceId: "lead-42", createdDateTime: r.createdDateTime, organizationId: r.organizationId });
      expect(res.body.eTag).not.toBe(r.eTag);
    });

    it("requires If-Match (428), refuses a stale one (412) and a mismatched id (400)", async () => {
      const r = await create();
      const body = await get(r.id);
      const missing = await h.api<ErrorBody>("PUT", `/v1.0/engagements/referrals/${r.id}`, body);
      expect(missing.status).toBe(428);
      expectErrorBody(missing.body, "PreconditionRequired", /If-Match/);
      await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: "/name", value: "changed" }]);
      const stale = await h.api<ErrorBody>("PUT", `/v1.0/engagements/referrals/${r.id}`, body, { "if-match": r.eTag });
      expect(stale.status).toBe(412);
      const fresh = await get(r.id);
      const wrongId = await h.api<ErrorBody>("PUT", `/v1.0/engagements/referrals/${r.id}`, { ...fresh, id: "00000000-0000-4000-8000-000000000000" }, { "if-match": fresh.eTag });
      expect(wrongId.status).toBe(400);
      expectErrorBody(wrongId.body, "BadRequest", /does not match/);
    });
  });
});

// The JSON schema Microsoft's own 2019 flow used to parse a referral read from the API.
const REPO_ROOT = path.resolve(__dirname, "../..");
const SCHEMA_PATH = path.resolve(REPO_ROOT, "../shared/fixtures/partner-center/referral-schema-from-microsoft-flow-2019.json");
const FLOW_SCHEMA = sharedFile("fixtures/partner-center/referral-schema-from-microsoft-flow-2019.json");
const describeWithSchema = describeWith("sandbox/test/partner-center.referrals (Microsoft-flow schema)", [FLOW_SCHEMA]);

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  required?: string[];
}

/** The subset of JSON Schema that file uses: type (one or several), properties, items, required. */
function schemaErrors(value: unknown, schema: JsonSchema, at = "$", requireListed = true): string[] {
  const errors: string[] = [];
  const typeOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v);
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = typeOf(value);
    if (!allowed.includes(t) && !(t === "integer" && allowed.includes("number"))) errors.push(`${at}: ${t} is not ${allowed.join("|")}`);
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}.${r}: required`);
    for (const [k, sub] of Object.entries(schema.properties ?? {})) {
      const key = k === "@@odata.context" ? "@odata.context" : k; // Power Automate escapes a leading @
      if (!(key in obj)) {
        if (requireListed) errors.push(`${at}.${key}: missing (the real API returned it)`);
        continue;
      }
      errors.push(...schemaErrors(obj[key], sub, `${at}.${key}`, requireListed));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => errors.push(...schemaErrors(item, schema.items as JsonSchema, `${at}[${i}]`, requireListed)));
  return errors;
}

describeWithSchema("Partner Center emulator: output validates against the schema Microsoft's flow parsed", () => {
  let h: Harness;
  const schema = FLOW_SCHEMA.present() ? (JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as JsonSchema) : {};
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it("the checker catches a wrong referral (so the passes below mean something)", () => {
    expect(schemaErrors({ id: 1, team: [{ email: "x" }] }, schema)).toEqual(
      expect.arrayContaining(["$.id: integer is not string", "$.team[0].firstName: required", "$.engagementId: missing (the real API returned it)"]),
    );
  });

  it("every kind of referral the emulator returns fits, with every property the schema lists present", async () => {
    const own = (await h.api<Referral>("POST", "/v1.0/engagements/referrals", fixture("create-shared-referral.json"))).body;
    const incoming = (await (await fetch(`${h.pc.url}/_emulator/inbound-referrals`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(fixture("inbound-co-sell.json")) })).json()) as Referral;
    const microsofts = (await (
      await fetch(`${h.pc.url}/_emulator/referrals/${own.id}/microsoft-response`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ decision: "accept", microsoftSeller: { firstName: "Megan", lastName: "Bowen", email: "megan@microsoft.example" }, microsoftCrmId: "7-ABC" }),
      })
    ).json()) as Referral;
    for (const r of [own, incoming, microsofts]) {
      const single = await h.api<Json>("GET", `/v1.0/engagements/referrals/${r.id}`);
      expect(schemaErrors(single.body, schema)).toEqual([]);
    }
    const list = await h.api<Page>("GET", "/v1.0/engagements/referrals");
    expect(list.body.value).toHaveLength(3);
    for (const item of list.body.value) expect(schemaErrors(item, schema, "$", true).filter((e) => !e.includes("@odata.context"))).toEqual([]);
  });
});

describe("token audiences", () => {
  it("uses distinct audiences for the two hosts", () => {
    expect(REFERRALS_AUDIENCE).toBe("https://api.partner.microsoft.com");
    expect(WEBHOOKS_AUDIENCE).toBe("https://api.partnercenter.microsoft.com");
  });
});
