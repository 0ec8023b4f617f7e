/**
 * Dataverse emulator: retrieve multiple — $filter (through the shared OData module), $orderby,
 * $top, $count, $expand, and paging with Prefer: odata.maxpagesize + @odata.nextLink (spec §4.3).
 */
import { randomUUID } from "node:crypto";
import { EnvironmentVariable, OpportunityColumn } from "@cosell/contract";
import { entityIdOf, startHarness, type Harness } from "./fixtures/dataverse/harness";

let h: Harness;
let contoso: string;
let fabrikam: string;
const tag = `q-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  h = await startHarness();
  h.dv.provisionContract();
  contoso = entityIdOf(await h.api("POST", "accounts", { body: { name: "Contoso", address1_country: "US" } }));
  fabrikam = entityIdOf(await h.api("POST", "accounts", { body: { name: "Fabrikam", address1_country: "DE" } }));
  const rows = [
    { name: `${tag} Alpha`, estimatedvalue: 100, estimatedclosedate: "2026-01-10", acc: contoso },
    { name: `${tag} Beta`, estimatedvalue: 250, estimatedclosedate: "2026-02-10", acc: contoso },
    { name: `${tag} Gamma`, estimatedvalue: 50, estimatedclosedate: "2026-03-10", acc: fabrikam },
    { name: `${tag} delta`, estimatedvalue: 400, estimatedclosedate: "2026-04-10", acc: fabrikam },
  ];
  for (const r of rows) {
    const res = await h.api("POST", "opportunities", {
      body: { name: r.name, estimatedvalue: r.estimatedvalue, estimatedclosedate: r.estimatedclosedate, "customerid_account@odata.bind": `/accounts(${r.acc})` },
    });
    expect(res.status).toBe(204);
  }
});
afterAll(() => h.close());

const names = (res: { json: { value: Array<{ name: string }> } }) => res.json.value.map((r) => r.name.replace(`${tag} `, ""));
const q = (filter: string, extra = "") => h.api("GET", `opportunities?$select=name&$filter=startswith(name,'${tag}') and (${filter})${extra}`);

describe("$filter", () => {
  it.each([
    ["estimatedvalue gt 100", ["Beta", "delta"]],
    ["estimatedvalue ge 100 and estimatedvalue le 250", ["Alpha", "Beta"]],
    ["estimatedvalue lt 100 or estimatedvalue eq 400", ["Gamma", "delta"]],
    ["not (estimatedvalue ne 250)", ["Beta"]],
    ["contains(name,'ALPHA')", ["Alpha"]],
    ["endswith(name,'ta')", ["Beta", "delta"]],
    ["estimatedclosedate ge 2026-03-01", ["Gamma", "delta"]],
    ["statecode eq 0 and estimatedvalue ne 50", ["Alpha", "Beta", "delta"]],
    ["name eq 'q'", []],
  ])("%s", async (filter, expected) => {
    const res = await q(filter, "&$orderby=estimatedclosedate");
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(expected);
  });

  it("filters lookups by _x_value and follows a single-valued navigation", async () => {
    const byId = await q(`_customerid_value eq ${fabrikam}`, "&$orderby=name");
    expect(names(byId)).toEqual(["delta", "Gamma"]);
    const byNav = await q("customerid_account/name eq 'contoso'", "&$orderby=name");
    expect(names(byNav)).toEqual(["Alpha", "Beta"]);
  });

  it("compares strings ignoring case, as Dataverse's collation does", async () => {
    expect(names(await q("name eq '" + tag.toUpperCase() + " ALPHA'"))).toEqual(["Alpha"]);
  });

  it("answers 400 for an unknown column, a lookup by its nav name, and bad syntax", async () => {
    const unknown = await h.api("GET", "opportunities?$filter=nope eq 1");
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toEqual({ code: "0x80060888", message: "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.opportunity'." });
    expect((await h.api("GET", `opportunities?$filter=parentaccountid eq ${contoso}`)).status).toBe(400);
    const syntax = await h.api("GET", "opportunities?$filter=name eq 'x");
    expect(syntax.status).toBe(400);
    expect(syntax.json.error.message).toMatch(/Syntax error at position/);
  });

  it("uses Microsoft.Dynamics.CRM.In", async () => {
    const res = await q("Microsoft.Dynamics.CRM.In(PropertyName='estimatedvalue',PropertyValues=['50','400'])", "&$orderby=name");
    expect(names(res)).toEqual(["delta", "Gamma"]);
  });

  it("refuses $skip like Dataverse", async () => {
    expect((await h.api("GET", "opportunities?$skip=1")).status).toBe(400);
  });
});

describe("$orderby, $top, $count", () => {
  it("orders by several columns, descending, with $top", async () => {
    const res = await q("statecode eq 0", "&$orderby=_customerid_value desc,estimatedvalue desc");
    const expected = contoso > fabrikam ? ["Beta", "Alpha", "delta", "Gamma"] : ["delta", "Gamma", "Beta", "Alpha"];
    expect(names(res)).toEqual(expected);
    const top = await q("statecode eq 0", "&$orderby=estimatedvalue desc&$top=2");
    expect(names(top)).toEqual(["delta", "Beta"]);
    expect(top.json["@odata.nextLink"]).toBeUndefined();
    expect((await q("statecode eq 0", "&$top=0")).json.value).toEqual([]);
  });

  it("counts with $count=true", async () => {
    const res = await q("estimatedvalue gt 60", "&$count=true");
    expect(res.json["@odata.count"]).toBe(3);
  });

  it("answers an @odata.context naming the selected columns", async () => {
    const res = await h.api("GET", "accounts?$select=name,address1_country&$top=1");
    expect(res.json["@odata.context"]).toBe(`${h.dv.apiUrl}/$metadata#accounts(name,address1_country)`);
    expect(res.json.value[0]["@odata.etag"]).toMatch(/^W\/"\d+"$/);
  });
});

describe("paging (spec §4.3)", () => {
  const prefix = `page-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    for (let i = 0; i < 23; i++) {
      const res = await h.api("POST", "contacts", { body: { firstname: prefix, lastname: `n${String(i).padStart(2, "0")}`, telephone1: String(i % 3) } });
      expect(res.status).toBe(204);
    }
  });

  async function readAll(url: string, pageSize: number): Promise<{ pages: number; rows: string[]; links: string[] }> {
    const rows: string[] = [];
    const links: string[] = [];
    let next: string | undefined = url;
    let pages = 0;
    while (next) {
      const res = await h.api("GET", next, { headers: { Prefer: `odata.maxpagesize=${pageSize}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("preference-applied")).toBe(`odata.maxpagesize=${pageSize}`);
      expect(res.json.value.length).toBeLessThanOrEqual(pageSize);
      rows.push(...res.json.value.map((r: { lastname: string }) => r.lastname));
      pages++;
      next = res.json["@odata.nextLink"];
      if (next) links.push(next);
    }
    return { pages, rows, links };
  }

  it("follows @odata.nextLink over several pages, every row once, in order", async () => {
    const { pages, rows, links } = await readAll(`contacts?$select=lastname&$filter=firstname eq '${prefix}'&$orderby=lastname`, 10);
    expect(pages).toBe(3);
    expect(rows).toEqual(Array.from({ length: 23 }, (_, i) => `n${String(i).padStart(2, "0")}`));
    expect(links[0]).toMatch(new RegExp(`^${h.dv.apiUrl.replace(/[.$]/g, "\\$&")}/contacts\\?`));
    expect(links[0]).toContain("%24skiptoken=");
  });

  it("keeps the filter and order in the link, ignores $top with maxpagesize, and pages without $orderby", async () => {
    const res = await readAll(`contacts?$select=lastname&$filter=firstname eq '${prefix}' and telephone1 eq '1'&$orderby=lastname desc&$top=2`, 3);
    expect(res.rows).toEqual(["n22", "n19", "n16", "n13", "n10", "n07", "n04", "n01"]);
    const unordered = await readAll(`contacts?$select=lastname&$filter=firstname eq '${prefix}'`, 7);
    expect(new Set(unordered.rows).size).toBe(23);
  });

  it("keeps a page boundary stable while rows are added before it", async () => {
    const first = await h.api("GET", `contacts?$select=lastname&$filter=firstname eq '${prefix}'&$orderby=lastname`, {
      headers: { Prefer: "odata.maxpagesize=5" },
    });
    expect(first.json.value.map((r: { lastname: string }) => r.lastname)).toEqual(["n00", "n01", "n02", "n03", "n04"]);
    await h.api("POST", "contacts", { body: { firstname: prefix, lastname: "n00a" } });
    const second = await h.api("GET", first.json["@odata.nextLink"], { headers: { Prefer: "odata.maxpagesize=5" } });
    expect(second.json.value.map((r: { lastname: string }) => r.lastname)).toEqual(["n05", "n06", "n07", "n08", "n09"]);
    await h.api("DELETE", `contacts(${(await h.api("GET", `contacts?$filter=lastname eq 'n00a'&$select=contactid`)).json.value[0].contactid})`);
  });

  it("refuses a tampered skip token or one from another query", async () => {
    const first = await h.api("GET", `contacts?$select=lastname&$filter=firstname eq '${prefix}'&$orderby=lastname`, {
      headers: { Prefer: "odata.maxpagesize=5" },
    });
    const link = new URL(first.json["@odata.nextLink"]);
    const token = link.searchParams.get("$skiptoken")!;
    const other = await h.api("GET", `contacts?$select=lastname&$orderby=firstname&$skiptoken=${encodeURIComponent(token)}`);
    expect(other.status).toBe(400);
    const garbage = await h.api("GET", `contacts?$select=lastname&$skiptoken=${encodeURIComponent('<cookie pagingcookie="AAAA" />')}`);
    expect(garbage.status).toBe(400);
  });

  it("pages rows tied on a non-unique $orderby losing or repeating some, as Dataverse may, and exactly with the primary key last", async () => {
    const tied = `tie-${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 40; i++) expect((await h.api("POST", "contacts", { body: { firstname: tied, lastname: `t${i}`, telephone1: "7" } })).status).toBe(204);
    const url = (order: string) => `contacts?$select=lastname&$filter=firstname eq '${tied}'&$orderby=${order}`;
    // What a lenient emulator (ties in insertion order, token carrying it) would have let pass.
    const loose = await readAll(url("telephone1"), 7);
    const lost = 40 - new Set(loose.rows).size;
    const repeated = loose.rows.length - new Set(loose.rows).size;
    expect(lost + repeated).toBeGreaterThan(0);
    const again = await readAll(url("telephone1"), 7);
    expect(again.rows).toEqual(loose.rows);
    const exact = await readAll(url("telephone1,contactid"), 7);
    expect(exact.rows).toHaveLength(40);
    expect(new Set(exact.rows).size).toBe(40);
    const single = await h.api("GET", url("telephone1"));
    const firstPage = await h.api("GET", url("telephone1"), { headers: { Prefer: "odata.maxpagesize=40" } });
    expect(firstPage.json.value).toEqual(single.json.value);
    // Tied rows come in neither insertion nor primary-key order.
    const ids = (await h.api("GET", `contacts?$select=contactid,lastname&$filter=firstname eq '${tied}'&$orderby=telephone1`)).json.value as Array<{ contactid: string; lastname: string }>;
    expect(ids.map((r) => r.lastname)).not.toEqual(Array.from({ length: 40 }, (_, i) => `t${i}`));
    expect(ids.map((r) => r.contactid)).not.toEqual(ids.map((r) => r.contactid).sort());
  });

  it("defaults to pages of 5,000", async () => {
    const res = await h.api("GET", "contacts?$select=lastname");
    expect(res.json.value.length).toBeLessThanOrEqual(5000);
    expect(res.json["@odata.nextLink"]).toBeUndefined();
  });
});

describe("$expand", () => {
  it("expands a single-valued navigation with its own $select", async () => {
    const res = await q("estimatedvalue eq 100", "&$expand=customerid_account($select=name,address1_country)");
    expect(res.json.value[0].customerid_account).toMatchObject({ name: "Contoso", address1_country: "US", accountid: contoso });
  });

  it("reads an environment variable with its value the way Dataverse clients do", async () => {
    const defs = await h.api("GET", `environmentvariabledefinitions?$filter=schemaname eq '${EnvironmentVariable.dealValueField}'&$select=environmentvariabledefinitionid`);
    const defId = defs.json.value[0].environmentvariabledefinitionid as string;
    const url = `environmentvariabledefinitions?$filter=schemaname eq '${EnvironmentVariable.dealValueField}'&$select=defaultvalue&$expand=environmentvariabledefinition_environmentvariablevalue($select=value)`;
    const before = await h.api("GET", url);
    expect(before.json.value).toEqual([
      expect.objectContaining({ defaultvalue: "estimatedvalue", environmentvariabledefinition_environmentvariablevalue: [] }),
    ]);
    await h.api("POST", "environmentvariablevalues", {
      body: { schemaname: EnvironmentVariable.dealValueField, value: "cosell_dealvalue", "EnvironmentVariableDefinitionId@odata.bind": `/environmentvariabledefinitions(${defId})` },
    });
    const after = await h.api("GET", url);
    expect(after.json.value[0].environmentvariabledefinition_environmentvariablevalue).toEqual([
      expect.objectContaining({ value: "cosell_dealvalue", "@odata.etag": expect.any(String) }),
    ]);
  });

  it("refuses an unknown navigation", async () => {
    expect((await h.api("GET", "accounts?$expand=nothing")).status).toBe(400);
  });

  it("serves contract columns once provisioned, and the referral key narrows queries", async () => {
    const ref = `R-${randomUUID()}`;
    await h.api("PATCH", `opportunities(${OpportunityColumn.referralId}='${ref}')`, { body: { name: "keyed" } });
    const res = await h.api("GET", `opportunities?$filter=${OpportunityColumn.referralId} eq '${ref}'&$select=name,${OpportunityColumn.syncWithPartnerCenter}`);
    expect(res.json.value).toEqual([expect.objectContaining({ name: "keyed", [OpportunityColumn.syncWithPartnerCenter]: false })]);
  });
});
