/**
 * Dataverse emulator: WinOpportunity, LoseOpportunity, QualifyLead, WhoAmI, lead disqualification,
 * and the commit log (`commit` events, GET /_emulator/changes).
 */
import { randomUUID } from "node:crypto";
import { entityIdOf, startHarness, type Harness } from "./fixtures/dataverse/harness";
import type { CommitEntry } from "../src/dataverse";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

async function openOpportunity(estimatedvalue = 500): Promise<string> {
  const acc = entityIdOf(await h.api("POST", "accounts", { body: { name: "Customer" } }));
  return entityIdOf(
    await h.api("POST", "opportunities", { body: { name: "Deal", estimatedvalue, "customerid_account@odata.bind": `/accounts(${acc})` } }),
  );
}

describe("WinOpportunity / LoseOpportunity", () => {
  it("wins: statecode 1, statuscode 3, actual close date and value, an opportunityclose activity", async () => {
    const id = await openOpportunity(750);
    const res = await h.api("POST", "WinOpportunity", {
      body: { OpportunityClose: { subject: "Won it", "opportunityid@odata.bind": `/opportunities(${id})`, actualend: "2026-05-01" }, Status: 3 },
    });
    expect(res.status).toBe(204);
    const opp = await h.api("GET", `opportunities(${id})?$select=statecode,statuscode,actualclosedate,actualvalue`);
    expect(opp.json).toMatchObject({ statecode: 1, statuscode: 3, actualclosedate: "2026-05-01", actualvalue: 750 });
    const closes = await h.api("GET", `opportunitycloses?$filter=_opportunityid_value eq ${id}&$select=subject,statecode`);
    expect(closes.json.value).toEqual([expect.objectContaining({ subject: "Won it", statecode: 1 })]);
  });

  it("loses with Out-Sold (5) or Canceled (4), using actualrevenue when given", async () => {
    const id = await openOpportunity();
    const res = await h.api("POST", "LoseOpportunity", {
      body: { OpportunityClose: { subject: "Lost", "opportunityid@odata.bind": `/opportunities(${id})`, actualrevenue: 0 }, Status: 5 },
    });
    expect(res.status).toBe(204);
    expect((await h.api("GET", `opportunities(${id})?$select=statecode,statuscode`)).json).toMatchObject({ statecode: 2, statuscode: 5 });
  });

  it("refuses a status of the wrong state, a closed opportunity, and a missing one", async () => {
    const id = await openOpportunity();
    const wrong = await h.api("POST", "WinOpportunity", { body: { OpportunityClose: { "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 4 } });
    expect(wrong.status).toBe(400);
    expect((await h.api("POST", "LoseOpportunity", { body: { OpportunityClose: { "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 4 } })).status).toBe(204);
    const again = await h.api("POST", "WinOpportunity", { body: { OpportunityClose: { "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 3 } });
    expect(again.status).toBe(400);
    const missing = await h.api("POST", "WinOpportunity", { body: { OpportunityClose: { "opportunityid@odata.bind": `/opportunities(${randomUUID()})` }, Status: 3 } });
    expect(missing.status).toBe(404);
    const noBind = await h.api("POST", "WinOpportunity", { body: { OpportunityClose: { subject: "x" }, Status: 3 } });
    expect(noBind.status).toBe(400);
  });

  it("does not close an opportunity through a plain PATCH of statecode, but reopens one", async () => {
    const id = await openOpportunity();
    const patch = await h.api("PATCH", `opportunities(${id})`, { body: { statecode: 1, statuscode: 3 } });
    expect(patch.status).toBe(400);
    await h.api("POST", "LoseOpportunity", { body: { OpportunityClose: { "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 4 } });
    expect((await h.api("PATCH", `opportunities(${id})`, { body: { statecode: 0, statuscode: 1 } })).status).toBe(204);
  });

  it("rolls back the opportunityclose when the close fails inside a change set", async () => {
    const id = await openOpportunity();
    const before = (await h.api("GET", "opportunitycloses?$count=true&$select=subject")).json["@odata.count"];
    const b = "batch_w";
    const c = "changeset_w";
    const body = [
      `--${b}`,
      `Content-Type: multipart/mixed; boundary=${c}`,
      "",
      `--${c}`,
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "",
      `POST WinOpportunity HTTP/1.1`,
      "Content-Type: application/json",
      "",
      JSON.stringify({ OpportunityClose: { "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 3 }),
      `--${c}`,
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "",
      `PATCH opportunities(${id}) HTTP/1.1`,
      "Content-Type: application/json",
      "",
      JSON.stringify({ name: "x".repeat(301) }),
      `--${c}--`,
      `--${b}--`,
      "",
    ].join("\r\n");
    const res = await h.api("POST", "$batch", { raw: body, headers: { "Content-Type": `multipart/mixed; boundary=${b}` } });
    expect(res.status).toBe(200);
    expect(res.text).toContain("HTTP/1.1 400 Bad Request");
    expect((await h.api("GET", `opportunities(${id})?$select=statecode`)).json.statecode).toBe(0);
    expect((await h.api("GET", "opportunitycloses?$count=true&$select=subject")).json["@odata.count"]).toBe(before);
  });
});

describe("QualifyLead", () => {
  async function newLead(extra: Record<string, unknown> = {}): Promise<string> {
    return entityIdOf(
      await h.api("POST", "leads", {
        body: {
          subject: "Interested in Azure",
          firstname: "Grace",
          lastname: "Hopper",
          companyname: "Navy Labs",
          emailaddress1: "grace@navy.example",
          address1_country: "US",
          estimatedamount: 9000,
          estimatedclosedate: "2026-06-30",
          ...extra,
        },
      }),
    );
  }

  it("creates account, contact and opportunity, links them and closes the lead as qualified", async () => {
    const leadId = await newLead();
    const res = await h.api("POST", `leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, {
      body: {
        CreateAccount: true,
        CreateContact: true,
        CreateOpportunity: true,
        Status: 3,
        OpportunityCurrencyId: { "@odata.type": "Microsoft.Dynamics.CRM.transactioncurrency", transactioncurrencyid: h.dv.seededIds.eurCurrencyId },
      },
    });
    expect(res.status).toBe(200);
    expect(res.json["@odata.context"]).toBe(`${h.dv.apiUrl}/$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)`);
    const value = res.json.value as Array<Record<string, string>>;
    expect(value.map((v) => v["@odata.type"])).toEqual([
      "#Microsoft.Dynamics.CRM.account",
      "#Microsoft.Dynamics.CRM.contact",
      "#Microsoft.Dynamics.CRM.opportunity",
    ]);
    const [account, contact, opportunity] = [value[0]!.accountid!, value[1]!.contactid!, value[2]!.opportunityid!];
    const lead = await h.api("GET", `leads(${leadId})?$select=statecode,statuscode,_qualifyingopportunityid_value`);
    expect(lead.json).toMatchObject({ statecode: 1, statuscode: 3, _qualifyingopportunityid_value: opportunity });
    const opp = await h.api(
      "GET",
      `opportunities(${opportunity})?$select=name,_originatingleadid_value,_customerid_value,_parentaccountid_value,_parentcontactid_value,estimatedvalue,_transactioncurrencyid_value`,
    );
    expect(opp.json).toMatchObject({
      name: "Interested in Azure",
      _originatingleadid_value: leadId,
      _customerid_value: account,
      _parentaccountid_value: account,
      _parentcontactid_value: contact,
      estimatedvalue: 9000,
      _transactioncurrencyid_value: h.dv.seededIds.eurCurrencyId,
    });
    expect((await h.api("GET", `accounts(${account})?$select=name,address1_country`)).json).toMatchObject({ name: "Navy Labs", address1_country: "US" });
    expect((await h.api("GET", `contacts(${contact})?$select=fullname,_parentcustomerid_value`)).json).toMatchObject({
      fullname: "Grace Hopper",
      _parentcustomerid_value: account,
    });
  });

  it("creates only what is asked and uses OpportunityCustomerId", async () => {
    const existing = entityIdOf(await h.api("POST", "accounts", { body: { name: "Existing customer" } }));
    const leadId = await newLead();
    const res = await h.api("POST", `leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, {
      body: {
        CreateAccount: false,
        CreateContact: false,
        CreateOpportunity: true,
        Status: 3,
        OpportunityCustomerId: { "@odata.type": "Microsoft.Dynamics.CRM.account", accountid: existing },
      },
    });
    expect(res.json.value).toHaveLength(1);
    const opp = res.json.value[0].opportunityid as string;
    expect((await h.api("GET", `opportunities(${opp})?$select=_customerid_value`)).json._customerid_value).toBe(existing);
  });

  it("refuses a qualified status of the wrong state and an already closed lead", async () => {
    const leadId = await newLead();
    const body = { CreateAccount: false, CreateContact: false, CreateOpportunity: false, Status: 4 };
    expect((await h.api("POST", `leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, { body })).status).toBe(400);
    expect((await h.api("POST", `leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, { body: { ...body, Status: 3 } })).status).toBe(200);
    expect((await h.api("POST", `leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, { body: { ...body, Status: 3 } })).status).toBe(400);
    expect((await h.api("POST", `leads(${randomUUID()})/Microsoft.Dynamics.CRM.QualifyLead`, { body: { ...body, Status: 3 } })).status).toBe(404);
    expect((await h.api("POST", `leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, { body: { Status: 3 } })).status).toBe(400);
  });

  it("disqualifies a lead with a plain PATCH of statecode 2 / statuscode 4–7", async () => {
    const leadId = await newLead();
    expect((await h.api("PATCH", `leads(${leadId})`, { body: { statecode: 2, statuscode: 6 } })).status).toBe(204);
    expect((await h.api("GET", `leads(${leadId})?$select=statecode,statuscode`)).json).toMatchObject({ statecode: 2, statuscode: 6 });
    expect((await h.api("PATCH", `leads(${leadId})`, { body: { statecode: 2, statuscode: 3 } })).status).toBe(400);
  });
});

describe("commit log", () => {
  it("emits a commit event per committed write, with the caller and a sub-millisecond time", async () => {
    const seen: CommitEntry[] = [];
    const listener = (e: CommitEntry) => seen.push(e);
    h.dv.events.on("commit", listener);
    const since = Date.now() - 1;
    const id = await openOpportunity();
    await h.api("POST", "WinOpportunity", { body: { OpportunityClose: { "opportunityid@odata.bind": `/opportunities(${id})` }, Status: 3 } });
    h.dv.events.off("commit", listener);
    const mine = seen.filter((e) => e.id === id);
    expect(mine.map((e) => e.message)).toEqual(["Create", "Win"]);
    expect(mine[0]).toMatchObject({ entity: "opportunity", callerId: h.appUserId });
    expect(mine[1]!.at).toBeGreaterThan(mine[0]!.at);
    const failed = await h.api("POST", "accounts", { body: { name: "x".repeat(500) } });
    expect(failed.status).toBe(400);
    const log = await fetch(`${h.dv.url}/_emulator/changes?since=${since}`).then((r) => r.json() as Promise<{ value: CommitEntry[] }>);
    expect(log.value.filter((e) => e.id === id).map((e) => e.message)).toEqual(["Create", "Win"]);
    expect(log.value.every((e) => e.at > since)).toBe(true);
  });
});
