/**
 * The referral-id alternate keys while Dataverse is still building their index (EntityKeyIndexStatus
 * Pending, then Active) or after the build failed, against the Dataverse emulator: the sync that
 * needs the key is refused as retryable and creates nothing, then succeeds once the key is Active,
 * without a duplicate. Runs as the bridge's least-privileged role.
 */
import { randomUUID } from "node:crypto";
import { ALTERNATE_KEYS } from "@cosell/contract";
import type { DataverseEmulator } from "@cosell/sandbox/src/dataverse";
import { DataverseClient } from "../src/dataverse/client";
import { CrmGateway } from "../src/engine/crm";
import { dataverseAsBridge } from "./support/dataverse-as-bridge";
import { KeyIndexFailedError, KeyIndexPendingError } from "../src/engine/keys-ready";
import { isRetryable } from "../src/http/errors";

let dv: DataverseEmulator;
let gateway: () => CrmGateway;

beforeAll(async () => {
  const world = await dataverseAsBridge();
  dv = world.dv;
  const getToken = world.getToken;
  gateway = () => new CrmGateway(new DataverseClient({ url: dv.url, getToken }));
});
afterAll(() => dv.close());

const control = (key: string, action: "fail" | "activate") =>
  fetch(`${dv.url}/_emulator/keys/opportunity/${key}/${action}`, { method: "POST" }).then((r) => expect(r.status).toBe(204));

async function opportunities(referralId: string): Promise<unknown[]> {
  const json = (await gateway().client.get(`/opportunities?$select=opportunityid&$filter=cosell_referralid eq '${referralId}'`)) as { value: unknown[] };
  return json.value;
}

describe("referral-id keys still being built", () => {
  const key = ALTERNATE_KEYS.opportunityReferralId.logicalName;
  afterEach(() => dv.schema.setKeyIndexStatus("opportunity", key, "Active"));

  it("refuses the sync as retryable while Pending, creates nothing, then creates once Active, without a duplicate", async () => {
    dv.schema.setKeyIndexStatus("opportunity", key, "Pending");
    const crm = gateway();
    const referralId = `R-${randomUUID().slice(0, 8)}`;
    const early = await crm.createWithCustomer("opportunity", referralId, { name: "Early deal" }, {}).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(KeyIndexPendingError);
    expect(isRetryable(early)).toBe(true);
    expect((early as Error).message).toMatch(/alternate key cosell_opportunity_referralid on opportunity is still being built \(Pending\)/);
    expect(crm.keys.lastNotReady()).toEqual([{ table: "opportunity", key, status: "Pending" }]);
    expect(await opportunities(referralId)).toEqual([]);

    await control(key, "activate");
    const first = await crm.createWithCustomer("opportunity", referralId, { name: "Early deal" }, {});
    expect(first.created).toBe(true);
    expect(crm.keys.lastNotReady()).toEqual([]);
    const again = await crm.createWithCustomer("opportunity", referralId, { name: "Early deal" }, {});
    expect(again).toMatchObject({ id: first.id, created: false });
    expect(await opportunities(referralId)).toHaveLength(1);
  });

  it("reads by referral id only once the key is Active", async () => {
    dv.schema.setKeyIndexStatus("opportunity", key, "Pending");
    const crm = gateway();
    await expect(crm.readSetByReferralId("opportunity", "R-none")).rejects.toBeInstanceOf(KeyIndexPendingError);
    await control(key, "activate");
    expect(await crm.readSetByReferralId("opportunity", "R-none")).toBeUndefined();
  });

  it("a Failed key is an error for the admin (reactivate it), not retried", async () => {
    const crm = gateway();
    await control(key, "fail");
    const err = await crm.createWithCustomer("opportunity", `R-${randomUUID().slice(0, 8)}`, { name: "Deal" }, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyIndexFailedError);
    expect(isRetryable(err)).toBe(false);
    expect((err as Error).message).toMatch(/could not be built \(EntityKeyIndexStatus Failed\); an admin must reactivate it .*ReactivateEntityKey/);
    expect(await crm.keys.check()).toEqual([{ table: "opportunity", key, status: "Failed" }]);
  });

  it("Active is remembered: the key metadata is not read again", async () => {
    const crm = gateway();
    await crm.readSetByReferralId("opportunity", "R-none");
    // Only the emulator's own refusal of the key URL, not the bridge's Pending check, can show now.
    dv.schema.setKeyIndexStatus("opportunity", key, "Pending");
    const err = await crm.readSetByReferralId("opportunity", "R-none").catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(KeyIndexPendingError);
    expect((err as Error).message).toMatch(/is not active \(EntityKeyIndexStatus: Pending\)/);
  });
});
