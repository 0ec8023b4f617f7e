/**
 * The few Dataverse Web API calls a deployment makes, over fetch. Service protection (429) and
 * 503 answers are retried after `Retry-After`; other errors surface as DataverseError with the
 * status and the `{"error":{"code","message"}}` body Dataverse sends.
 */
import { parseRetryAfter } from "@cosell/contract";
import { outboundFetch, ProxyConfigError } from "@cosell/bridge/src/http/proxy";
import type { TokenSource } from "./token";

export class DataverseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly request: string,
    options?: { cause?: unknown },
  ) {
    super(`${request} → ${status}${code ? ` ${code}` : ""}: ${message}`, options);
    this.name = "DataverseError";
  }
}

export interface DataverseClientOptions {
  readonly url: string;
  readonly token: TokenSource;
  readonly apiVersion?: string;
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class DataverseClient {
  readonly base: string;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: DataverseClientOptions) {
    this.base = `${options.url.replace(/\/+$/, "")}/api/data/${options.apiVersion ?? "v9.2"}/`;
    this.sleep = options.sleep ?? realSleep;
  }

  async request<T>(method: "GET" | "POST" | "PATCH", relative: string, body?: unknown): Promise<T> {
    const label = `${method} ${relative.split("?")[0]}`;
    const attempts = this.options.maxAttempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      const token = await this.options.token();
      let res: Response;
      try {
        // Through HTTPS_PROXY / HTTP_PROXY unless NO_PROXY covers the environment's host.
        res = await outboundFetch(this.base + relative, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            ...(body === undefined ? {} : { "Content-Type": "application/json; charset=utf-8" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          // An import of a large solution can take minutes on a synchronous ImportSolution.
          signal: AbortSignal.timeout(relative.startsWith("ImportSolution") ? 30 * 60_000 : 120_000),
        });
      } catch (err) {
        if (err instanceof ProxyConfigError) throw err; // a configuration mistake, not a network hiccup
        if (attempt < attempts) {
          await this.sleep(Math.min(30_000, 1000 * 2 ** attempt));
          continue;
        }
        throw new DataverseError(0, "", `no answer (${(err as Error).message})`, label, { cause: err });
      }
      if ((res.status === 429 || res.status === 503) && attempt < attempts) {
        // The one Retry-After reading (@cosell/contract); an unreadable header falls back to back-off.
        await this.sleep(parseRetryAfter(res.headers.get("retry-after"), Date.now(), 300_000) ?? 1000 * 2 ** attempt);
        continue;
      }
      const text = await res.text();
      if (!res.ok) {
        let code = "";
        let message = text.slice(0, 500);
        try {
          const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
          code = parsed.error?.code ?? "";
          message = parsed.error?.message ?? message;
        } catch {
          // not JSON: keep the text
        }
        throw new DataverseError(res.status, code, message, label);
      }
      return (text ? JSON.parse(text) : {}) as T;
    }
  }

  get<T>(relative: string): Promise<T> {
    return this.request<T>("GET", relative);
  }

  post<T>(relative: string, body: unknown): Promise<T> {
    return this.request<T>("POST", relative, body);
  }

  patch<T>(relative: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", relative, body);
  }
}

/** OData string literal: single quotes doubled. */
export const odataString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
