/**
 * `cosell-bridge` as the reliability suites run it in a child process: the real command line,
 * plus one knob for tests the bridge has no setting for yet. COSELL_TEST_BACKOFF_MAX_MS lowers the
 * ceiling of the retry backoff (15 minutes in production), so that a chaos run where one request
 * in six fails converges in minutes; docs/RELIABILITY.md asks for a real setting to replace it.
 */
import { DEFAULT_BACKOFF, type BackoffPolicy } from "@cosell/bridge/src/store/backoff";

const cap = process.env["COSELL_TEST_BACKOFF_MAX_MS"];
if (cap !== undefined && cap.trim() !== "") {
  const maxMs = Number(cap);
  if (!Number.isInteger(maxMs) || maxMs < 100) throw new Error(`COSELL_TEST_BACKOFF_MAX_MS must be a whole number of ms ≥ 100, got '${cap}'`);
  const policy = DEFAULT_BACKOFF as { -readonly [K in keyof BackoffPolicy]: BackoffPolicy[K] };
  policy.maxMs = maxMs;
  policy.baseMs = Math.min(policy.baseMs, Math.max(50, Math.floor(maxMs / 8)));
}

// Loaded only now, after the knob: main.ts runs the command as soon as it is loaded. (A plain
// require: this file runs under tsx's CommonJS hook, where import() would go to the ESM loader.)
// eslint-disable-next-line @typescript-eslint/no-require-imports
require("@cosell/bridge/src/cli/main");
