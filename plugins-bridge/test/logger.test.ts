import { Writable } from "node:stream";
import { createLogger } from "../src/observability/logger";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

describe("logger", () => {
  it("never writes a configured secret, wherever it hides", () => {
    const { lines, stream } = capture();
    const log = createLogger({ secrets: ["client-secret-value-123", 'quote"secret\\value'], destination: stream });
    log.info({ url: "https://x/?code=client-secret-value-123" }, "calling");
    log.error({ err: new Error("token client-secret-value-123 refused") }, "failed");
    log.info({ headers: { authorization: "Bearer abc.def.ghi" } }, "request");
    log.info({ note: 'quote"secret\\value' }, "escaped");
    const all = lines.join("");
    expect(all).not.toContain("client-secret-value-123");
    expect(all).not.toContain("abc.def.ghi");
    expect(all).not.toContain('quote\\"secret\\\\value');
    expect(all.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(4);
  });

  it("redacts secrets added at run time, in child loggers too", () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream });
    log.addSecret("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.sig");
    log.child({ correlationId: "c1" }).warn("got eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.sig back");
    expect(lines.join("")).not.toContain("payload.sig");
    expect(lines.join("")).toContain('"correlationId":"c1"');
  });

  it("keeps a secret added as permanent however many run-time tokens follow it", () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream });
    log.addSecret("key-material-0123456789", { permanent: true });
    log.addSecret("first-access-token-0123456789");
    for (let i = 0; i < 40; i++) log.addSecret(`access-token-${i}-0123456789`);
    log.info("key-material-0123456789 and first-access-token-0123456789");
    const all = lines.join("");
    expect(all).not.toContain("key-material-0123456789");
    // A run-time token is forgotten once 32 newer ones came (they expire within the hour).
    expect(all).toContain("first-access-token-0123456789");
  });
});
