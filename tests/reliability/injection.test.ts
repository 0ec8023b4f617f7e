/**
 * Quotes and OData operators inside customer names, postal codes, e-mails and ids never change a
 * query's meaning, end to end: a referral whose customer is named that way becomes exactly one
 * opportunity, matched to exactly the one account with that name and postal code (and the one
 * contact with that e-mail); look-alike decoys are left alone; a customer with a similar name gets
 * an account of its own; an owner e-mail built to match every user matches none. Ids that are not
 * ids never reach a query: the webhooks refuse them.
 */
import { OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import { DATAVERSE_WEBHOOK_HEADER } from "@cosell/bridge/src/config";
import type { BridgeProcess } from "./support/bridge-process";
import { startCertificateServer, type CertificateServer } from "./support/signing";
import { tableCounts } from "./support/store-probe";
import { waitFor } from "./support/wait";
import { coSellReferral, fetchAnswer, World } from "./support/world";

const A = SystemColumn.account;
const C = SystemColumn.contact;

interface Case {
  readonly name: string;
  readonly postalCode: string;
  readonly email: string;
  /** A customer whose name only looks like it. */
  readonly similar: string;
}

const CASES: readonly Case[] = [
  { name: "O'Brien & Sons", postalCode: "98052", email: "o'brien@obrien.example", similar: "OBrien & Sons" },
  { name: "x' or 1 eq 1", postalCode: "98053", email: "x' or 1 eq 1@x.example", similar: "x or 1 eq 1" },
  { name: "' or 1 eq 1 or name eq '", postalCode: "1' or 1 eq 1", email: "' or 1 eq 1 or emailaddress1 ne '@y.example", similar: "'' or 1 eq 1 or name eq ''" },
  { name: "Smith') or contains(name,'a", postalCode: "98055')", email: "smith')or(true@z.example", similar: "Smith) or contains(name,a" },
];

let world: World;
let bridge: BridgeProcess;
let dispatcher: CertificateServer;

beforeAll(async () => {
  dispatcher = await startCertificateServer("injection-dispatcher");
  world = await World.start({ name: "injection", store: "sqlite" });
  world.env.PC_WEBHOOK_CERT_ORIGINS = `${world.env.PC_WEBHOOK_CERT_ORIGINS},${dispatcher.origin}`;
  await world.connect();
  bridge = world.instance("bridge");
  await world.up(bridge);
}, 240_000);

afterAll(async () => {
  await world?.close();
  await dispatcher?.close();
});

const lookupId = (v: unknown) => (v && typeof v === "object" ? String((v as { id?: unknown }).id ?? "").toLowerCase() : undefined);
const accountsNamed = (name: string) => world.rows(Table.account.logicalName).filter((a) => a[A.name] === name);

describe.each(CASES)("a customer named $name", (c) => {
  const tag = Math.random().toString(36).slice(2, 7);
  let exactAccount: string;
  let exactContact: string;
  let decoys: Array<{ id: string; row: string }>;
  let contactDecoy: string;
  let opportunity: Record<string, unknown>;

  beforeAll(async () => {
    exactAccount = await world.createAccount(c.name, c.postalCode);
    exactContact = await world.createContact("Pat", `Exact${tag}`, c.email, exactAccount);
    const decoyIds = await Promise.all([
      world.createAccount("x", c.postalCode),
      world.createAccount(`${c.name} Holdings`, c.postalCode),
      world.createAccount(c.name, `${c.postalCode}9`),
      world.createAccount(c.similar.slice(0, 2), c.postalCode),
    ]);
    contactDecoy = await world.createContact("Pat", `Decoy${tag}`, `decoy.${tag}@${c.email.split("@")[1] ?? "d.example"}`);
    decoys = decoyIds.map((id) => ({ id, row: JSON.stringify(world.row(Table.account.logicalName, id)) }));
    const body = coSellReferral(`inj${tag}`);
    const profile = body.customerProfile as { name: string; address: Record<string, string>; team: Array<Record<string, string>> };
    profile.name = c.name;
    profile.address.postalCode = c.postalCode;
    profile.team[0] = { ...profile.team[0], email: c.email };
    // The referral's own team (the owner lookup): an e-mail built to match every user.
    body.team = [{ firstName: "Eve", lastName: "Injected", email: `nobody' or internalemailaddress ne '${tag}@microsoft.example` }];
    const referralId = await world.inboundReferral(body);
    opportunity = await waitFor(() => world.rows(Table.opportunity.logicalName).find((r) => r[OpportunityColumn.referralId] === referralId), "the opportunity");
    await world.settle();
    opportunity = world.row(Table.opportunity.logicalName, String(opportunity[SystemColumn.opportunity.id])) as Record<string, unknown>;
  }, 90_000);

  it("becomes exactly one opportunity, matched to exactly the one account with that name and postal code", () => {
    const referralId = opportunity[OpportunityColumn.referralId];
    expect(world.rows(Table.opportunity.logicalName).filter((r) => r[OpportunityColumn.referralId] === referralId)).toHaveLength(1);
    expect(lookupId(opportunity[SystemColumn.opportunity.parentAccount])).toBe(exactAccount);
    expect(accountsNamed(c.name).filter((a) => a[A.postalCode] === c.postalCode)).toHaveLength(1);
  });

  it("matches the contact by its exact e-mail, and no other", () => {
    expect(lookupId(opportunity[SystemColumn.opportunity.parentContact])).toBe(exactContact);
    expect(world.rows(Table.contact.logicalName).filter((r) => String(r[C.email] ?? "").toLowerCase() === c.email.toLowerCase())).toHaveLength(1);
    expect(world.row(Table.contact.logicalName, contactDecoy)).toBeDefined();
  });

  it("leaves the look-alike accounts alone", () => {
    for (const d of decoys) expect(JSON.stringify(world.row(Table.account.logicalName, d.id))).toBe(d.row);
  });

  it("gives nobody's ownership away: an owner e-mail built to match every user matches none", () => {
    const owner = lookupId(opportunity[SystemColumn.opportunity.owner]);
    expect(owner).toBe(world.sandbox.bridgeUserId.toLowerCase());
  });

  it("does not match a customer with a similar name: that one gets an account of its own", async () => {
    const body = coSellReferral(`sim${tag}`);
    const profile = body.customerProfile as { name: string; address: Record<string, string> };
    profile.name = c.similar;
    profile.address.postalCode = c.postalCode;
    const referralId = await world.inboundReferral(body);
    const row = await waitFor(() => world.rows(Table.opportunity.logicalName).find((r) => r[OpportunityColumn.referralId] === referralId), "the similar customer's opportunity");
    const account = lookupId(row[SystemColumn.opportunity.parentAccount]);
    expect(account).not.toBe(exactAccount);
    expect(world.row(Table.account.logicalName, account as string)?.[A.name]).toBe(c.similar);
    expect(accountsNamed(c.similar).filter((a) => a[A.postalCode] === c.postalCode)).toHaveLength(1);
    await world.settle();
  });
});

describe("ids that are not ids", () => {
  it.each([
    "x' or 1 eq 1",
    "' or '1' eq '1",
    "x%27%20or%201%20eq%201",
    // Regression: the URL parser resolved the dot segment away and `referrals` passed for the id.
    "abc')/..",
    "abc/%2e%2e",
  ])("a signed Partner Center event naming referral %s is refused (400), nothing stored", async (id) => {
    const before = await tableCounts(world.storeConfig);
    const body = JSON.stringify({ EventName: "referral-updated", ResourceUri: `https://api.partnercenter.microsoft.com/engagements/v1/referrals/${id}`, ResourceName: "referral", ResourceChangeUtcDate: new Date().toISOString() });
    const answer = await fetchAnswer(`${bridge.url}/webhooks/partner-center`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: dispatcher.sign(body), "x-ms-certificate-url": dispatcher.certificateUrl, "x-ms-signature-algorithm": "rsa-sha256" },
      body,
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/does not end in a referral id/);
    expect(await tableCounts(world.storeConfig)).toEqual(before);
  });

  it.each(["x' or 1 eq 1", "00000000-0000-0000-0000-000000000000' or '1' eq '1", "(guid)"])("a Dataverse webhook naming record %s is refused (400), nothing stored", async (id) => {
    const before = await tableCounts(world.storeConfig);
    const answer = await fetchAnswer(`${bridge.url}/webhooks/dataverse`, {
      method: "POST",
      headers: { "content-type": "application/json", [DATAVERSE_WEBHOOK_HEADER]: world.env.DATAVERSE_WEBHOOK_KEY as string },
      body: JSON.stringify({ MessageName: "Update", PrimaryEntityName: Table.opportunity.logicalName, PrimaryEntityId: id, OperationId: "11111111-2222-4333-8444-555555555555", InputParameters: [] }),
    });
    expect(answer.status).toBe(400);
    expect(await tableCounts(world.storeConfig)).toEqual(before);
  });
});
