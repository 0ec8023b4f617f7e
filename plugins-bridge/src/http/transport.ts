/**
 * One HTTP transport for both APIs: undici with keep-alive, a concurrency cap, a hard deadline per
 * request (undici's own timeouts are coarse, see libraries.md), and errors mapped to the typed
 * classes in ./errors. Retrying is the caller's business (the queue), except for nothing: a request
 * either answers or throws.
 */
import pLimit, { type LimitFunction } from "p-limit";
import { request, type Dispatcher } from "undici";
import { ApiError, TransientError, errorForStatus, type Service } from "./errors";
import { outboundDispatcher } from "./proxy";

export interface TransportOptions {
  readonly service: Service;
  readonly baseUrl: string;
  readonly maxConcurrency?: number;
  readonly timeoutMs?: number;
  readonly connections?: number;
  /** Turns an error body into a message and a service code. */
  readonly describeError?: (status: number, body: unknown, text: string) => { message: string; code?: string };
}

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Relative to baseUrl, or absolute (nextLink); absolute URLs must share baseUrl's origin. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** Parsed JSON, or undefined for an empty or non-JSON body. */
  readonly json: unknown;
}

/**
 * At most `limit` requests in flight; the rest wait in order. p-limit, not a hand-written
 * semaphore: a freed slot goes to the waiter it was promised to, so a newcomer arriving in between
 * cannot take it as well (tested in test/http-limit.test.ts).
 */
export class ConcurrencyLimit {
  private readonly limit: LimitFunction;
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a whole number ≥ 1 (got ${limit})`);
    this.limit = pLimit(limit);
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.limit(fn);
  }

  get inFlight(): number {
    return this.limit.activeCount;
  }

  get waiting(): number {
    return this.limit.pendingCount;
  }
}

export class HttpTransport {
  private readonly agent: Dispatcher;
  private readonly limiter: ConcurrencyLimit;
  private readonly origin: string;

  constructor(private readonly options: TransportOptions) {
    this.origin = new URL(options.baseUrl).origin;
    // Through HTTPS_PROXY / HTTP_PROXY unless NO_PROXY covers the host (./proxy).
    this.agent = outboundDispatcher({
      keepAliveTimeout: 30_000,
      connections: options.connections ?? 64,
      pipelining: 1,
    });
    this.limiter = new ConcurrencyLimit(options.maxConcurrency ?? 16);
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  resolve(path: string): URL {
    if (/^https?:\/\//i.test(path)) {
      const u = new URL(path);
      if (u.origin !== this.origin)
        throw new ApiError(`refusing to follow a link to another host (${u.origin})`, {
          service: this.options.service,
          method: "GET",
          path: u.pathname,
        });
      return u;
    }
    return new URL(this.options.baseUrl.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`));
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const url = this.resolve(req.path);
    const pathForErrors = url.pathname + (url.search.length > 200 ? `${url.search.slice(0, 200)}…` : url.search);
    const details = { service: this.options.service, method: req.method, path: pathForErrors };
    return this.limiter.run(async () => {
      const timeout = req.timeoutMs ?? this.options.timeoutMs ?? 30_000;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method: req.method,
          headers: req.headers,
          body: req.body,
          dispatcher: this.agent,
          signal: AbortSignal.timeout(timeout),
        });
      } catch (err) {
        const what = (err as Error).name === "TimeoutError" ? `timed out after ${timeout} ms` : "failed to connect";
        throw new TransientError(`${this.options.service} ${req.method} ${url.pathname} ${what}`, { ...details, cause: err });
      }
      let text: string;
      try {
        text = await res.body.text();
      } catch (err) {
        throw new TransientError(`${this.options.service} response body was cut off`, { ...details, cause: err });
      }
      let json: unknown;
      const ct = String(res.headers["content-type"] ?? "");
      if (text.length > 0 && (ct.includes("json") || /^\s*[[{]/.test(text))) {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      if (res.statusCode >= 400) {
        const described = this.options.describeError?.(res.statusCode, json, text) ?? {
          message: text.slice(0, 300) || `HTTP ${res.statusCode}`,
        };
        throw errorForStatus(
          res.statusCode,
          `${this.options.service} ${req.method} ${url.pathname}: ${res.statusCode} ${described.message}`,
          { ...details, code: described.code },
          res.headers["retry-after"],
        );
      }
      return { status: res.statusCode, headers: res.headers, text, json };
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
