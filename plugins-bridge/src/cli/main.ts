/** Process entry of `cosell-bridge` (bin/cosell-bridge.js loads this, or the bundle built from it). */
import { runCli } from "./program";

runCli(process.argv.slice(2), {
  env: process.env,
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stderr.isTTY),
}).then(
  (code) => {
    process.exitCode = code;
    // Let stdout drain; anything still holding the event loop after a command is a leak, not work.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`cosell-bridge: ${(err as Error).message ?? String(err)}\n`);
    process.exit(1);
  },
);
