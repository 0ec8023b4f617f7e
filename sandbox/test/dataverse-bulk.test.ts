/**
 * Dataverse emulator: the bulk operation messages CreateMultiple, UpdateMultiple and UpsertMultiple
 * as bound actions on an entity set (docs/sandbox-dataverse.md, "Bulk operation messages").
 */
import { randomUUID } from "node:crypto";
import { OpportunityColumn } from "@cosell/contract";
import { entityIdOf, startHarness, type Harness } from "./fixtures/dataverse/harness";
import type { CommitEntry } from "../src/dataverse";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.dv.provisionContract();
});
afterAll(() => h.close());

const type = (entity: string) => ({ "@odata.type": `Microsoft.Dynamics.CRM.${entity}` });
const bulk = (set: string, message: string, Targets: unknown) =>
  h.api("POST", `${set}/Microsoft.Dynamics.CRM.${message}`, { body: { Targets } });

async function commitsDuring(fn: () => Promise<unknown>): Promise<CommitEntry[]> {
  const seen: CommitEntry[] = [];
  const listener = (e: CommitEntry) => seen.push(e);
  h.dv.events.on("commit", listener);
  try {
    await fn();
  } finally {
    h.dv.events.off("commit", listener);
  }
  return seen;
}

async function countAccounts(name: string): Promise<number> {
  const r = await h.api("GET", `accounts?$filter=name eq '${name}'&$count=true&$select=name`);
  return r.json["@odata.count"];
}

describe("CreateMultiple", () => {
  it("creates every target in one request, answers the ids in order, and raises one Create per record", async () => {
    const tag = randomUUID().slice(0, 8);
    let res!: Awaited<ReturnType<typeof bulk>>;
    const commits = await commitsDuring(async () => {
      res = await bulk("accounts", "CreateMultiple", [0, 1, 2].map((i) => ({ ...type("account"), name: `Bulk ${tag} ${i}` })));
    });
    expect(res.status).toBe(200);
    expect(res.json["@odata.context"]).toMatch(/\$metadata#Microsoft\.Dynamics\.CRM\.CreateMultipleResponse$/);
    expect(res.json.Ids).toHaveLength(3);
    for (const [i, id] of (res.json.Ids as string[]).entries())
      expect((await h.api("GET", `accounts(${id})?$select=name`)).json.name).toBe(`Bulk ${tag} ${i}`);
    expect(commits.filter((c) => c.entity === "account").map((c) => [c.message, c.id])).toEqual(res.json.Ids.map((id: string) => ["Create", id]));
  });

  it("rolls every record back when one fails, answering that record's error", async () => {
    const tag = randomUUID().slice(0, 8);
    const res = await bulk("accounts", "CreateMultiple", [
      { ...type("account"), name: `Rolled ${tag}` },
      { ...type("account"), name: "x".repeat(500) },
    ]);
    expect(res.status).toBe(400);
    expect(await countAccounts(`Rolled ${tag}`)).toBe(0);
  });

  it.each([
    ["no Targets", undefined, 400],
    ["an empty Targets", [], 400],
    ["a target without @odata.type", [{ name: "untyped" }], 400],
    ["a target of another table", [{ ...type("contact"), lastname: "wrong table" }], 400],
    ["1,001 targets", Array.from({ length: 1001 }, (_, i) => ({ ...type("account"), name: `too many ${i}` })), 400],
  ])("refuses %s and writes nothing", async (_what, targets, status) => {
    const commits = await commitsDuring(async () => {
      const res = await h.api("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { body: targets === undefined ? {} : { Targets: targets } });
      expect(res.status).toBe(status);
      expect(res.json.error.message).toMatch(/CreateMultiple|Targets|odata\.type/);
    });
    expect(commits).toEqual([]);
  });

  it("is a POST on an entity set only", async () => {
    expect((await h.api("GET", "accounts/Microsoft.Dynamics.CRM.CreateMultiple")).status).toBe(405);
    expect((await h.api("POST", "accounts/Microsoft.Dynamics.CRM.DeleteMultiple", { body: { Targets: [] } })).status).toBe(404);
  });
});

describe("UpdateMultiple", () => {
  it("updates records named by their id, one Update event each", async () => {
    const a = entityIdOf(await h.api("POST", "accounts", { body: { name: "Before A" } }));
    const b = entityIdOf(await h.api("POST", "accounts", { body: { name: "Before B" } }));
    let status = 0;
    const commits = await commitsDuring(async () => {
      status = (await bulk("accounts", "UpdateMultiple", [
        { ...type("account"), accountid: a, name: "After A" },
        { ...type("account"), accountid: b, name: "After B" },
      ])).status;
    });
    expect(status).toBe(204);
    expect((await h.api("GET", `accounts(${a})?$select=name`)).json.name).toBe("After A");
    expect(commits.map((c) => [c.message, c.id])).toEqual([["Update", a], ["Update", b]]);
  });

  it("refuses a record that does not exist (404) or names none, and rolls the rest back", async () => {
    const a = entityIdOf(await h.api("POST", "accounts", { body: { name: "Kept" } }));
    const missing = await bulk("accounts", "UpdateMultiple", [
      { ...type("account"), accountid: a, name: "Not kept" },
      { ...type("account"), accountid: randomUUID(), name: "Ghost" },
    ]);
    expect(missing.status).toBe(404);
    expect((await h.api("GET", `accounts(${a})?$select=name`)).json.name).toBe("Kept");
    expect((await bulk("accounts", "UpdateMultiple", [{ ...type("account"), name: "Whose?" }])).status).toBe(400);
  });
});

describe("UpsertMultiple", () => {
  it("creates or updates by alternate key, raising Create or Update per record", async () => {
    const existingKey = `UM-${randomUUID()}`;
    const newKey = `UM-${randomUUID()}`;
    const existing = entityIdOf(await h.api("PATCH", `opportunities(${OpportunityColumn.referralId}='${existingKey}')`, { body: { name: "Old" } }));
    let status = 0;
    const commits = await commitsDuring(async () => {
      status = (await bulk("opportunities", "UpsertMultiple", [
        { ...type("opportunity"), "@odata.id": `opportunities(${OpportunityColumn.referralId}='${existingKey}')`, name: "Renamed" },
        { ...type("opportunity"), "@odata.id": `opportunities(${OpportunityColumn.referralId}='${newKey}')`, name: "Fresh" },
      ])).status;
    });
    expect(status).toBe(204);
    const fresh = (await h.api("GET", `opportunities(${OpportunityColumn.referralId}='${newKey}')?$select=name,${OpportunityColumn.referralId}`)).json;
    expect(fresh).toMatchObject({ name: "Fresh", [OpportunityColumn.referralId]: newKey });
    expect((await h.api("GET", `opportunities(${existing})?$select=name`)).json.name).toBe("Renamed");
    expect(commits.filter((c) => c.entity === "opportunity").map((c) => [c.message, c.id])).toEqual([
      ["Update", existing],
      ["Create", fresh.opportunityid],
    ]);
  });

  it("upserts by primary key too, and a second run over the same data creates nothing", async () => {
    const id = randomUUID();
    const targets = [{ ...type("account"), accountid: id, name: `Keyed ${id}` }];
    expect((await bulk("accounts", "UpsertMultiple", targets)).status).toBe(204);
    expect((await bulk("accounts", "UpsertMultiple", targets)).status).toBe(204);
    expect(await countAccounts(`Keyed ${id}`)).toBe(1);
  });

  it("refuses two targets naming the same record, a target naming none, and a key of another set", async () => {
    const key = `UM-${randomUUID()}`;
    const twice = await bulk("opportunities", "UpsertMultiple", [
      { ...type("opportunity"), "@odata.id": `opportunities(${OpportunityColumn.referralId}='${key}')`, name: "one" },
      { ...type("opportunity"), "@odata.id": `opportunities(${OpportunityColumn.referralId}='${key}')`, name: "two" },
    ]);
    expect(twice.status).toBe(400);
    expect(twice.json.error.message).toMatch(/Targets\[0\] and Targets\[1\]/);
    expect((await h.api("GET", `opportunities(${OpportunityColumn.referralId}='${key}')`)).status).toBe(404);
    expect((await bulk("opportunities", "UpsertMultiple", [{ ...type("opportunity"), name: "anonymous" }])).status).toBe(400);
    expect((await bulk("opportunities", "UpsertMultiple", [{ ...type("opportunity"), "@odata.id": `accounts(${randomUUID()})`, name: "x" }])).status).toBe(400);
  });

  it("refuses an alternate key the table does not have", async () => {
    const res = await bulk("accounts", "UpsertMultiple", [{ ...type("account"), "@odata.id": "accounts(accountnumber='A1')", name: "x" }]);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/alternate key/);
  });
});
