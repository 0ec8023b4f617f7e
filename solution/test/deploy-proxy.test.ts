/**
 * The deploy tool behind a company's outbound proxy: MSAL's sign-in and the Web API calls go through
 * HTTPS_PROXY / HTTP_PROXY (a real forward proxy on loopback here), or directly where NO_PROXY says so.
 */
import { startForwardProxy, withProxyEnv, type ForwardProxy } from "@cosell/sandbox";
import { startIdentityEmulator, type IdentityEmulator } from "@cosell/sandbox/src/identity";
import { DataverseClient } from "../src/deploy/dataverse";
import { clientCredentialsTokenSource } from "../src/deploy/token";
import { startFakeDataverse, type FakeDataverse } from "./fake-dataverse";

const TENANT = "00000000-0000-0000-0000-0000000000aa";
const CLIENT = { clientId: "11111111-2222-3333-4444-555555555555", clientSecret: "s3cret-never-logged" };

let proxy: ForwardProxy;
let identity: IdentityEmulator;
let dataverse: FakeDataverse;

beforeAll(async () => {
  proxy = await startForwardProxy();
  identity = await startIdentityEmulator();
  identity.tokens.registerClient({ ...CLIENT, tenantId: TENANT, objectId: "deployer" });
  dataverse = await startFakeDataverse(identity.tokens);
});
afterAll(async () => {
  await Promise.all([proxy?.close(), identity?.close(), dataverse?.close()]);
});
beforeEach(() => {
  proxy.seen.length = 0;
  dataverse.requests.length = 0;
});

const whoAmI = () =>
  new DataverseClient({
    url: dataverse.url,
    token: clientCredentialsTokenSource({ loginUrl: identity.url, tenantId: TENANT, ...CLIENT, resource: dataverse.url }),
  }).request<{ UserId: string }>("GET", "WhoAmI");

const hostOf = (u: string) => new URL(u).host;

test("signs in and calls the Web API through the proxy", async () => {
  const answer = await withProxyEnv({ HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: proxy.url }, whoAmI);
  expect(answer).toEqual({ UserId: "deployer" });
  expect(dataverse.requests).toEqual(["GET WhoAmI"]);
  expect(new Set(proxy.seen.map((s) => s.target))).toEqual(new Set([hostOf(identity.url), hostOf(dataverse.url)]));
  expect(proxy.seen.every((s) => s.kind === "connect")).toBe(true);
});

test("goes directly to the hosts NO_PROXY names, through the proxy to the others", async () => {
  await withProxyEnv({ http_proxy: proxy.url, no_proxy: `login.microsoftonline.com ${hostOf(dataverse.url)}` }, whoAmI);
  expect(proxy.seen.map((s) => s.target)).toEqual([hostOf(identity.url)]);
  proxy.seen.length = 0;
  await withProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "*" }, whoAmI);
  expect(proxy.seen).toEqual([]);
});

test("a malformed proxy variable fails at once, naming it, without retrying as if the network were down", async () => {
  const started = Date.now();
  await expect(withProxyEnv({ HTTPS_PROXY: "proxy.contoso.com:3128" }, whoAmI)).rejects.toThrow(/HTTPS_PROXY must be a proxy URL/);
  expect(Date.now() - started).toBeLessThan(1_000);
  expect(dataverse.requests).toEqual([]);
});
