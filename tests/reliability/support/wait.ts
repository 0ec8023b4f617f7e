/** Polling, never fixed sleeps as a success criterion: the machine is slow and shared. */

export type Check<T> = () => T | undefined | false | null | Promise<T | undefined | false | null>;

/** Resolves with the first truthy value `check` returns; throws (with the last error) after `timeoutMs`. */
export async function waitFor<T>(check: Check<T>, what: string, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false && value !== null) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await pause(intervalMs);
  }
}

/** A pause between attempts (never a success criterion). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
