/**
 * Errors the emulator answers with. The body is Partner Center's generic error shape
 * (`{code, description, data, source}`, specs §2.11); its use on the referrals host is UNVERIFIED.
 */

export type ErrorCode =
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "Conflict"
  | "PreconditionFailed"
  | "PreconditionRequired"
  | "TooManyRequests"
  | "InternalServerError"
  | "ServiceUnavailable";

const STATUS: Record<ErrorCode, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  PreconditionFailed: 412,
  PreconditionRequired: 428,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
};

export interface ErrorBody {
  readonly code: string;
  readonly description: string;
  readonly data: readonly unknown[];
  readonly source: string;
}

export class PartnerCenterError extends Error {
  override readonly name = "PartnerCenterError";
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly description: string,
    options?: { cause?: unknown; data?: readonly unknown[]; headers?: Readonly<Record<string, string>> },
  ) {
    super(description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = STATUS[code];
    this.data = options?.data ?? [];
    this.headers = options?.headers ?? {};
  }

  readonly data: readonly unknown[];
  readonly headers: Readonly<Record<string, string>>;

  body(source = "PartnerCenter"): ErrorBody {
    return { code: this.code, description: this.description.slice(0, 1024), data: this.data, source };
  }
}

export const badRequest = (description: string, cause?: unknown): PartnerCenterError =>
  new PartnerCenterError("BadRequest", description, { cause });
export const notFound = (description: string): PartnerCenterError => new PartnerCenterError("NotFound", description);
