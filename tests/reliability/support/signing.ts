/**
 * Certificates for webhook tests: a server that hands out a signing certificate and counts who
 * asks. One stands on an allow-listed origin (a second legitimate dispatcher, so that tests can
 * sign any body the bridge will verify); one is a decoy off the allow-list, which must never be
 * asked at all.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createDispatchIdentity, type DispatchIdentity } from "@cosell/sandbox/src/partner-center/certificate";

export interface CertificateServer {
  readonly identity: DispatchIdentity;
  readonly origin: string;
  /** The certificate's URL on this server. */
  readonly certificateUrl: string;
  /** Every request this server got (method and path), in order. */
  readonly requests: readonly string[];
  /** A signature of `body` by this server's key, as the Authorization header carries it. */
  sign(body: Buffer | string): string;
  close(): Promise<void>;
}

export async function startCertificateServer(name: string): Promise<CertificateServer> {
  const identity = await createDispatchIdentity();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method ?? "?"} ${req.url ?? ""}`);
    req.resume();
    res.writeHead(200, { "content-type": "application/pkix-cert", "content-length": identity.certificateDer.length });
    res.end(identity.certificateDer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    identity,
    origin,
    certificateUrl: `${origin}/certificates/${name}.cer`,
    requests,
    sign: (body) => `Signature ${identity.sign(Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8"))}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
