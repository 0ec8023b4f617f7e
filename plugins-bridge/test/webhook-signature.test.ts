import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { X509Certificate, sign } from "node:crypto";
import { rootCertificates } from "node:tls";
import selfsigned from "selfsigned";
import { PartnerCenterSignatureVerifier, SignatureError, type SignatureVerifierOptions } from "../src/webhooks/partner-center-signature";
import { parseCertificates, readTrustAnchors, TrustAnchors } from "../src/webhooks/certificate-chain";

const DAY = 86_400_000;
const NOW = Date.now();

interface Issued {
  readonly cert: string;
  readonly key: string;
}

type Extension = NonNullable<Parameters<typeof selfsigned.generate>[1]>["extensions"];

/** One certificate: a CA when `ca`, else a signing certificate; self-signed unless `issuer`. */
async function issue(o: { cn: string; org?: string; issuer?: Issued; ca?: boolean; from?: number; to?: number; extensions?: Extension }): Promise<Issued> {
  const pems = await selfsigned.generate(
    [
      { name: "commonName", value: o.cn },
      { name: "organizationName", value: o.org ?? "Microsoft Corporation" },
    ],
    {
      keySize: 2048,
      algorithm: "sha256",
      notBeforeDate: new Date(o.from ?? NOW - DAY),
      notAfterDate: new Date(o.to ?? NOW + 30 * DAY),
      ...(o.issuer ? { ca: { key: o.issuer.key, cert: o.issuer.cert } } : {}),
      extensions:
        o.extensions ??
        (o.ca
          ? [
              { name: "basicConstraints", cA: true, critical: true },
              { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
            ]
          : [
              { name: "basicConstraints", cA: false },
              { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
            ]),
    },
  );
  return { cert: pems.cert, key: pems.private };
}

/** A small PKI: a trusted root with an intermediate, an untrusted root, and signing certificates broken one way each. */
async function pki() {
  const root = await issue({ cn: "Test Root CA", ca: true, to: NOW + 3650 * DAY });
  const intermediate = await issue({ cn: "Test Issuing CA", ca: true, issuer: root, to: NOW + 365 * DAY });
  const otherRoot = await issue({ cn: "Test Root CA", org: "Microsoft Corporation", ca: true }); // same name, other key
  const contosoRoot = await issue({ cn: "Contoso Root CA", org: "Contoso Ltd", ca: true }); // trusted, another organization
  const dispatch = { cn: "pcnotifications-dispatch.microsoft.com" };
  return {
    root,
    contosoRoot,
    intermediate,
    viaIntermediate: await issue({ ...dispatch, issuer: intermediate }),
    direct: await issue({ ...dispatch, issuer: root }),
    expired: await issue({ ...dispatch, issuer: root, from: NOW - 10 * DAY, to: NOW - DAY }),
    notYetValid: await issue({ ...dispatch, issuer: root, from: NOW + DAY, to: NOW + 10 * DAY }),
    noSignatureUsage: await issue({ ...dispatch, issuer: root, extensions: [{ name: "keyUsage", keyEncipherment: true, critical: true }] }),
    untrusted: await issue({ ...dispatch, issuer: otherRoot }),
    selfSigned: await issue(dispatch),
    otherOrg: await issue({ cn: "webhooks.contoso.example", org: "Contoso Ltd", issuer: contosoRoot }),
    expiredIntermediate: await issue({ cn: "Old Issuing CA", ca: true, issuer: root, from: NOW - 10 * DAY, to: NOW - DAY }),
    notCa: await issue({ cn: "Not A CA", issuer: root, extensions: [{ name: "basicConstraints", cA: false }] }),
  };
}

type Pki = Awaited<ReturnType<typeof pki>>;

/** Serves certificates by path (a map the test may change) and counts downloads. */
async function certificateHost(files: Map<string, Buffer | string>) {
  let downloads = 0;
  const server: Server = createServer((req, res) => {
    downloads++;
    const body = files.get(req.url ?? "");
    if (body === undefined) res.writeHead(404).end();
    else res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, downloads: () => downloads, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const der = (pem: string) => new X509Certificate(pem).raw;
const body = Buffer.from(
  JSON.stringify({ EventName: "referral-updated", ResourceUri: "https://x/engagements/v1/referrals/1", ResourceName: "referral", AuditUri: null, ResourceChangeUtcDate: "2026-11-25T10:00:00Z" }),
);

const failureOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return "accepted";
  } catch (err) {
    if (err instanceof SignatureError) return `${err.failure}: ${err.message}`;
    throw err;
  }
};

describe("Partner Center webhook signature", () => {
  let p: Pki;
  let host: Awaited<ReturnType<typeof certificateHost>>;
  const files = new Map<string, Buffer | string>();
  let anchors: TrustAnchors;

  beforeAll(async () => {
    p = await pki();
    files.set("/chain.pem", `${p.viaIntermediate.cert}\n${p.intermediate.cert}`);
    files.set("/direct.cer", der(p.direct.cert));
    for (const name of ["expired", "notYetValid", "noSignatureUsage", "untrusted", "selfSigned", "otherOrg"] as const)
      files.set(`/${name}.cer`, der(p[name].cert));
    files.set("/leaf-without-intermediate.cer", der(p.viaIntermediate.cert));
    anchors = new TrustAnchors([new X509Certificate(p.root.cert), new X509Certificate(p.contosoRoot.cert)]);
    host = await certificateHost(files);
  }, 60_000);
  afterAll(() => host.close());

  const verifier = (o: Partial<SignatureVerifierOptions> = {}) =>
    new PartnerCenterSignatureVerifier({ allowedOrigins: [host.origin], organization: "Microsoft Corporation", trustAnchors: anchors, ...o });
  const headers = (file: string, signer: Issued, b: Buffer = body) => ({
    authorization: `Signature ${sign("sha256", b, signer.key).toString("base64")}`,
    "x-ms-certificate-url": `${host.origin}${file}`,
    "x-ms-signature-algorithm": "rsa-sha256",
  });

  it("accepts a certificate chaining through a delivered intermediate to a trusted root, downloading it once", async () => {
    const v = verifier();
    const before = host.downloads();
    await expect(v.verify(body, headers("/chain.pem", p.viaIntermediate))).resolves.toBeUndefined();
    await v.verify(body, headers("/chain.pem", p.viaIntermediate));
    expect(host.downloads() - before).toBe(1);
  });

  it("accepts a DER certificate issued by a trusted root, and the signature in x-ms-signature", async () => {
    const h = headers("/direct.cer", p.direct);
    await expect(verifier().verify(body, h)).resolves.toBeUndefined();
    await expect(verifier().verify(body, { "x-ms-signature": h.authorization, "x-ms-certificate-url": h["x-ms-certificate-url"], "x-ms-signature-algorithm": "rsa-sha256" })).resolves.toBeUndefined();
  });

  it("refuses an expired certificate, a not-yet-valid one, and one that expires while cached (injected clock)", async () => {
    expect(await failureOf(verifier().verify(body, headers("/expired.cer", p.expired)))).toMatch(/^certificate-expired: the signing certificate .* expired on /);
    expect(await failureOf(verifier().verify(body, headers("/notYetValid.cer", p.notYetValid)))).toMatch(/^certificate-expired: .* is not valid yet/);
    let now = NOW;
    const v = verifier({ now: () => now, cacheTtlMs: 365 * DAY });
    await v.verify(body, headers("/direct.cer", p.direct));
    now = Date.parse(new X509Certificate(p.direct.cert).validTo) + 1000;
    expect(await failureOf(v.verify(body, headers("/direct.cer", p.direct)))).toMatch(/^certificate-expired: the signing certificate .* expired on /);
  });

  it("refuses a certificate whose intermediate has expired", async () => {
    const leaf = await issue({ cn: "pcnotifications-dispatch.microsoft.com", issuer: p.expiredIntermediate });
    files.set("/old-chain.pem", `${leaf.cert}\n${p.expiredIntermediate.cert}`);
    expect(await failureOf(verifier().verify(body, headers("/old-chain.pem", leaf)))).toMatch(/^certificate-expired: the intermediate certificate .*Old Issuing CA.* expired on /);
  });

  it("refuses certificates that do not chain to a trusted root", async () => {
    const untrusted = /^certificate-untrusted: the signing certificate does not chain to a trusted root/;
    expect(await failureOf(verifier().verify(body, headers("/untrusted.cer", p.untrusted)))).toMatch(untrusted); // same issuer name, other key
    expect(await failureOf(verifier().verify(body, headers("/selfSigned.cer", p.selfSigned)))).toMatch(untrusted);
    expect(await failureOf(verifier().verify(body, headers("/leaf-without-intermediate.cer", p.viaIntermediate)))).toMatch(untrusted);
    // by default only Node's bundled roots are trusted: the test root is not among them
    expect(await failureOf(verifier({ trustAnchors: undefined }).verify(body, headers("/direct.cer", p.direct)))).toMatch(untrusted);
  });

  it("refuses a certificate whose key usage does not allow digital signatures, and an issuer that is not a CA", async () => {
    expect(await failureOf(verifier().verify(body, headers("/noSignatureUsage.cer", p.noSignatureUsage)))).toMatch(/^certificate-key-usage: the signing certificate .* does not allow digital signatures/);
    const leaf = await issue({ cn: "pcnotifications-dispatch.microsoft.com", issuer: p.notCa });
    files.set("/not-ca-chain.pem", `${leaf.cert}\n${p.notCa.cert}`);
    expect(await failureOf(verifier().verify(body, headers("/not-ca-chain.pem", leaf)))).toMatch(/^certificate-key-usage: the intermediate certificate .*Not A CA.* is not a CA/);
  });

  it("never fetches a certificate from a host off the allow-list, even one whose chain is trusted", async () => {
    const before = host.downloads();
    const other = verifier({ allowedOrigins: ["https://3psostorageacct.blob.core.windows.net"] });
    expect(await failureOf(other.verify(body, headers("/direct.cer", p.direct)))).toMatch(/^certificate-origin-not-allowed: certificate origin http:\/\/127\.0\.0\.1:\d+ is not allow-listed/);
    expect(await failureOf(other.verify(body, { ...headers("/direct.cer", p.direct), "x-ms-certificate-url": "https://user:pw@3psostorageacct.blob.core.windows.net/c.cer" }))).toMatch(/^certificate-origin-not-allowed/);
    expect(host.downloads()).toBe(before);
  });

  it("refuses a signature that does not match the body or the certificate", async () => {
    const mismatch = /^signature-mismatch: the signature does not match the body and the certificate$/;
    expect(await failureOf(verifier().verify(Buffer.from(body.toString().replace("updated", "created")), headers("/direct.cer", p.direct)))).toMatch(mismatch);
    expect(await failureOf(verifier().verify(body.subarray(0, 20), headers("/direct.cer", p.direct)))).toMatch(mismatch);
    // signed by another trusted key, pointing at the genuine certificate
    expect(await failureOf(verifier().verify(body, headers("/direct.cer", p.viaIntermediate)))).toMatch(mismatch);
  });

  it("refuses a trusted certificate of another organization, a missing certificate, and malformed headers", async () => {
    expect(await failureOf(verifier().verify(body, headers("/otherOrg.cer", p.otherOrg)))).toMatch(/^certificate-organization: the signing certificate is not issued to or by O=Microsoft Corporation$/);
    expect(await failureOf(verifier().verify(body, headers("/missing.cer", p.direct)))).toMatch(/^certificate-unavailable: /);
    const h = headers("/direct.cer", p.direct);
    expect(await failureOf(verifier().verify(body, { ...h, authorization: undefined }))).toMatch(/^missing-header/);
    expect(await failureOf(verifier().verify(body, { ...h, "x-ms-signature-algorithm": "hmac-sha256" }))).toMatch(/^unsupported-algorithm/);
    expect(await failureOf(verifier().verify(body, { ...h, authorization: "Bearer abc" }))).toMatch(/^malformed-signature/);
    expect(await failureOf(verifier().verify(body, { ...h, authorization: "Signature AAAA" }))).toMatch(/^malformed-signature/);
  });

  it("downloads again when the cache entry expires, picking up a certificate renewed at the same URL", async () => {
    let now = NOW;
    const v = verifier({ now: () => now, cacheTtlMs: 60_000 });
    files.set("/rotating.cer", der(p.direct.cert));
    await v.verify(body, headers("/rotating.cer", p.direct));
    files.set("/rotating.cer", `${p.viaIntermediate.cert}\n${p.intermediate.cert}`);
    // still cached: the old certificate verifies, the renewed key does not yet
    expect(await failureOf(v.verify(body, headers("/rotating.cer", p.viaIntermediate)))).toMatch(/^signature-mismatch/);
    now += 60_001;
    await expect(v.verify(body, headers("/rotating.cer", p.viaIntermediate))).resolves.toBeUndefined();
  });
});

describe("webhook trust anchors", () => {
  it("Node's bundled roots include a Microsoft root", () => {
    const pems = rootCertificates;
    expect(pems.map((pem) => new X509Certificate(pem).subject).some((s) => /O=Microsoft Corporation/.test(s))).toBe(true);
    expect(TrustAnchors.withNodeRoots().size).toBe(pems.length);
  });

  it("adds the admin's bundle (PC_WEBHOOK_CERT_CA_FILE) and says clearly when it is unusable", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-ca-"));
    try {
      const root = await issue({ cn: "Admin Root", ca: true });
      fs.writeFileSync(path.join(dir, "ok.pem"), root.cert);
      fs.writeFileSync(path.join(dir, "bad.pem"), "not a certificate");
      expect(readTrustAnchors(path.join(dir, "ok.pem")).size).toBe(TrustAnchors.withNodeRoots().size + 1);
      expect(() => readTrustAnchors(path.join(dir, "missing.pem"))).toThrow(/^PC_WEBHOOK_CERT_CA_FILE .*missing\.pem cannot be read/);
      expect(() => readTrustAnchors(path.join(dir, "bad.pem"))).toThrow(/^PC_WEBHOOK_CERT_CA_FILE .*bad\.pem must hold PEM certificates/);
      expect(parseCertificates(`${root.cert}\n${root.cert}`)).toHaveLength(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
