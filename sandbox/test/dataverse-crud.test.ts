/**
 * Dataverse emulator: authentication, create/retrieve/update/delete, column validation errors,
 * optimistic concurrency (If-Match / If-None-Match), upsert by id and by alternate key, lookups.
 * Expected bodies are written from specs/dataverse.md §4 and §7.9.
 */
import { randomUUID } from "node:crypto";
import { LeadColumn, OpportunityColumn, SyncState } from "@cosell/contract";
import { entityIdOf, startHarness, type Harness } from "./fixtures/dataverse/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.dv.provisionContract();
});
afterAll(() => h.close());

async function createAccount(name = "Contoso"): Promise<string> {
  const res = await h.api("POST", "accounts", { body: { name } });
  expect(res.status).toBe(204);
  return entityIdOf(res);
}

describe("authentication and callers", () => {
  it("answers 401 with a WWW-Authenticate challenge without a bearer token", async () => {
    const res = await h.api("GET", "WhoAmI", { token: null });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("resource_id=https://org.crm.dynamics.com/");
  });

  it("refuses a token issued for another resource", async () => {
    const other = h.tokens.issueUserAccessToken(
      { objectId: h.dv.seededIds.sellerObjectId, userPrincipalName: "s@x", displayName: "s", tenantId: "t" },
      "https://other.crm.dynamics.com",
    ).accessToken;
    expect((await h.api("GET", "WhoAmI", { token: other })).status).toBe(401);
  });

  it("refuses an application with no application user (403, not a member)", async () => {
    const res = await h.api("GET", "WhoAmI", { token: h.appToken(randomUUID()) });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: { code: "0x80072560", message: "The user is not a member of the organization." } });
  });

  it("maps an app token to its application user and a user token to the user by object id", async () => {
    const app = await h.api("GET", "WhoAmI");
    expect(app.json).toMatchObject({ UserId: h.appUserId, OrganizationId: h.dv.seededIds.organizationId });
    const seller = await h.api("GET", "WhoAmI", { token: h.userToken(h.dv.seededIds.sellerObjectId) });
    expect(seller.json.UserId).toBe(h.dv.seededIds.sellerUserId);
  });

  it("stamps createdby/modifiedby with the caller", async () => {
    const seller = h.userToken(h.dv.seededIds.sellerObjectId);
    const created = await h.api("POST", "accounts?$select=_createdby_value,_modifiedby_value,_ownerid_value", {
      body: { name: "Seller's account" },
      token: seller,
      headers: { Prefer: "return=representation" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      _createdby_value: h.dv.seededIds.sellerUserId,
      _modifiedby_value: h.dv.seededIds.sellerUserId,
      _ownerid_value: h.dv.seededIds.sellerUserId,
    });
    const id = created.json.accountid as string;
    await h.api("PATCH", `accounts(${id})`, { body: { telephone1: "555" } });
    const after = await h.api("GET", `accounts(${id})?$select=_createdby_value,_modifiedby_value`);
    expect(after.json).toMatchObject({ _createdby_value: h.dv.seededIds.sellerUserId, _modifiedby_value: h.appUserId });
  });
});

describe("create and retrieve", () => {
  it("answers 204 with OData-EntityId, OData-Version and a retrievable row with an etag", async () => {
    const res = await h.api("POST", "accounts", { body: { name: "Fabrikam", address1_country: "US" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("odata-version")).toBe("4.0");
    const id = entityIdOf(res);
    expect(res.headers.get("odata-entityid")).toBe(`${h.dv.apiUrl}/accounts(${id})`);
    const got = await h.api("GET", `accounts(${id})?$select=name,address1_country`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual({
      "@odata.context": `${h.dv.apiUrl}/$metadata#accounts(name,address1_country)/$entity`,
      "@odata.etag": expect.stringMatching(/^W\/"\d+"$/),
      name: "Fabrikam",
      address1_country: "US",
      accountid: id,
    });
  });

  it("returns 201 and the row with Prefer: return=representation", async () => {
    const res = await h.api("POST", "contacts?$select=firstname,lastname,fullname", {
      body: { firstname: "Ada", lastname: "Lovelace" },
      headers: { Prefer: "return=representation" },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ firstname: "Ada", lastname: "Lovelace", fullname: "Ada Lovelace" });
    expect(res.headers.get("preference-applied")).toBe("return=representation");
  });

  it("keeps a DateOnly column as YYYY-MM-DD and money as a number, with formatted values on request", async () => {
    const acc = await createAccount("Northwind");
    const res = await h.api(
      "POST",
      "opportunities?$select=name,estimatedvalue,estimatedclosedate,statecode,statuscode,_customerid_value,_transactioncurrencyid_value",
      {
        body: {
          name: "Big deal",
          estimatedvalue: 1234.5,
          estimatedclosedate: "2026-03-31",
          "customerid_account@odata.bind": `/accounts(${acc})`,
          "transactioncurrencyid@odata.bind": `/transactioncurrencies(${h.dv.seededIds.eurCurrencyId})`,
        },
        headers: { Prefer: 'return=representation,odata.include-annotations="*"' },
      },
    );
    expect(res.status).toBe(201);
    const f = "@OData.Community.Display.V1.FormattedValue";
    expect(res.json).toMatchObject({
      name: "Big deal",
      estimatedvalue: 1234.5,
      [`estimatedvalue${f}`]: "€1,234.50",
      estimatedclosedate: "2026-03-31",
      [`estimatedclosedate${f}`]: "3/31/2026",
      statecode: 0,
      [`statecode${f}`]: "Open",
      statuscode: 1,
      [`statuscode${f}`]: "In Progress",
      _customerid_value: acc,
      [`_customerid_value${f}`]: "Northwind",
      "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
      "_customerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "customerid_account",
      _transactioncurrencyid_value: h.dv.seededIds.eurCurrencyId,
    });
  });

  it("defaults the currency to the base currency (USD) and computes the _base amount", async () => {
    const res = await h.api("POST", "opportunities?$select=estimatedvalue,estimatedvalue_base,_transactioncurrencyid_value,exchangerate", {
      body: { name: "USD deal", estimatedvalue: 100 },
      headers: { Prefer: "return=representation" },
    });
    expect(res.json).toMatchObject({
      _transactioncurrencyid_value: h.dv.seededIds.usdCurrencyId,
      exchangerate: 1,
      estimatedvalue_base: 100,
    });
  });

  it("returns every readable column without $select, never a write-only one", async () => {
    const ep = await h.api("POST", "serviceendpoints", {
      body: { name: "e", url: "http://127.0.0.1:1/x", contract: 8, connectionmode: 1, userclaim: 1, authtype: 5, authvalue: '<settings><setting name="k" value="v"/></settings>' },
    });
    const got = await h.api("GET", `serviceendpoints(${entityIdOf(ep)})`);
    expect(got.json).toHaveProperty("url", "http://127.0.0.1:1/x");
    expect(got.json).not.toHaveProperty("authvalue");
    const sel = await h.api("GET", `serviceendpoints(${entityIdOf(ep)})?$select=authvalue`);
    expect(sel.status).toBe(400);
  });

  it("answers 304 to If-None-Match with the current etag", async () => {
    const id = await createAccount("Cached");
    const first = await h.api("GET", `accounts(${id})?$select=name`);
    const again = await h.api("GET", `accounts(${id})?$select=name`, { headers: { "If-None-Match": first.json["@odata.etag"] } });
    expect(again.status).toBe(304);
  });

  it("keeps empty text as null, as Dataverse does", async () => {
    const res = await h.api("POST", "accounts?$select=name,telephone1", { body: { name: "Empty phone", telephone1: "" }, headers: { Prefer: "return=representation" } });
    expect(res.json.telephone1).toBeNull();
  });

  it("reads, writes and clears a single property", async () => {
    const id = await createAccount("Props");
    expect((await h.api("GET", `accounts(${id})/name`)).json).toMatchObject({ value: "Props" });
    expect((await h.api("PUT", `accounts(${id})/telephone1`, { body: { value: "123" } })).status).toBe(204);
    expect((await h.api("GET", `accounts(${id})/telephone1`)).json.value).toBe("123");
    expect((await h.api("DELETE", `accounts(${id})/telephone1`)).status).toBe(204);
    expect((await h.api("GET", `accounts(${id})/telephone1`)).status).toBe(204);
  });
});

describe("errors (spec §7.9)", () => {
  it("unknown column in $select: 400 0x80060888", async () => {
    const res = await h.api("GET", "accounts?$select=Name");
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: { code: "0x80060888", message: "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'." },
    });
  });

  it("unknown column in a body: 400 0x80048d19 with the OData reader's message", async () => {
    const res = await h.api("POST", "accounts", { body: { name: "x", x: 1 } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("0x80048d19");
    expect(res.json.error.message).toMatch(
      /^Error identified in Payload provided by the user for Entity :'accounts'.*The property 'x' does not exist on type 'Microsoft\.Dynamics\.CRM\.account'\./,
    );
  });

  it("unknown navigation property in @odata.bind: 400 0x80048d19", async () => {
    const res = await h.api("POST", "contacts", { body: { lastname: "x", "parentcustomerid@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)" } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("0x80048d19");
    expect(res.json.error.message).toContain("An undeclared property 'parentcustomerid' which only has property annotations");
  });

  it("a bind to a missing row: 404 0x80040217", async () => {
    const res = await h.api("POST", "contacts", { body: { lastname: "x", "parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)" } });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("0x80040217");
  });

  it("writing _x_value directly is refused", async () => {
    const res = await h.api("POST", "contacts", { body: { lastname: "x", _parentcustomerid_value: randomUUID() } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain("Use Navigation properties");
  });

  it("unknown entity set: 404 0x8006088a", async () => {
    const res = await h.api("GET", "Account");
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: { code: "0x8006088a", message: "Resource not found for the segment 'Account'." } });
  });

  it("missing row: 404 0x80040217", async () => {
    const id = "00000000-0000-0000-0000-000000000001";
    const res = await h.api("GET", `accounts(${id})`);
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: { code: "0x80040217", message: `Entity 'account' With Id = ${id} Does Not Exist` } });
  });

  it("a POST to a function answers 404 'No HTTP resource'", async () => {
    const res = await h.api("POST", "WhoAmI", { body: {} });
    expect(res.status).toBe(404);
    expect(res.json.error.message).toBe(`No HTTP resource was found that matches the request URI '${h.dv.apiUrl}/WhoAmI'.`);
  });

  it.each([
    ["a string over its max length", { name: "x".repeat(161) }, "0x80044331", "The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."],
    ["a number outside the column's range", { name: "x", numberofemployees: -1 }, "0x80044331", "The value of 'numberofemployees' on record of type 'account' is outside the valid range."],
    ["a choice value outside the option set", { name: "x", statuscode: 9 }, "0x8004431a", "The value 9 of 'statuscode' on record of type 'account' is outside the valid range. Accepted Values: 1,2"],
    ["a string where a number belongs", { name: "x", numberofemployees: "ten" }, "0x80048d19", "Cannot convert the literal 'ten' to the expected type 'Edm.Int32'."],
  ])("validates columns: %s", async (_what, body, code, fragment) => {
    const res = await h.api("POST", "accounts", { body });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(code);
    expect(res.json.error.message).toContain(fragment);
  });

  it("validates money ranges and DateOnly format", async () => {
    const money = await h.api("POST", "opportunities", { body: { name: "x", estimatedvalue: 1e13 } });
    expect(money.status).toBe(400);
    expect(money.json.error.message).toContain("'estimatedvalue' on record of type 'opportunity' is outside the valid range");
    for (const bad of ["2026-02-30", "2026-03-01T00:00:00Z", "03/01/2026"]) {
      const res = await h.api("POST", "opportunities", { body: { name: "x", estimatedclosedate: bad } });
      expect(res.status).toBe(400);
      expect(res.json.error.message).toContain(`Cannot convert the literal '${bad}' to the expected type 'Edm.Date'.`);
    }
  });

  it("validates contract columns too (global choice values, text length)", async () => {
    const ok = await h.api("POST", "opportunities", { body: { name: "x", [OpportunityColumn.syncState]: SyncState.Pending } });
    expect(ok.status).toBe(204);
    const bad = await h.api("POST", "opportunities", { body: { name: "x", [OpportunityColumn.syncState]: 1 } });
    expect(bad.json.error.code).toBe("0x8004431a");
    const long = await h.api("POST", "opportunities", { body: { name: "x", [OpportunityColumn.referralId]: "r".repeat(101) } });
    expect(long.json.error.code).toBe("0x80044331");
  });

  it("keeps status reason and state consistent", async () => {
    const id = await createAccount("State");
    await h.api("PATCH", `accounts(${id})`, { body: { statuscode: 2 } });
    expect((await h.api("GET", `accounts(${id})?$select=statecode,statuscode`)).json).toMatchObject({ statecode: 1, statuscode: 2 });
    const bad = await h.api("PATCH", `accounts(${id})`, { body: { statecode: 0, statuscode: 2 } });
    expect(bad.status).toBe(400);
  });
});

describe("optimistic concurrency (spec §4.4)", () => {
  it("PATCH with a stale If-Match answers 412 with the exact Dataverse body", async () => {
    const id = await createAccount("Etag");
    const first = await h.api("GET", `accounts(${id})?$select=name`);
    const etag = first.json["@odata.etag"] as string;
    expect((await h.api("PATCH", `accounts(${id})`, { body: { name: "one" }, headers: { "If-Match": etag } })).status).toBe(204);
    const stale = await h.api("PATCH", `accounts(${id})`, { body: { name: "two" }, headers: { "If-Match": etag } });
    expect(stale.status).toBe(412);
    expect(stale.json).toEqual({
      error: { code: "0x80060882", message: "The version of the existing record doesn't match the RowVersion property provided." },
    });
    expect((await h.api("GET", `accounts(${id})/name`)).json.value).toBe("one");
    const del = await h.api("DELETE", `accounts(${id})`, { headers: { "If-Match": etag } });
    expect(del.status).toBe(412);
  });

  it("every write raises the row version", async () => {
    const id = await createAccount("Versions");
    const a = (await h.api("GET", `accounts(${id})?$select=versionnumber`)).json;
    await h.api("PATCH", `accounts(${id})`, { body: { name: "Versions" } });
    const b = (await h.api("GET", `accounts(${id})?$select=versionnumber`)).json;
    expect(b.versionnumber).toBeGreaterThan(a.versionnumber);
    expect(b["@odata.etag"]).toBe(`W/"${b.versionnumber}"`);
  });

  it("If-Match: * updates only: 404 when the row is missing, nothing created", async () => {
    const id = randomUUID();
    const res = await h.api("PATCH", `accounts(${id})`, { body: { name: "ghost" }, headers: { "If-Match": "*" } });
    expect(res.status).toBe(404);
    expect((await h.api("GET", `accounts(${id})`)).status).toBe(404);
  });

  it("If-None-Match: * creates only: 412 when the row exists", async () => {
    const id = await createAccount("Exists");
    const res = await h.api("PATCH", `accounts(${id})`, { body: { name: "again" }, headers: { "If-None-Match": "*" } });
    expect(res.status).toBe(412);
    expect(res.json).toEqual({ error: { code: "0x80040237", message: "A record with matching key values already exists." } });
  });

  it("DELETE removes the row and answers 404 the second time", async () => {
    const id = await createAccount("Doomed");
    expect((await h.api("DELETE", `accounts(${id})`)).status).toBe(204);
    expect((await h.api("DELETE", `accounts(${id})`)).status).toBe(404);
  });
});

describe("upsert and alternate keys (spec §4.5)", () => {
  it("PATCH to an unknown id creates the row with that id (201 with representation)", async () => {
    const id = randomUUID();
    const res = await h.api("PATCH", `accounts(${id})?$select=name`, { body: { name: "Upserted" }, headers: { Prefer: "return=representation" } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ accountid: id, name: "Upserted" });
    const again = await h.api("PATCH", `accounts(${id})?$select=name`, { body: { name: "Updated" }, headers: { Prefer: "return=representation" } });
    expect(again.status).toBe(200);
    expect(again.json.name).toBe("Updated");
  });

  it("upserts by the cosell_referralid key, with doubled quotes in the literal", async () => {
    const url = `opportunities(${OpportunityColumn.referralId}='O''Brien-1')`;
    const created = await h.api("PATCH", url, { body: { name: "From referral" } });
    expect(created.status).toBe(204);
    const id = entityIdOf(created);
    const got = await h.api("GET", `${url}?$select=name,${OpportunityColumn.referralId}`);
    expect(got.json).toMatchObject({ opportunityid: id, name: "From referral", [OpportunityColumn.referralId]: "O'Brien-1" });
    const updated = await h.api("PATCH", url, { body: { name: "Renamed" } });
    expect(entityIdOf(updated)).toBe(id);
    const rows = await h.api("GET", `opportunities?$filter=${OpportunityColumn.referralId} eq 'O''Brien-1'&$select=name`);
    expect(rows.json.value).toHaveLength(1);
    expect(rows.json.value[0].name).toBe("Renamed");
    // the key is case-insensitive, as Dataverse's collation is
    expect((await h.api("GET", `opportunities(${OpportunityColumn.referralId}='o''brien-1')?$select=name`)).status).toBe(200);
  });

  it("refuses a second row with the same alternate-key value", async () => {
    const key = `R-${randomUUID()}`;
    expect((await h.api("POST", "opportunities", { body: { name: "a", [OpportunityColumn.referralId]: key } })).status).toBe(204);
    const dup = await h.api("POST", "opportunities", { body: { name: "b", [OpportunityColumn.referralId]: key } });
    expect(dup.status).toBe(412);
    expect(dup.json.error.code).toBe("0x80060892");
  });

  it("key URLs with If-Match: * / If-None-Match: * behave like id URLs", async () => {
    const url = `leads(${LeadColumn.referralId}='L-${randomUUID()}')`;
    expect((await h.api("PATCH", url, { body: { lastname: "x" }, headers: { "If-Match": "*" } })).status).toBe(404);
    expect((await h.api("PATCH", url, { body: { lastname: "x" }, headers: { "If-None-Match": "*" } })).status).toBe(204);
    expect((await h.api("PATCH", url, { body: { lastname: "y" }, headers: { "If-None-Match": "*" } })).status).toBe(412);
  });

  it("supports multi-part keys and lookup keys", async () => {
    h.dv.schema.addKey("contact", {
      logicalName: "test_name_email",
      schemaName: "test_name_email",
      displayName: "name+email",
      attributes: ["firstname", "emailaddress1"],
      metadataId: randomUUID(),
    });
    const url = "contacts(firstname='Joe',emailaddress1='abc@example.com')";
    expect((await h.api("PATCH", url, { body: { lastname: "Smith" } })).status).toBe(204);
    const got = await h.api("GET", "contacts(emailaddress1='abc@example.com',firstname='Joe')?$select=fullname");
    expect(got.json.fullname).toBe("Joe Smith");
    const acc = await createAccount("Keyed by contact");
    h.dv.schema.addKey("account", {
      logicalName: "test_primarycontact",
      schemaName: "test_primarycontact",
      displayName: "primary contact",
      attributes: ["primarycontactid"],
      metadataId: randomUUID(),
    });
    await h.api("PATCH", `accounts(${acc})`, { body: { "primarycontactid@odata.bind": `/contacts(${got.json.contactid})` } });
    const byLookup = await h.api("GET", `accounts(_primarycontactid_value=${got.json.contactid})?$select=name`);
    expect(byLookup.json.name).toBe("Keyed by contact");
  });

  it("a key that is not an alternate key is refused; a missing key row answers 404", async () => {
    expect((await h.api("GET", "accounts(name='Contoso')")).status).toBe(400);
    const missing = await h.api("GET", `opportunities(${OpportunityColumn.referralId}='nope')`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("0x80040217");
  });

  it("binds lookups by key form too", async () => {
    const key = `K-${randomUUID()}`;
    await h.api("PATCH", `opportunities(${OpportunityColumn.referralId}='${key}')`, { body: { name: "keyed" } });
    const lead = await h.api("POST", "leads?$select=_qualifyingopportunityid_value", {
      body: { lastname: "L", "qualifyingopportunityid@odata.bind": `/opportunities(${OpportunityColumn.referralId}='${key}')` },
      headers: { Prefer: "return=representation" },
    });
    expect(lead.status).toBe(201);
    expect(lead.json._qualifyingopportunityid_value).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sets and clears lookups through $ref", async () => {
    const acc = await createAccount("Ref target");
    const c = entityIdOf(await h.api("POST", "contacts", { body: { lastname: "Ref" } }));
    expect((await h.api("PUT", `contacts(${c})/parentcustomerid_account/$ref`, { body: { "@odata.id": `${h.dv.apiUrl}/accounts(${acc})` } })).status).toBe(204);
    expect((await h.api("GET", `contacts(${c})?$select=_parentcustomerid_value`)).json._parentcustomerid_value).toBe(acc);
    expect((await h.api("DELETE", `contacts(${c})/parentcustomerid_account/$ref`)).status).toBe(204);
    expect((await h.api("GET", `contacts(${c})?$select=_parentcustomerid_value`)).json._parentcustomerid_value).toBeNull();
  });
});

describe("alternate key values a URL cannot carry (Work with alternate keys)", () => {
  it.each(["R/1", "R%1", "R+1", "R:1", "R&1", "R*1"])("refuses to address %p by its key, and finds it by $filter", async (value) => {
    const created = await h.api("POST", "opportunities", { body: { name: `keyed ${value}`, [OpportunityColumn.referralId]: value } });
    expect(created.status).toBe(204);
    const byKey = await h.api("GET", `opportunities(${OpportunityColumn.referralId}='${encodeURIComponent(value)}')?$select=name`);
    expect(byKey.status).toBe(400);
    const byFilter = await h.api("GET", `opportunities?$select=name&$filter=${encodeURIComponent(`${OpportunityColumn.referralId} eq '${value}'`)}`);
    expect(byFilter.json.value).toEqual([expect.objectContaining({ name: `keyed ${value}` })]);
  });
});
