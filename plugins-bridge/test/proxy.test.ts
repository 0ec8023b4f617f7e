/**
 * The outbound proxy: the rule (which proxy for which URL), and the bridge's outbound calls (HTTP
 * transport, sign-in, webhook certificate, https tunnels, a whole backfill against the sandbox)
 * going through a real forward proxy on loopback — or around it when NO_PROXY says so.
 */
import * as fs from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import selfsigned from "selfsigned";
import { request } from "undici";
import { startForwardProxy, withProxyEnv, type ForwardProxy } from "@cosell/sandbox";
import { startSandbox, type Sandbox } from "@cosell/sandbox/src/compose";
import { startIdentityEmulator, type IdentityEmulator } from "@cosell/sandbox/src/identity";
import { createDispatchIdentity, type DispatchIdentity } from "@cosell/sandbox/src/partner-center";
import { ClientCredentialsProvider } from "../src/auth/dataverse-token";
import { RefreshTokenProvider } from "../src/auth/partner-center-token";
import { runCli } from "../src/cli/program";
import { describeProxy, outboundDispatcher, ProxyConfigError, proxyFor, proxySettingsFromEnv, redactProxyUrl, type ProxySettings } from "../src/http/proxy";
import { HttpTransport } from "../src/http/transport";
import { TrustAnchors } from "../src/webhooks/certificate-chain";
import { PartnerCenterSignatureVerifier } from "../src/webhooks/partner-center-signature";

describe("which proxy a URL goes through", () => {
  const settings = (noProxy: string, more: Partial<ProxySettings> = {}): ProxySettings => ({
    httpsProxy: "http://secure-proxy:3128",
    httpProxy: "http://plain-proxy:3128",
    noProxy,
    ...more,
  });

  it.each([
    ["https://api.partner.microsoft.com/v1.0", "", "http://secure-proxy:3128"],
    ["http://127.0.0.1:7072/api", "", "http://plain-proxy:3128"],
    ["https://api.partner.microsoft.com", "*", undefined],
    ["https://contoso.crm.dynamics.com", "dynamics.com", undefined],
    ["https://contoso.crm.dynamics.com", ".dynamics.com", undefined],
    ["https://contoso.crm.dynamics.com", "*.dynamics.com", undefined],
    ["https://dynamics.com", ".dynamics.com", undefined],
    ["https://notdynamics.com", "dynamics.com", "http://secure-proxy:3128"],
    ["https://contoso.crm.dynamics.com", "login.microsoftonline.com, localhost", "http://secure-proxy:3128"],
    ["https://CONTOSO.crm.dynamics.com", "contoso.CRM.dynamics.com", undefined],
    ["http://127.0.0.1:7072", "127.0.0.1", undefined],
    ["http://127.0.0.1:7072", "127.0.0.1:7072", undefined],
    ["http://127.0.0.1:7072", "127.0.0.1:7071", "http://plain-proxy:3128"],
    ["https://api.partner.microsoft.com", "api.partner.microsoft.com:443", undefined],
    ["https://api.partner.microsoft.com", "api.partner.microsoft.com:80", "http://secure-proxy:3128"],
    ["http://[::1]:7072", "[::1]", undefined],
    ["http://localhost:7072", "example.com localhost", undefined],
  ])("%s with NO_PROXY=%p → %p", (url, noProxy, expected) => {
    expect(proxyFor(url, settings(noProxy))).toBe(expected);
  });

  it("sends https through HTTP_PROXY when HTTPS_PROXY is not set, and http never through HTTPS_PROXY", () => {
    expect(proxyFor("https://x.example.com", { httpProxy: "http://p:1", noProxy: "" })).toBe("http://p:1");
    expect(proxyFor("http://x.example.com", { httpsProxy: "http://p:1", noProxy: "" })).toBeUndefined();
    expect(proxyFor("https://x.example.com", undefined)).toBeUndefined();
  });

  it("reads the variables, lower-case names first, and none means no proxy", () => {
    expect(proxySettingsFromEnv({})).toBeUndefined();
    expect(proxySettingsFromEnv({ NO_PROXY: "*" })).toBeUndefined();
    expect(proxySettingsFromEnv({ HTTPS_PROXY: "http://upper:1", https_proxy: "http://lower:1", NO_PROXY: "a", no_proxy: "b" })).toEqual({
      httpsProxy: "http://lower:1",
      noProxy: "b",
    });
    expect(proxySettingsFromEnv({ HTTP_PROXY: " http://p:3128 ", https_proxy: "" })).toEqual({ httpProxy: "http://p:3128", noProxy: "" });
  });

  it("refuses a proxy variable that is not a proxy URL, naming it and never echoing a password", () => {
    const problems = (env: NodeJS.ProcessEnv): readonly string[] => {
      try {
        proxySettingsFromEnv(env);
        return [];
      } catch (err) {
        if (err instanceof ProxyConfigError) return err.problems;
        throw err;
      }
    };
    expect(problems({ HTTPS_PROXY: "proxy.contoso.com:3128" })).toEqual([
      "HTTPS_PROXY must be a proxy URL like http://proxy.contoso.com:3128 (got proxy.contoso.com:3128)",
    ]);
    expect(problems({ https_proxy: "socks5://u:hunter2@proxy:1080", HTTP_PROXY: "not a url" })).toEqual([
      "HTTP_PROXY must be a proxy URL like http://proxy.contoso.com:3128 (got an unparseable value)",
      "https_proxy must be a proxy URL like http://proxy.contoso.com:3128 (got socks5://u:***@proxy:1080)",
    ]);
  });

  it("never prints proxy credentials", () => {
    expect(redactProxyUrl("http://svc-bridge:hunter2@proxy.contoso.com:3128")).toBe("http://svc-bridge:***@proxy.contoso.com:3128");
    const printed = JSON.stringify(describeProxy({ httpsProxy: "http://u:hunter2@p:3128", httpProxy: "http://u:hunter2@p:3128", noProxy: "localhost" }));
    expect(printed).not.toContain("hunter2");
    expect(printed).toContain("localhost");
  });
});

describe("the HTTP transport behind a real forward proxy", () => {
  let proxy: ForwardProxy;
  let target: Server;
  let targetPort: number;
  const hits: string[] = [];

  beforeAll(async () => {
    proxy = await startForwardProxy();
    target = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    targetPort = (target.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => target.close(() => resolve()));
  });

  beforeEach(() => {
    proxy.seen.length = 0;
    hits.length = 0;
  });

  const call = async (host = "127.0.0.1"): Promise<unknown> => {
    const http = new HttpTransport({ service: "dataverse", baseUrl: `http://${host}:${targetPort}/api/data/v9.2` });
    try {
      return (await http.send({ method: "GET", path: "/WhoAmI" })).json;
    } finally {
      await http.close();
    }
  };

  it("goes through HTTP_PROXY, sending its credentials to the proxy only", async () => {
    const proxyWithLogin = proxy.url.replace("http://", "http://svc-bridge:hunter2@");
    const body = await withProxyEnv({ HTTP_PROXY: proxyWithLogin }, () => call());
    expect(body).toEqual({ ok: true });
    expect(hits).toEqual(["GET /api/data/v9.2/WhoAmI"]);
    expect(proxy.seen).toEqual([{ kind: "connect", target: `127.0.0.1:${targetPort}`, credentials: "svc-bridge:hunter2" }]);
  });

  it("(the proxy double) forwards a plain absolute-URI request too, and records it", async () => {
    const { hostname, port } = new URL(proxy.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: hostname, port, method: "GET", path: `http://127.0.0.1:${targetPort}/plain?x=1` }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(hits).toEqual(["GET /plain?x=1"]);
    expect(proxy.seen).toEqual([{ kind: "forward", target: `127.0.0.1:${targetPort}`, path: "/plain?x=1" }]);
  });

  it("reads the lower-case variable too", async () => {
    await withProxyEnv({ http_proxy: proxy.url }, () => call());
    expect(proxy.seen.map((s) => s.target)).toEqual([`127.0.0.1:${targetPort}`]);
  });

  it.each([
    ["*", "127.0.0.1"],
    ["127.0.0.1", "127.0.0.1"],
    ["example.com,127.0.0.1:PORT", "127.0.0.1"],
    [".localhost", "localhost"],
  ])("goes around the proxy when NO_PROXY=%p covers %s", async (noProxy, host) => {
    const value = noProxy.replace("PORT", String(targetPort));
    await withProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: value }, () => call(host));
    expect(hits).toHaveLength(1);
    expect(proxy.seen).toEqual([]);
    expect(proxyFor(`http://${host}:${targetPort}`, proxySettingsFromEnv({ HTTP_PROXY: proxy.url, NO_PROXY: value }))).toBeUndefined();
  });

  it.each([["127.0.0.1:1"], ["example.com"], ["127.0.0.10"]])("still uses the proxy when NO_PROXY=%p does not cover the host", async (noProxy) => {
    await withProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: noProxy }, () => call());
    expect(proxy.seen).toHaveLength(1);
    expect(proxyFor(`http://127.0.0.1:${targetPort}`, proxySettingsFromEnv({ HTTP_PROXY: proxy.url, NO_PROXY: noProxy }))).toBe(proxy.url);
  });

  it("goes directly when no proxy is configured, and HTTPS_PROXY alone does not take http", async () => {
    await withProxyEnv({}, () => call());
    await withProxyEnv({ HTTPS_PROXY: proxy.url }, () => call());
    expect(hits).toHaveLength(2);
    expect(proxy.seen).toEqual([]);
  });
});

describe("sign-in behind a real forward proxy", () => {
  let proxy: ForwardProxy;
  let idp: IdentityEmulator;
  const user = { objectId: "u1", userPrincipalName: "referrals@partner.example", displayName: "Referrals", tenantId: "t1" };

  beforeAll(async () => {
    proxy = await startForwardProxy();
    idp = await startIdentityEmulator();
    idp.tokens.registerClient({ clientId: "bridge", clientSecret: "bridge-secret", tenantId: "t1", objectId: "sp-1" });
  });
  afterAll(async () => {
    await proxy.close();
    await idp.close();
  });
  beforeEach(() => void (proxy.seen.length = 0));

  const idpHostPort = () => new URL(idp.url).host;
  const dataverseToken = () =>
    new ClientCredentialsProvider({ loginUrl: idp.url, tenantId: "t1", clientId: "bridge", clientSecret: "bridge-secret", resource: "https://org.crm.dynamics.com" }).getToken();
  const partnerCenterToken = () =>
    new RefreshTokenProvider({
      loginUrl: idp.url,
      tenantId: "t1",
      clientId: "bridge",
      clientSecret: "bridge-secret",
      refreshToken: idp.tokens.issueRefreshToken("bridge", user),
    }).getToken("https://api.partner.microsoft.com");

  it("MSAL's token request (Dataverse) goes through the proxy", async () => {
    const token = await withProxyEnv({ HTTP_PROXY: proxy.url }, dataverseToken);
    expect(idp.tokens.verify(`Bearer ${token}`, "https://org.crm.dynamics.com")).toMatchObject({ ok: true });
    expect(proxy.seen).toEqual([{ kind: "connect", target: idpHostPort() }]);
  });

  it("the Partner Center refresh-token redemption goes through the proxy", async () => {
    const token = await withProxyEnv({ http_proxy: proxy.url }, partnerCenterToken);
    expect(idp.tokens.verify(`Bearer ${token}`, "https://api.partner.microsoft.com")).toMatchObject({ ok: true });
    expect(proxy.seen).toEqual([{ kind: "connect", target: idpHostPort() }]);
  });

  it("both go directly when NO_PROXY covers the login host", async () => {
    await withProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" }, dataverseToken);
    await withProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: `login.microsoftonline.com,${idpHostPort()}` }, partnerCenterToken);
    expect(proxy.seen).toEqual([]);
  });
});

describe("the webhook certificate download behind a real forward proxy", () => {
  let proxy: ForwardProxy;
  let certificates: Server;
  let origin: string;
  let dispatch: DispatchIdentity;
  let downloads = 0;

  beforeAll(async () => {
    proxy = await startForwardProxy();
    dispatch = await createDispatchIdentity();
    certificates = createServer((_req, res) => {
      downloads++;
      res.writeHead(200, { "content-type": "application/pkix-cert" }).end(dispatch.certificateDer);
    });
    await new Promise<void>((resolve) => certificates.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(certificates.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => certificates.close(() => resolve()));
  });
  beforeEach(() => {
    proxy.seen.length = 0;
    downloads = 0;
  });

  const verifySigned = async (): Promise<void> => {
    const verifier = new PartnerCenterSignatureVerifier({
      allowedOrigins: [origin],
      organization: "Microsoft Corporation",
      trustAnchors: TrustAnchors.withNodeRoots(dispatch.rootCertificatePem),
    });
    const body = Buffer.from(JSON.stringify({ EventName: "referral-created", ResourceUri: "https://x/1" }));
    await verifier.verify(body, {
      authorization: `Signature ${dispatch.sign(body)}`,
      "x-ms-certificate-url": `${origin}/certificates/pcnotifications-dispatch.microsoft.com.cer`,
      "x-ms-signature-algorithm": "rsa-sha256",
    });
  };

  it("downloads the signing certificate through the proxy", async () => {
    await withProxyEnv({ HTTP_PROXY: proxy.url }, verifySigned);
    expect(downloads).toBe(1);
    expect(proxy.seen).toEqual([{ kind: "connect", target: new URL(origin).host }]);
  });

  it("downloads it directly when NO_PROXY covers the certificate host", async () => {
    await withProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: new URL(origin).host }, verifySigned);
    expect(downloads).toBe(1);
    expect(proxy.seen).toEqual([]);
  });
});

describe("https behind a real forward proxy", () => {
  let proxy: ForwardProxy;
  let target: ReturnType<typeof createTlsServer>;
  let url: string;
  let ca: string;

  beforeAll(async () => {
    proxy = await startForwardProxy();
    const pems = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], {
      keySize: 2048,
      extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
    });
    ca = pems.cert;
    target = createTlsServer({ key: pems.private, cert: pems.cert }, (_req, res) => res.writeHead(200).end("over tls"));
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(target.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => target.close(() => resolve()));
  });
  beforeEach(() => void (proxy.seen.length = 0));

  const get = async (env: NodeJS.ProcessEnv): Promise<string> => {
    const dispatcher = outboundDispatcher({ connect: { ca } }, proxySettingsFromEnv(env));
    try {
      return await (await request(url, { dispatcher })).body.text();
    } finally {
      await dispatcher.close();
    }
  };

  it("tunnels an https URL through HTTPS_PROXY with CONNECT, TLS checked end to end against the target", async () => {
    expect(await get({ HTTPS_PROXY: proxy.url, HTTP_PROXY: "http://127.0.0.1:9" })).toBe("over tls");
    expect(proxy.seen).toEqual([{ kind: "connect", target: new URL(url).host }]);
  });

  it("goes directly when NO_PROXY covers the host, with the same TLS settings", async () => {
    expect(await get({ HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1" })).toBe("over tls");
    expect(proxy.seen).toEqual([]);
  });
});

describe("the bridge against the sandbox behind a real forward proxy", () => {
  let proxy: ForwardProxy;
  let sandbox: Sandbox;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    proxy = await startForwardProxy();
    sandbox = await startSandbox({ ports: { identity: 0, partnerCenter: 0, dataverse: 0 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-proxy-"));
    env = sandbox.bridgeEnvironment({ port: 0, publicUrl: "http://127.0.0.1:7999", sqlitePath: path.join(dir, "bridge.sqlite"), logLevel: "error" });
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => void (proxy.seen.length = 0));

  const cli = async (args: string[], vars: Record<string, string>): Promise<{ code: number; out: string }> => {
    let out = "";
    const code = await withProxyEnv(vars, () => runCli(args, { env: { ...env, ...vars }, out: (t) => void (out += t), err: (t) => void (out += t) }));
    return { code, out };
  };

  it("a backfill signs in, reads Partner Center and writes Dataverse, all through the proxy", async () => {
    await sandbox.seedReferrals();
    const r = await cli(["backfill"], { HTTP_PROXY: proxy.url });
    expect(r.out).toMatch(/created\s+3/);
    expect(r.code).toBe(0);
    const hosts = new Set(proxy.seen.map((s) => s.target));
    expect(hosts).toEqual(new Set([sandbox.urls.identity, sandbox.urls.partnerCenter, sandbox.urls.dataverse].map((u) => new URL(u).host)));
  }, 60_000);

  it("goes around the proxy for the hosts NO_PROXY names", async () => {
    const r = await cli(["status", "--json"], { HTTP_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1" });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ signIn: { partnerCenter: { ok: true }, dataverse: { ok: true } } });
    expect(proxy.seen).toEqual([]);
  }, 60_000);

  it("refuses to start on a malformed proxy variable, naming it", async () => {
    const r = await cli(["status"], { HTTPS_PROXY: "proxy.contoso.com:3128" });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/HTTPS_PROXY must be a proxy URL/);
  });
});
