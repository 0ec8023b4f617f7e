/**
 * The outbound proxy, from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (lower-case names win, as with curl and
 * undici). Every outbound call of the bridge and of the deploy tool gets its dispatcher here, so one
 * rule decides which proxy a URL goes through:
 *   - an https URL uses HTTPS_PROXY, else HTTP_PROXY; an http URL uses HTTP_PROXY;
 *   - NO_PROXY (comma or space separated) sends a host directly when it is `*`, the host itself, or a
 *     parent domain (`contoso.com`, `.contoso.com` and `*.contoso.com` all cover `api.contoso.com`);
 *     `host:port` matches that port only. Loopback is proxied like any host unless NO_PROXY names it.
 * The decision is undici's EnvHttpProxyAgent, given these settings explicitly so it never reads the
 * environment behind our back; `proxyFor` states the same rule for the configuration's printout
 * (`describeRoutes`), and the tests check that the two agree.
 * Proxy credentials (user:password in the proxy URL) are sent as Proxy-Authorization and never printed.
 */
import { Agent, EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from "undici";

export interface ProxySettings {
  readonly httpProxy?: string;
  readonly httpsProxy?: string;
  /** As given (comma or space separated); "" when unset. */
  readonly noProxy: string;
}

export class ProxyConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid proxy configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ProxyConfigError";
  }
}

const pick = (env: NodeJS.ProcessEnv, name: string): { name: string; value: string } | undefined => {
  for (const n of [name.toLowerCase(), name]) {
    const v = env[n]?.trim();
    if (v) return { name: n, value: v };
  }
  return undefined;
};

/** The proxy settings in `env`, or undefined when no proxy is configured. Throws ProxyConfigError, naming the variable. */
export function proxySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProxySettings | undefined {
  const problems: string[] = [];
  const proxyUrl = (name: string): string | undefined => {
    const found = pick(env, name);
    if (!found) return undefined;
    let u: URL | undefined;
    try {
      u = new URL(found.value);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:") || (u.pathname !== "/" && u.pathname !== "")) {
      problems.push(`${found.name} must be a proxy URL like http://proxy.contoso.com:3128 (got ${u ? redactProxyUrl(found.value) : "an unparseable value"})`);
      return undefined;
    }
    return found.value;
  };
  const httpProxy = proxyUrl("HTTP_PROXY");
  const httpsProxy = proxyUrl("HTTPS_PROXY");
  if (problems.length) throw new ProxyConfigError(problems);
  if (!httpProxy && !httpsProxy) return undefined;
  return { ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), noProxy: pick(env, "NO_PROXY")?.value ?? "" };
}

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "https:": 443 };

/** The proxy a request to `url` goes through (undefined: directly), by the rule above. */
export function proxyFor(url: string | URL, settings: ProxySettings | undefined): string | undefined {
  if (!settings) return undefined;
  const u = new URL(url);
  const proxy = u.protocol === "https:" ? (settings.httpsProxy ?? settings.httpProxy) : settings.httpProxy;
  if (!proxy) return undefined;
  const host = u.host.replace(/:\d*$/, "").toLowerCase();
  const port = Number(u.port) || DEFAULT_PORTS[u.protocol] || 0;
  const entries = settings.noProxy.split(/[,\s]/).filter(Boolean);
  if (settings.noProxy.trim() === "*") return undefined;
  for (const entry of entries) {
    const m = /^(.+):(\d+)$/.exec(entry);
    const name = (m ? (m[1] as string) : entry).replace(/^\*?\./, "").toLowerCase();
    if (m && Number(m[2]) !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return undefined;
  }
  return proxy;
}

/** A proxy URL as it may be printed: the password replaced. */
export function redactProxyUrl(u: string): string {
  try {
    const parsed = new URL(u);
    if (parsed.password) parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "[unparseable URL]";
  }
}

/** The settings as they may be printed (config, logs). */
export function describeProxy(settings: ProxySettings): Record<string, string> {
  return {
    ...(settings.httpsProxy ? { httpsProxy: redactProxyUrl(settings.httpsProxy) } : {}),
    ...(settings.httpProxy ? { httpProxy: redactProxyUrl(settings.httpProxy) } : {}),
    noProxy: settings.noProxy,
  };
}

/** For each named URL, the proxy its calls go through (redacted) or "direct": what an operator checks first. */
export function describeRoutes(urls: Record<string, string>, settings: ProxySettings | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(urls).map(([name, url]) => {
      const proxy = proxyFor(url, settings);
      return [name, proxy ? `via ${redactProxyUrl(proxy)}` : "direct"];
    }),
  );
}

/**
 * An undici dispatcher for outbound calls: a plain keep-alive Agent when no proxy is configured,
 * else an EnvHttpProxyAgent (same options) that picks the proxy per origin.
 */
export function outboundDispatcher(
  options: Agent.Options = {},
  settings: ProxySettings | undefined = proxySettingsFromEnv(),
): Dispatcher {
  if (!settings) return new Agent(options);
  // Through a tunnel undici applies `requestTls`, not `connect`, to the target's TLS: carry it over.
  const tls = options.connect && typeof options.connect === "object" ? { requestTls: options.connect } : {};
  return new EnvHttpProxyAgent({
    ...options,
    ...tls,
    ...(settings.httpProxy ? { httpProxy: settings.httpProxy } : {}),
    ...(settings.httpsProxy ? { httpsProxy: settings.httpsProxy } : {}),
    noProxy: settings.noProxy,
  });
}

let shared: { key: string; dispatcher: Dispatcher } | undefined;

/**
 * `fetch` for one-off outbound calls (token endpoints, the webhook certificate, the deploy tool):
 * Node's own fetch when no proxy is configured, else undici's fetch through the proxy dispatcher
 * (one, shared, rebuilt only if the proxy variables change). Takes a URL, not a Request.
 */
export function outboundFetch(url: string | URL, init?: RequestInit): Promise<Response> {
  const settings = proxySettingsFromEnv();
  if (!settings) return fetch(url, init);
  const key = JSON.stringify(settings);
  if (shared?.key !== key) {
    void shared?.dispatcher.close();
    shared = { key, dispatcher: outboundDispatcher({ keepAliveTimeout: 30_000 }, settings) };
  }
  type UndiciInit = NonNullable<Parameters<typeof undiciFetch>[1]>;
  // undici's Response is the class Node's fetch returns (Node bundles undici); only the type packages differ.
  return undiciFetch(url, { ...(init as UndiciInit), dispatcher: shared.dispatcher }) as unknown as Promise<Response>;
}
