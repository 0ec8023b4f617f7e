/**
 * Trust for the certificate a Partner Center webhook points to (specs/partner-center-api.md §3.4:
 * "chains to the Microsoft Root"). A path is built from the downloaded certificate through the
 * intermediates delivered with it up to a trust anchor: Node's bundled roots (which hold Microsoft's)
 * plus whatever bundle the admin adds (PC_WEBHOOK_CERT_CA_FILE). Every certificate on the path must be
 * valid now; every issuer must be a CA allowed to sign certificates; the signing certificate must
 * allow digital signatures. No revocation checks and no fetching of missing intermediates (AIA):
 * see docs/decisions.md.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import { rootCertificates } from "node:tls";
import { KeyUsageFlags, KeyUsagesExtension, X509Certificate as ParsedCertificate } from "@peculiar/x509";

export type ChainFailure = "certificate-invalid" | "certificate-expired" | "certificate-untrusted" | "certificate-key-usage";

export type ChainResult =
  | { readonly ok: true; readonly path: readonly X509Certificate[] }
  | { readonly ok: false; readonly failure: ChainFailure; readonly message: string };

const MAX_PATH_LENGTH = 6;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** One DER certificate or PEM text with one or more certificates (leaf first). Throws on anything else. */
export function parseCertificates(bytes: Buffer | string): X509Certificate[] {
  const text = typeof bytes === "string" ? bytes : bytes.toString("latin1");
  const blocks = text.match(PEM_BLOCK);
  if (blocks) return blocks.map((pem) => new X509Certificate(pem));
  if (typeof bytes === "string") throw new Error("no PEM certificate in the text");
  return [new X509Certificate(bytes)];
}

/** Trust anchors, looked up by subject name. */
export class TrustAnchors {
  private readonly bySubject = new Map<string, X509Certificate[]>();

  constructor(anchors: readonly X509Certificate[]) {
    for (const a of anchors) this.bySubject.set(a.subject, [...(this.bySubject.get(a.subject) ?? []), a]);
  }

  /** Node's bundled roots plus the admin's PEM bundle (if any). */
  static withNodeRoots(extraPem?: string): TrustAnchors {
    const roots = nodeRoots();
    return new TrustAnchors(extraPem ? [...roots, ...parseCertificates(extraPem)] : roots);
  }

  get size(): number {
    let n = 0;
    for (const list of this.bySubject.values()) n += list.length;
    return n;
  }

  issuersOf(cert: X509Certificate): X509Certificate[] {
    return (this.bySubject.get(cert.issuer) ?? []).filter((a) => issued(a, cert));
  }
}

/** Node's roots plus the admin's bundle (PC_WEBHOOK_CERT_CA_FILE); a clear error when the file is unusable. */
export function readTrustAnchors(file: string | undefined): TrustAnchors {
  if (!file) return TrustAnchors.withNodeRoots();
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`PC_WEBHOOK_CERT_CA_FILE ${file} cannot be read (${(err as Error).message})`, { cause: err });
  }
  try {
    return TrustAnchors.withNodeRoots(text);
  } catch (err) {
    throw new Error(`PC_WEBHOOK_CERT_CA_FILE ${file} must hold PEM certificates (${(err as Error).message})`, { cause: err });
  }
}

let bundledRoots: X509Certificate[] | undefined;
function nodeRoots(): X509Certificate[] {
  bundledRoots ??= rootCertificates.flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
  return bundledRoots;
}

const issued = (issuer: X509Certificate, cert: X509Certificate): boolean => {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
};

const describe = (c: X509Certificate): string => c.subject.replace(/\n/g, ", ");

function validityProblem(cert: X509Certificate, role: string, now: number): string | undefined {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(from <= now)) return `the ${role} certificate (${describe(cert)}) is not valid yet (valid from ${cert.validFrom})`;
  if (!(now <= to)) return `the ${role} certificate (${describe(cert)}) expired on ${cert.validTo}`;
  return undefined;
}

/** The key usage bits, or undefined when the certificate has no key usage extension (RFC 5280: any use). */
function keyUsage(cert: X509Certificate): number | undefined {
  return new ParsedCertificate(cert.raw).getExtension(KeyUsagesExtension)?.usages;
}

const allows = (cert: X509Certificate, flag: KeyUsageFlags): boolean => {
  const usages = keyUsage(cert);
  return usages === undefined || (usages & flag) !== 0;
};

/**
 * Verifies `bundle[0]` (the signing certificate) up to a trust anchor, with `bundle.slice(1)` as
 * candidate intermediates. Checks the signing certificate's own dates and key usage first, so each
 * failure names its cause.
 */
export function verifyChain(bundle: readonly X509Certificate[], anchors: TrustAnchors, now: number): ChainResult {
  const leaf = bundle[0];
  if (!leaf) return { ok: false, failure: "certificate-invalid", message: "the certificate download holds no certificate" };
  const expired = validityProblem(leaf, "signing", now);
  if (expired) return { ok: false, failure: "certificate-expired", message: expired };
  try {
    if (!allows(leaf, KeyUsageFlags.digitalSignature))
      return { ok: false, failure: "certificate-key-usage", message: `the signing certificate (${describe(leaf)}) does not allow digital signatures (key usage)` };
  } catch (err) {
    return { ok: false, failure: "certificate-invalid", message: `the signing certificate's extensions cannot be read: ${(err as Error).message}` };
  }
  return buildPath([leaf], bundle.slice(1), anchors, now);
}

function buildPath(path: X509Certificate[], pool: readonly X509Certificate[], anchors: TrustAnchors, now: number): ChainResult {
  const current = path[path.length - 1] as X509Certificate;
  let best: ChainResult = {
    ok: false,
    failure: "certificate-untrusted",
    message: `the signing certificate does not chain to a trusted root (no trusted issuer for ${describe(current)}; issuer ${current.issuer.replace(/\n/g, ", ")})`,
  };
  for (const anchor of anchors.issuersOf(current)) {
    const problem = validityProblem(anchor, "root", now);
    if (!problem) return { ok: true, path: [...path, anchor] };
    best = { ok: false, failure: "certificate-expired", message: problem };
  }
  if (path.length >= MAX_PATH_LENGTH) return best;
  for (const candidate of pool) {
    if (path.some((p) => p.fingerprint256 === candidate.fingerprint256) || !issued(candidate, current)) continue;
    const problem = validityProblem(candidate, "intermediate", now);
    if (problem) {
      best = { ok: false, failure: "certificate-expired", message: problem };
      continue;
    }
    if (!candidate.ca || !allows(candidate, KeyUsageFlags.keyCertSign)) {
      best = { ok: false, failure: "certificate-key-usage", message: `the intermediate certificate (${describe(candidate)}) is not a CA allowed to sign certificates` };
      continue;
    }
    const result = buildPath([...path, candidate], pool, anchors, now);
    if (result.ok) return result;
    best = result;
  }
  return best;
}
