/**
 * The signing identity of the emulated notification dispatcher: an RSA key and an X.509 certificate
 * with O=Microsoft Corporation, CN=pcnotifications-dispatch.microsoft.com, like the certificate
 * Partner Center's webhooks point to (specs §3.3–3.4), issued by the sandbox's own root CA, as the
 * real one chains to a Microsoft root. The sandbox's bridge trusts that root (PC_WEBHOOK_CERT_CA_FILE);
 * a certificate issued by anything else is refused. Generated at start, never stored.
 */
import { createPrivateKey, sign, X509Certificate, type KeyObject } from "node:crypto";
import { generate } from "selfsigned";

export const CERTIFICATE_FILE_NAME = "pcnotifications-dispatch.microsoft.com.cer";

export interface CertificateAuthority {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly certificate: X509Certificate;
}

export interface DispatchIdentity {
  readonly certificatePem: string;
  readonly certificateDer: Buffer;
  readonly certificate: X509Certificate;
  /** The root CA that issued the certificate (PEM): what a bridge must trust. */
  readonly rootCertificatePem: string;
  /** Base64 RSA-SHA256 (PKCS#1 v1.5) signature of the exact body bytes. */
  sign(body: Buffer): string;
}

const DAY_MS = 86_400_000;

/** A root CA (self-signed, CA:true, keyCertSign + cRLSign). */
export async function createCertificateAuthority(commonName = "Co-sell Sandbox Root CA", validDays = 3650): Promise<CertificateAuthority> {
  const notBefore = new Date(Date.now() - 60_000);
  const pems = await generate(
    [
      { name: "commonName", value: commonName },
      { shortName: "OU", value: "Co-sell sandbox (emulated, not Microsoft)" },
      { name: "organizationName", value: "Microsoft Corporation" },
    ],
    {
      keySize: 2048,
      algorithm: "sha256",
      notBeforeDate: notBefore,
      notAfterDate: new Date(notBefore.getTime() + validDays * DAY_MS),
      extensions: [
        { name: "basicConstraints", cA: true, critical: true },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
  );
  return { certificatePem: pems.cert, privateKeyPem: pems.private, certificate: new X509Certificate(pems.cert) };
}

let sandboxRoot: Promise<CertificateAuthority> | undefined;
/** The sandbox's root CA: one per process, so every identity made in it chains to the root its bridge trusts. */
export const sandboxRootCa = (): Promise<CertificateAuthority> =>
  (sandboxRoot ??= createCertificateAuthority().catch((err: unknown) => {
    sandboxRoot = undefined;
    throw err;
  }));

export interface DispatchIdentityOptions {
  readonly validDays?: number;
  /** The issuing CA; by default the sandbox root CA. */
  readonly authority?: CertificateAuthority;
}

export async function createDispatchIdentity(options: DispatchIdentityOptions = {}): Promise<DispatchIdentity> {
  const authority = options.authority ?? (await sandboxRootCa());
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (options.validDays ?? 365) * DAY_MS);
  const pems = await generate(
    [
      { name: "commonName", value: "pcnotifications-dispatch.microsoft.com" },
      { name: "organizationName", value: "Microsoft Corporation" },
      { name: "localityName", value: "Redmond" },
      { shortName: "ST", value: "Washington" },
      { name: "countryName", value: "US" },
    ],
    {
      keySize: 2048,
      algorithm: "sha256",
      notBeforeDate: notBefore,
      notAfterDate: notAfter,
      ca: { key: authority.privateKeyPem, cert: authority.certificatePem },
      extensions: [
        { name: "basicConstraints", cA: false, critical: true },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "subjectAltName", altNames: [{ type: 2, value: "pcnotifications-dispatch.microsoft.com" }] },
      ],
    },
  );
  const privateKey: KeyObject = createPrivateKey(pems.private);
  const certificate = new X509Certificate(pems.cert);
  return {
    certificatePem: pems.cert,
    certificateDer: certificate.raw,
    certificate,
    rootCertificatePem: authority.certificatePem,
    sign: (body) => sign("sha256", body, privateKey).toString("base64"),
  };
}
