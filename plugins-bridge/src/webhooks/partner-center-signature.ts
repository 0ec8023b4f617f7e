/**
 * Verifies a Partner Center webhook the documented way (specs/partner-center-api.md §3.4):
 *   1. the three headers are present; the algorithm is rsa-sha256;
 *   2. the certificate URL is https on an allow-listed origin (never fetched otherwise);
 *   3. the certificate (downloaded with any intermediates, cached per URL with an expiry) chains to a
 *      trusted root, every certificate on the path is valid now, the key may sign (certificate-chain.ts);
 *   4. it is issued to or by the expected organization (the documented "Organization" check);
 *   5. `Authorization: Signature <base64>` (or `x-ms-signature`) is an RSA-SHA256 signature of the
 *      raw body bytes under the certificate's public key.
 * The origin allow-list is a second gate in front of the chain: nothing off it is ever fetched.
 * One error class, one message per way it can fail (STYLE: svix).
 */
import { X509Certificate, verify as rsaVerify } from "node:crypto";
import { outboundFetch } from "../http/proxy";
import { parseCertificates, TrustAnchors, verifyChain, type ChainFailure } from "./certificate-chain";

export type SignatureFailure =
  | "missing-header"
  | "unsupported-algorithm"
  | "malformed-signature"
  | "certificate-origin-not-allowed"
  | "certificate-unavailable"
  | ChainFailure
  | "certificate-organization"
  | "signature-mismatch";

export class SignatureError extends Error {
  constructor(
    readonly failure: SignatureFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SignatureError";
  }
}

export interface SignatureVerifierOptions {
  /** Origins the certificate may come from, e.g. https://3psostorageacct.blob.core.windows.net */
  readonly allowedOrigins: readonly string[];
  /** Expected `O=` of the certificate's subject or issuer. */
  readonly organization: string;
  /** Trust anchors; by default Node's bundled roots (which include Microsoft's). */
  readonly trustAnchors?: TrustAnchors;
  readonly cacheTtlMs?: number;
  readonly fetchTimeoutMs?: number;
  readonly maxCertificateBytes?: number;
  readonly now?: () => number;
  readonly fetchImpl?: typeof fetch;
}

type HeaderBag = Record<string, string | string[] | undefined>;

const header = (h: HeaderBag, name: string): string | undefined => {
  const v = h[name] ?? h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

export class PartnerCenterSignatureVerifier {
  /** Verified bundles per URL; `validFrom`–`validTo` is the window in which every certificate on the path is valid. */
  private readonly cache = new Map<string, { cert: X509Certificate; until: number; validFrom: number; validTo: number }>();
  private readonly inflight = new Map<string, Promise<X509Certificate[]>>();
  private readonly allowed: Set<string>;
  private readonly now: () => number;
  private anchors: TrustAnchors | undefined;

  constructor(private readonly options: SignatureVerifierOptions) {
    this.allowed = new Set(options.allowedOrigins.map((o) => new URL(o).origin));
    this.now = options.now ?? Date.now;
    this.anchors = options.trustAnchors;
  }

  /** Resolves when the request is authentic; throws SignatureError otherwise. */
  async verify(rawBody: Buffer, headers: HeaderBag): Promise<void> {
    const authorization = header(headers, "x-ms-signature") ?? header(headers, "authorization");
    const certUrl = header(headers, "x-ms-certificate-url");
    const algorithm = header(headers, "x-ms-signature-algorithm");
    if (!authorization || !certUrl || !algorithm)
      throw new SignatureError(
        "missing-header",
        "Partner Center webhook without Authorization (or x-ms-signature), x-ms-certificate-url or x-ms-signature-algorithm",
      );
    if (algorithm.trim().toLowerCase() !== "rsa-sha256")
      throw new SignatureError("unsupported-algorithm", `unsupported x-ms-signature-algorithm '${algorithm.slice(0, 40)}'`);
    const m = /^Signature\s+([A-Za-z0-9+/=_-]+)$/.exec(authorization.trim());
    if (!m) throw new SignatureError("malformed-signature", "the signature header is not 'Signature <base64>'");
    const signature = Buffer.from(m[1] as string, "base64");
    if (signature.length < 128 || signature.length > 1024)
      throw new SignatureError("malformed-signature", "the signature has an impossible length for RSA");

    const cert = await this.certificate(certUrl);
    const ok = rsaVerify("sha256", rawBody, cert.publicKey, signature);
    if (!ok) throw new SignatureError("signature-mismatch", "the signature does not match the body and the certificate");
  }

  private async certificate(rawUrl: string): Promise<X509Certificate> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new SignatureError("certificate-origin-not-allowed", "x-ms-certificate-url is not a URL");
    }
    if (!this.allowed.has(url.origin) || url.username || url.password)
      throw new SignatureError(
        "certificate-origin-not-allowed",
        `certificate origin ${url.origin} is not allow-listed (PC_WEBHOOK_CERT_ORIGINS)`,
      );
    const key = url.toString();
    const cached = this.cache.get(key);
    const now = this.now();
    // A cached bundle serves until its TTL or until something on its path expires; then it is
    // downloaded again (the URL may by then serve the renewed certificate).
    if (cached && cached.until > now && cached.validFrom <= now && now <= cached.validTo) return cached.cert;
    this.cache.delete(key);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.download(url).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const bundle = await pending;
    const { cert, path } = this.checkCertificate(bundle);
    const validFrom = Math.max(...path.map((c) => Date.parse(c.validFrom)));
    const validTo = Math.min(...path.map((c) => Date.parse(c.validTo)));
    this.cache.set(key, { cert, until: this.now() + (this.options.cacheTtlMs ?? 60 * 60_000), validFrom, validTo });
    return cert;
  }

  private async download(url: URL): Promise<X509Certificate[]> {
    let bytes: Buffer;
    try {
      // Through the outbound proxy unless NO_PROXY covers the certificate host.
      const res = await (this.options.fetchImpl ?? outboundFetch)(url, {
        redirect: "error",
        signal: AbortSignal.timeout(this.options.fetchTimeoutMs ?? 10_000),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const declared = Number(res.headers.get("content-length") ?? "0");
      const max = this.options.maxCertificateBytes ?? 64 * 1024;
      if (declared > max) throw new Error("certificate too large");
      bytes = Buffer.from(await res.arrayBuffer());
      if (bytes.length > max) throw new Error("certificate too large");
    } catch (err) {
      throw new SignatureError("certificate-unavailable", `could not download the signing certificate from ${url.origin}`, {
        cause: err,
      });
    }
    try {
      return parseCertificates(bytes); // DER (.cer), or PEM with the leaf first and any intermediates
    } catch (err) {
      throw new SignatureError("certificate-invalid", "the signing certificate is not an X.509 certificate", { cause: err });
    }
  }

  /** Chain, dates and key usage, then organization. */
  private checkCertificate(bundle: readonly X509Certificate[]): { cert: X509Certificate; path: readonly X509Certificate[] } {
    this.anchors ??= TrustAnchors.withNodeRoots();
    const result = verifyChain(bundle, this.anchors, this.now());
    if (!result.ok) throw new SignatureError(result.failure, result.message);
    const cert = result.path[0] as X509Certificate;
    const org = this.options.organization;
    const hasOrg = (dn: string) => dn.split(/\n|,\s*/).some((part) => part.trim() === `O=${org}`);
    if (!hasOrg(cert.subject) && !hasOrg(cert.issuer))
      throw new SignatureError("certificate-organization", `the signing certificate is not issued to or by O=${org}`);
    return { cert, path: result.path };
  }
}
