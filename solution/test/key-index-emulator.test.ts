/**
 * The built managed package imported into the Dataverse emulator, whose imported alternate keys
 * stay Pending for a moment (as Dataverse builds their index in the background): the bridge's
 * first create of a referral's opportunity is refused as retryable and writes nothing, the retry
 * once the key is Active creates it, and a further one finds it (no duplicate).
 */
import { randomUUID } from "node:crypto";
import { ALTERNATE_KEYS, SECURITY_ROLES } from "@cosell/contract";
import { DataverseClient } from "@cosell/bridge/src/dataverse/client";
import { CrmGateway } from "@cosell/bridge/src/engine/crm";
import { KeyIndexPendingError } from "@cosell/bridge/src/engine/keys-ready";
import { isRetryable } from "@cosell/bridge/src/http/errors";
import { startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox/src/dataverse";
import { TokenService } from "@cosell/sandbox/src/identity";
import { buildFixture, type BuiltFixture } from "./helpers";

const RESOURCE = "https://org.crm.dynamics.com";
let dv: DataverseEmulator;
let fx: BuiltFixture;
let tokens: TokenService;

const client = (roles: string[]) => {
  const appId = randomUUID();
  dv.registerApplicationUser({ applicationId: appId, fullName: `app ${appId.slice(0, 4)}`, roles });
  tokens.registerClient({ clientId: appId, clientSecret: "secret" });
  return new DataverseClient({ url: dv.url, getToken: async () => tokens.clientCredentials({ clientId: appId, clientSecret: "secret", resource: RESOURCE }).accessToken });
};

beforeAll(async () => {
  tokens = new TokenService();
  dv = await startDataverseEmulator({ tokens, resourceUrl: RESOURCE, keyIndexDelayMs: 500 });
  fx = buildFixture();
});
afterAll(async () => {
  await dv?.close();
  fx?.cleanup();
});

test("a sync needing the referral key waits while it is Pending after import, then creates the record once", async () => {
  const admin = client(["System Administrator"]);
  const bytes = fx.built.find((b) => b.kind === "managed")!.bytes;
  const imported = await admin.post("/ImportSolution", {
    CustomizationFile: Buffer.from(bytes).toString("base64"),
    OverwriteUnmanagedCustomizations: false,
    PublishWorkflows: true,
    ImportJobId: randomUUID(),
  });
  expect(imported.status).toBe(204);

  const crm = new CrmGateway(client([SECURITY_ROLES.bridge.name]));
  const referralId = `R-${randomUUID().slice(0, 8)}`;
  const early = await crm.createWithCustomer("opportunity", referralId, { name: "Imported deal" }, {}).catch((e: unknown) => e);
  expect(early).toBeInstanceOf(KeyIndexPendingError);
  expect(isRetryable(early)).toBe(true);
  expect(crm.keys.lastNotReady()).toEqual([{ table: "opportunity", key: ALTERNATE_KEYS.opportunityReferralId.logicalName, status: "Pending" }]);

  let created: { id: string; created: boolean } | undefined;
  const deadline = Date.now() + 10_000;
  while (!created) {
    await new Promise((r) => setTimeout(r, 100));
    created = await crm.createWithCustomer("opportunity", referralId, { name: "Imported deal" }, {}).catch((e: unknown) => {
      if (e instanceof KeyIndexPendingError && Date.now() < deadline) return undefined;
      throw e;
    });
  }
  expect(created.created).toBe(true);
  expect(await crm.createWithCustomer("opportunity", referralId, { name: "Imported deal" }, {})).toMatchObject({ id: created.id, created: false });
  const rows = (await admin.get(`/opportunities?$select=opportunityid&$filter=cosell_referralid eq '${referralId}'`)) as { value: unknown[] };
  expect(rows.value).toHaveLength(1);
});
