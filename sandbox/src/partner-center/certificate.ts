/**
 * The signing identity of the emulated notification dispatcher: an RSA key and a self-signed X.509
 * certificate whose subject and issuer carry O=Microsoft Corporation, CN=pcnotifications-dispatch.microsoft.com,
 * like the certificate Partner Center's webhooks point to (specs §3.3–3.4). Generated at start, never stored.
 */
import { createPrivateKey, sign, X509Certificate, type KeyObject } from "node:crypto";
import { generate } from "selfsigned";

export const CERTIFICATE_FILE_NAME = "pcnotifications-dispatch.microsoft.com.cer";

export interface DispatchIdentity {
  readonly certificatePem: string;
  readonly certificateDer: Buffer;
  readonly certificate: X509Certificate;
  /** Base64 RSA-SHA256 (PKCS#1 v1.5) signature of the exact body bytes. */
  sign(body: Buffer): string;
}

export async function createDispatchIdentity(validDays = 365): Promise<DispatchIdentity> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + validDays * 86_400_000);
  const pems = await generate(
    [
      { name: "commonName", value: "pcnotifications-dispatch.microsoft.com" },
      { name: "organizationName", value: "Microsoft Corporation" },
      { name: "localityName", value: "Redmond" },
      { shortName: "ST", value: "Washington" },
      { name: "countryName", value: "US" },
    ],
    { keySize: 2048, algorithm: "sha256", notBeforeDate: notBefore, notAfterDate: notAfter },
  );
  const privateKey: KeyObject = createPrivateKey(pems.private);
  const certificate = new X509Certificate(pems.cert);
  return {
    certificatePem: pems.cert,
    certificateDer: certificate.raw,
    certificate,
    sign: (body) => sign("sha256", body, privateKey).toString("base64"),
  };
}
