/**
 * The reconcile sweep against the Dataverse emulator: a unique order (`modifiedon`, then the primary
 * key) so that rows sharing a modifiedon across a page boundary are each reconciled once, a
 * (modifiedon, id) cursor, and what does not parse dead-lettered with its reason while the sweep goes on.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { OpportunityColumn } from "@cosell/contract";
import { TokenService } from "@cosell/sandbox/src/identity";
import { startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox/src/dataverse";
import { DataverseClient, type QueryOptions } from "../src/dataverse/client";
import type { PartnerCenterClient } from "../src/partner-center/client";
import { dataverseCursorName, decodeCursor, encodeCursor, PC_CURSOR, Reconciler } from "../src/reconcile";
import { dropPostgresSchema, openStore, type Store } from "../src/store";

const RESOURCE = "https://org.crm.dynamics.com";
const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const log = pino({ level: "silent" });

/** Partner Center listing these pages, whatever the query. */
function partnerCenterListing(pages: unknown[][]): PartnerCenterClient {
  return {
    async *listReferrals() {
      for (const p of pages) yield p;
    },
  } as unknown as PartnerCenterClient;
}

/** A fresh store per test, and how to drop it: SQLite in a temp dir, PostgreSQL in a schema of its own. */
const stores: Array<[string, () => Promise<{ store: Store; drop: () => Promise<void> }>]> = [
  [
    "sqlite",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-reconcile-"));
      const store = await openStore({ kind: "sqlite", path: path.join(dir, "r.sqlite") });
      return { store, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  ],
  [
    "postgres",
    async () => {
      const schema = `cosell_test_${Math.random().toString(36).slice(2, 10)}`;
      const store = await openStore({ kind: "postgres", connectionString: PG_URL, schema, poolSize: 2 });
      return { store, drop: () => dropPostgresSchema(PG_URL, schema) };
    },
  ],
];

describe.each(stores)("Reconciler on %s", (_name, open) => {
  let dv: DataverseEmulator;
  let client: DataverseClient;
  let drop: () => Promise<void>;
  let store: Store;
  const ids: string[] = [];
  const tiedAt = Date.parse("2026-11-02T10:00:00Z");

  beforeAll(async () => {
    const tokens = new TokenService();
    dv = await startDataverseEmulator({ tokens, resourceUrl: RESOURCE });
    dv.provisionContract();
    const appId = randomUUID();
    dv.registerApplicationUser({ applicationId: appId, fullName: "Co-sell Bridge", roles: ["System Administrator"] });
    tokens.registerClient({ clientId: appId, clientSecret: "secret" });
    const token = tokens.clientCredentials({ clientId: appId, clientSecret: "secret", resource: RESOURCE }).accessToken;
    client = new DataverseClient({ url: dv.url, getToken: async () => token, callerTag: "cosell-bridge" });
    // Many opportunities written within one instant: one modifiedon for all of them.
    const org = dv.organization;
    const realNow = org.now.bind(org);
    org.now = () => tiedAt;
    try {
      for (let i = 0; i < 30; i++) ids.push((await client.create("opportunities", { name: `tied ${i}`, [OpportunityColumn.syncWithPartnerCenter]: true })).id.toLowerCase());
    } finally {
      org.now = realNow;
    }
  });
  afterAll(async () => {
    await client.close();
    await dv.close();
  });
  beforeEach(async () => {
    ({ store, drop } = await open());
  });
  afterEach(async () => {
    await store.close();
    await drop();
  });

  it("reconciles each of many rows sharing one modifiedon across page boundaries exactly once", async () => {
    const r = new Reconciler({ store, partnerCenter: partnerCenterListing([]), dataverse: client, log, pageSize: 7 });
    const summary = await r.sweep();
    expect(summary.dataverse.seen).toBe(30);
    expect([...summary.keys].sort()).toEqual(ids.map((id) => `opportunity:${id}`).sort());
    const queued = await store.queueStats();
    expect(queued).toMatchObject({ queued: 30 });
    const cursor = decodeCursor(await store.getCursor(dataverseCursorName("opportunity")));
    expect(cursor).toEqual({ at: tiedAt, id: [...ids].sort().at(-1) });
  });

  it("resumes strictly after the last row seen when there is no overlap", async () => {
    const r = new Reconciler({ store, partnerCenter: partnerCenterListing([]), dataverse: client, log, pageSize: 7, overlapMs: 0 });
    await r.sweep();
    const again = await r.sweep();
    expect(again.dataverse.seen).toBe(0);
    await client.update("opportunities", ids[3]!, { name: "tied 3, changed" }, { ifMatch: "*" });
    const third = await r.sweep();
    expect(third.dataverse.seen).toBe(1);
  });

  it("reads a cursor as <ISO time>|<id>, an older bare time, or nothing when it is not one", () => {
    expect(decodeCursor("2026-11-02T10:00:00.000Z|abc")).toEqual({ at: tiedAt, id: "abc" });
    expect(decodeCursor("2026-11-02T10:00:00Z")).toEqual({ at: tiedAt });
    expect(decodeCursor("garbage|abc")).toBeUndefined();
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(encodeCursor({ at: tiedAt, id: "abc" })).toBe("2026-11-02T10:00:00.000Z|abc");
  });

  it("dead-letters a referral or a row it cannot parse, with the reason, and keeps the rest moving", async () => {
    const badRowId = randomUUID();
    const dataverse = {
      async *retrieveMultiple(set: string, query: QueryOptions) {
        let first = true;
        for await (const page of client.retrieveMultiple(set, query)) {
          if (first && set === "opportunities") page.splice(3, 0, { opportunityid: badRowId, modifiedon: null }, { opportunityid: "not-a-guid", modifiedon: "2026-11-02T10:00:00Z" });
          first = false;
          yield page;
        }
      },
    } as unknown as DataverseClient;
    const referrals = [[{ id: "bad-referral-1", status: 42 }, { name: "no id" }]];
    const r = new Reconciler({ store, partnerCenter: partnerCenterListing(referrals), dataverse, log, pageSize: 7 });
    const summary = await r.sweep();
    expect(summary.dataverse).toMatchObject({ seen: 32, deadLettered: 2 });
    expect(summary.partnerCenter).toMatchObject({ seen: 2, deadLettered: 2 });
    expect(summary.keys).toHaveLength(30);

    const dead = await store.listDeadLetters();
    const byKey = new Map(dead.map((j) => [j.linkKey, j]));
    expect(dead).toHaveLength(4);
    expect(byKey.get(`opportunity:${badRowId}`)?.lastError).toMatch(/Dataverse opportunity .* could not be read: modifiedon: /);
    expect(byKey.get("referral:bad-referral-1")?.lastError).toMatch(/Partner Center referral bad-referral-1 could not be read: /);
    expect(dead.filter((j) => /^opportunity:unparsable-[0-9a-f]{16}$/.test(j.linkKey))).toHaveLength(1);
    expect(dead.filter((j) => /^referral:unparsable-[0-9a-f]{16}$/.test(j.linkKey))).toHaveLength(1);
    // The cursor passed them (they are recorded); none of the parsed referrals moved Partner Center's.
    expect(decodeCursor(await store.getCursor(dataverseCursorName("opportunity")))?.at).toBeGreaterThanOrEqual(tiedAt);
    expect(await store.getCursor(PC_CURSOR)).toBeUndefined();

    // Still unparsable at the next sweep: the dead letters stay one each.
    const again = await r.sweep();
    expect(again.partnerCenter.deadLettered + again.dataverse.deadLettered).toBe(0);
    expect(await store.listDeadLetters()).toHaveLength(4);
  });
});
