/**
 * Typed errors of the two APIs (STYLE: one class per failure mode the worker treats differently).
 * The worker decides from the class alone: throttled → run again after Retry-After; transient →
 * backoff; concurrency → re-read and merge again; validation/not found/auth → dead letter or audit.
 */
export type Service = "partner-center" | "dataverse" | "entra";

export interface ApiErrorDetails {
  readonly service: Service;
  readonly method: string;
  /** Path and query only: never a host with credentials or a token. */
  readonly path: string;
  readonly status?: number;
  /** The service's own error code (Dataverse 0x…, Partner Center code), when it gave one. */
  readonly code?: string;
  readonly cause?: unknown;
}

export class ApiError extends Error {
  readonly service: Service;
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly code?: string;

  constructor(message: string, details: ApiErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.service = details.service;
    this.method = details.method;
    this.path = details.path;
    this.status = details.status;
    this.code = details.code;
  }
}

/** 429: wait `retryAfterMs` before trying again. */
export class ThrottledError extends ApiError {
  constructor(
    message: string,
    details: ApiErrorDetails,
    readonly retryAfterMs: number,
  ) {
    super(message, details);
  }
}

/** 412: the record changed since it was read; re-read and merge again. */
export class ConcurrencyError extends ApiError {}

/** 400 (and 409/422): the request itself is wrong; retrying the same request cannot help. */
export class ValidationError extends ApiError {}

export class NotFoundError extends ApiError {}

/** 401/403, or a token that could not be obtained (expired password, revoked consent). */
export class AuthError extends ApiError {}

/** 5xx, timeouts, connection failures: try again later. */
export class TransientError extends ApiError {}

/** Retry-After is seconds or an HTTP date (RFC 9110); capped to keep a job from sleeping for ever. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now(), capMs = 10 * 60_000): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, capMs);
  const date = Date.parse(v);
  if (!Number.isNaN(date)) return Math.min(Math.max(0, date - now), capMs);
  return undefined;
}

export function errorForStatus(
  status: number,
  message: string,
  details: Omit<ApiErrorDetails, "status">,
  retryAfter?: string | string[],
): ApiError {
  const d = { ...details, status };
  if (status === 429) return new ThrottledError(message, d, parseRetryAfter(retryAfter) ?? 5_000);
  if (status === 412) return new ConcurrencyError(message, d);
  if (status === 404) return new NotFoundError(message, d);
  if (status === 401 || status === 403) return new AuthError(message, d);
  if (status === 400 || status === 409 || status === 422 || status === 413) return new ValidationError(message, d);
  if (status === 503 && retryAfter !== undefined)
    return new ThrottledError(message, d, parseRetryAfter(retryAfter) ?? 5_000);
  return new TransientError(message, d);
}

/** Is it worth running the same job again later? */
export function isRetryable(err: unknown): boolean {
  return err instanceof ThrottledError || err instanceof TransientError || err instanceof ConcurrencyError;
}
