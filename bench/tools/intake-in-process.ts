/**
 * Diagnostics: the webhook intake without HTTP — `PartnerCenterIntake.receive` called in this
 * process (signature verified against a served certificate, body parsed, link looked up, event and
 * job recorded), `concurrency` calls in flight, on a fresh store. Prints events/s and the process's
 * CPU per event, which moves less with the neighbours' load than the rate does. Alternate A/B runs.
 *
 *   npx tsx bench/tools/intake-in-process.ts [postgres|sqlite] [events=5000] [concurrency=32]
 */
import { randomUUID, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import { createDispatchIdentity, type DispatchIdentity } from "@cosell/sandbox/src/partner-center";
import { openStore } from "@cosell/bridge/src/store";
import { PartnerCenterIntake } from "@cosell/bridge/src/webhooks/intake";
import { TrustAnchors } from "@cosell/bridge/src/webhooks/certificate-chain";
import { PartnerCenterSignatureVerifier } from "@cosell/bridge/src/webhooks/partner-center-signature";
import { freshStore, type StoreKind } from "../lib/stores";

interface Signed {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

/** `count` signed changes over count/10 referrals, each one new (as bench/intake.ts sends them). */
function signedEvents(identity: DispatchIdentity, certificateUrl: string, count: number): Signed[] {
  const ids = Array.from({ length: Math.max(1, Math.floor(count / 10)) }, () => randomUUID());
  const start = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const body = Buffer.from(
      JSON.stringify({
        EventName: "referral-updated",
        ResourceUri: `https://api.partnercenter.microsoft.com/engagements/v1/referrals/${ids[i % ids.length]}`,
        ResourceName: "referral",
        AuditUri: null,
        ResourceChangeUtcDate: new Date(start - i * 1000).toISOString(),
      }),
    );
    return {
      body,
      headers: { "content-type": "application/json", authorization: `Signature ${identity.sign(body)}`, "x-ms-certificate-url": certificateUrl, "x-ms-signature-algorithm": "rsa-sha256" },
    };
  });
}

async function main(): Promise<void> {
  const kind = (process.argv[2] ?? "postgres") as StoreKind;
  if (kind !== "postgres" && kind !== "sqlite") throw new Error(`store ${String(kind)}: postgres or sqlite`);
  const events = Number(process.argv[3] ?? 5_000);
  const concurrency = Number(process.argv[4] ?? 32);

  const identity = await createDispatchIdentity();
  const certificates = http.createServer((_req, res) => res.end(identity.certificateDer));
  await new Promise<void>((resolve) => certificates.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(certificates.address() as AddressInfo).port}`;
  const verifier = new PartnerCenterSignatureVerifier({
    allowedOrigins: [origin],
    organization: "Microsoft Corporation",
    trustAnchors: new TrustAnchors([new X509Certificate(identity.rootCertificatePem)]),
  });
  const workDir = fs.mkdtempSync(`${os.tmpdir()}/cosell-intake-`);
  const bench = await freshStore(kind, workDir, "intake_in_process");
  const store = await openStore(bench.config);
  const intake = new PartnerCenterIntake(store, verifier);

  const run = async (batch: readonly Signed[]) => {
    let next = 0;
    const worker = async () => {
      while (next < batch.length) {
        const e = batch[next++] as Signed;
        const result = await intake.receive(e.body, e.headers);
        if (result.outcome !== "accepted") throw new Error(`not accepted: ${JSON.stringify(result)}`);
      }
    };
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    return { perSecond: batch.length / seconds, cpuMsPerEvent: (used.user + used.system) / 1000 / batch.length };
  };
  try {
    await run(signedEvents(identity, `${origin}/c.cer`, 500)); // warm-up: JIT, statements, the certificate cached
    const r = await run(signedEvents(identity, `${origin}/c.cer`, events));
    console.log(`intake in process on ${kind}: ${Math.round(r.perSecond)} events/s, ${r.cpuMsPerEvent.toFixed(3)} ms CPU per event (${events} events, ${concurrency} in flight)`);
  } finally {
    await store.close();
    await bench.drop();
    certificates.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
