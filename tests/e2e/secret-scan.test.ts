/**
 * The harness's secret scan itself: a secret (here only its first 30 characters) in a line the
 * bridge logged makes close() fail, naming the secret's kind and the line, never showing it.
 */
import { startE2E } from "./harness";

it("fails close() naming the secret and the line, never showing the secret", async () => {
  const e = await startE2E({ store: "sqlite", connect: false });
  const secret = e.config.dataverse.clientSecret;
  e.logLines.push('{"msg":"fine"}', `{"msg":"oops","s":"${secret.slice(0, 30)}"}`);
  const err = await e.close().then(
    () => undefined,
    (x: unknown) => x as Error,
  );
  expect(err?.message).toMatch(/leaked a secret: 1 log line\(s\) contain a secret:\n {2}line \d+: DATAVERSE_CLIENT_SECRET in .*"s":"\[DATAVERSE_CLIENT_SECRET\]"/);
  expect(err?.message).not.toContain(secret.slice(0, 24));
  expect(err?.message).not.toContain(secret.slice(24, 30));
}, 120_000);
