/** Tests that set the outbound proxy variables (HTTP_PROXY …) for one call. */

const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"] as const;

/** Runs with exactly these proxy variables set (the rest unset), restoring the environment after. */
export async function withProxyEnv<T>(vars: Partial<Record<(typeof PROXY_VARIABLES)[number], string>>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(PROXY_VARIABLES.map((n) => [n, process.env[n]]));
  for (const n of PROXY_VARIABLES) delete process.env[n];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const n of PROXY_VARIABLES) {
      const v = saved[n];
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
  }
}
