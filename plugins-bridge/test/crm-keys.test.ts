/**
 * A referral id Dataverse cannot take in a key URL (/ < > * % & : \ ? +): the bridge finds and
 * creates its record by $filter and in the body instead, against the Dataverse emulator, which
 * refuses such a key in a URL. Runs as the bridge's least-privileged role.
 */
import { randomUUID } from "node:crypto";
import type { DataverseEmulator } from "@cosell/sandbox/src/dataverse";
import { DataverseClient, keyUsableInUrl, recordPath } from "../src/dataverse/client";
import { CrmGateway } from "../src/engine/crm";
import { dataverseAsBridge } from "./support/dataverse-as-bridge";

let dv: DataverseEmulator;
let crm: CrmGateway;

beforeAll(async () => {
  const world = await dataverseAsBridge();
  dv = world.dv;
  const getToken = world.getToken;
  crm = new CrmGateway(new DataverseClient({ url: dv.url, getToken }));
});
afterAll(() => dv.close());

describe("referral ids a key URL cannot carry", () => {
  it("knows which values those are, and never builds such a URL", () => {
    expect(keyUsableInUrl({ cosell_referralid: "a1b2-c3" })).toBe(true);
    for (const bad of ["R/1", "R<1", "R>1", "R*1", "R%1", "R&1", "R:1", "R\\1", "R?1", "R+1"]) {
      expect(keyUsableInUrl({ cosell_referralid: bad })).toBe(false);
      expect(() => recordPath("opportunities", { cosell_referralid: bad })).toThrow(/cannot be used in a URL/);
    }
  });

  it.each(["opportunity", "lead"] as const)("creates the %s once, finds it again, and a second create writes nothing", async (kind) => {
    const referralId = `R/${randomUUID().slice(0, 8)}+x`;
    const body = kind === "opportunity" ? { name: "Keyed deal" } : { lastname: "Keyed lead" };
    expect(await crm.readSetByReferralId(kind, referralId)).toBeUndefined();
    const first = await crm.createWithCustomer(kind, referralId, body, {});
    expect(first.created).toBe(true);
    const found = await crm.readSetByReferralId(kind, referralId);
    expect(found).toBeDefined();
    const again = await crm.createWithCustomer(kind, referralId, body, {});
    expect(again).toMatchObject({ id: first.id, created: false });
  });
});
