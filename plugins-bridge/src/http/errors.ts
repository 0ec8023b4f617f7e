/**
 * Typed errors of the two APIs (STYLE: one class per failure mode the worker treats differently).
 * The worker decides from the class alone: throttled → run again after Retry-After; transient →
 * backoff; concurrency → re-read and merge again; validation/not found/auth → dead letter or audit.
 */
import { parseRetryAfter } from "@cosell/contract";

/** A 429 (or 503 with Retry-After) whose header is absent or unreadable: wait this long, never 0. */
export const UNREADABLE_RETRY_AFTER_MS = 5_000;

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

export function errorForStatus(
  status: number,
  message: string,
  details: Omit<ApiErrorDetails, "status">,
  retryAfter?: string | string[],
): ApiError {
  const d = { ...details, status };
  if (status === 429) return new ThrottledError(message, d, parseRetryAfter(retryAfter) ?? UNREADABLE_RETRY_AFTER_MS);
  if (status === 412) return new ConcurrencyError(message, d);
  if (status === 404) return new NotFoundError(message, d);
  if (status === 401 || status === 403) return new AuthError(message, d);
  if (status === 400 || status === 409 || status === 422 || status === 413) return new ValidationError(message, d);
  if (status === 503 && retryAfter !== undefined)
    return new ThrottledError(message, d, parseRetryAfter(retryAfter) ?? UNREADABLE_RETRY_AFTER_MS);
  return new TransientError(message, d);
}

/** Is it worth running the same job again later? */
export function isRetryable(err: unknown): boolean {
  return err instanceof ThrottledError || err instanceof TransientError || err instanceof ConcurrencyError;
}
