import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { X509Certificate, sign } from "node:crypto";
import selfsigned from "selfsigned";
import { PartnerCenterSignatureVerifier, SignatureError } from "../src/webhooks/partner-center-signature";

/** A certificate server + a signer: the fixture builder of a good event, broken one way per test. */
async function fixture(org = "Microsoft Corporation") {
  const pems = await selfsigned.generate(
    [
      { name: "commonName", value: "pcnotifications-dispatch.microsoft.com" },
      { name: "organizationName", value: org },
    ],
    { keySize: 2048, algorithm: "sha256" },
  );
  const der = new X509Certificate(pems.cert).raw;
  let downloads = 0;
  const server: Server = createServer((req, res) => {
    downloads++;
    if (req.url === "/cert.cer") res.end(der);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const body = Buffer.from(JSON.stringify({ EventName: "referral-updated", ResourceUri: "https://x/engagements/v1/referrals/1", ResourceName: "referral", AuditUri: null, ResourceChangeUtcDate: "2026-11-25T10:00:00Z" }));
  const headers = (b: Buffer = body) => ({
    authorization: `Signature ${sign("sha256", b, pems.private).toString("base64")}`,
    "x-ms-certificate-url": `${origin}/cert.cer`,
    "x-ms-signature-algorithm": "rsa-sha256",
  });
  return { origin, body, headers, close: () => new Promise<void>((r) => server.close(() => r())), downloads: () => downloads, pems };
}

const failureOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return "accepted";
  } catch (err) {
    if (err instanceof SignatureError) return err.failure;
    throw err;
  }
};

describe("Partner Center webhook signature", () => {
  let f: Awaited<ReturnType<typeof fixture>>;
  let verifier: PartnerCenterSignatureVerifier;
  beforeAll(async () => {
    f = await fixture();
    verifier = new PartnerCenterSignatureVerifier({ allowedOrigins: [f.origin], organization: "Microsoft Corporation" });
  });
  afterAll(() => f.close());

  it("accepts a good event and downloads the certificate once", async () => {
    await expect(verifier.verify(f.body, f.headers())).resolves.toBeUndefined();
    await verifier.verify(f.body, f.headers());
    expect(f.downloads()).toBe(1);
  });

  it("accepts the signature in x-ms-signature too", async () => {
    const h = f.headers();
    await expect(verifier.verify(f.body, { "x-ms-signature": h.authorization, "x-ms-certificate-url": h["x-ms-certificate-url"], "x-ms-signature-algorithm": "rsa-sha256" })).resolves.toBeUndefined();
  });

  it.each([
    ["a changed body", async () => failureOf(verifier.verify(Buffer.from(f.body.toString().replace("updated", "created")), f.headers()))],
    ["a truncated body", async () => failureOf(verifier.verify(f.body.subarray(0, 20), f.headers()))],
  ])("rejects %s", async (_name, run) => expect(await run()).toBe("signature-mismatch"));

  it("rejects missing headers, other algorithms and malformed signatures", async () => {
    const h = f.headers();
    expect(await failureOf(verifier.verify(f.body, { ...h, authorization: undefined }))).toBe("missing-header");
    expect(await failureOf(verifier.verify(f.body, { ...h, "x-ms-signature-algorithm": "hmac-sha256" }))).toBe("unsupported-algorithm");
    expect(await failureOf(verifier.verify(f.body, { ...h, authorization: "Bearer abc" }))).toBe("malformed-signature");
    expect(await failureOf(verifier.verify(f.body, { ...h, authorization: "Signature AAAA" }))).toBe("malformed-signature");
  });

  it("never fetches a certificate off the allow-list", async () => {
    const before = f.downloads();
    const other = new PartnerCenterSignatureVerifier({ allowedOrigins: ["https://3psostorageacct.blob.core.windows.net"], organization: "Microsoft Corporation" });
    expect(await failureOf(other.verify(f.body, f.headers()))).toBe("certificate-origin-not-allowed");
    expect(await failureOf(other.verify(f.body, { ...f.headers(), "x-ms-certificate-url": "https://user:pw@3psostorageacct.blob.core.windows.net/c.cer" }))).toBe("certificate-origin-not-allowed");
    expect(f.downloads()).toBe(before);
  });

  it("rejects a signature by another key and a certificate of another organization", async () => {
    const evil = await fixture("Contoso Ltd");
    try {
      const v = new PartnerCenterSignatureVerifier({ allowedOrigins: [f.origin, evil.origin], organization: "Microsoft Corporation" });
      // signed by the evil key, pointing at the genuine certificate
      expect(await failureOf(v.verify(f.body, { ...evil.headers(f.body), "x-ms-certificate-url": `${f.origin}/cert.cer` }))).toBe("signature-mismatch");
      expect(await failureOf(v.verify(evil.body, evil.headers()))).toBe("certificate-organization");
      expect(await failureOf(v.verify(f.body, { ...f.headers(), "x-ms-certificate-url": `${f.origin}/missing.cer` }))).toBe("certificate-unavailable");
    } finally {
      await evil.close();
    }
  });

  it("rejects an expired certificate", async () => {
    const v = new PartnerCenterSignatureVerifier({ allowedOrigins: [f.origin], organization: "Microsoft Corporation", now: () => Date.parse(new X509Certificate(f.pems.cert).validTo) + 86_400_000 });
    expect(await failureOf(v.verify(f.body, f.headers()))).toBe("certificate-expired");
  });
});
