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
  /** A name (`Unauthorized`, …) or one of Partner Center's numbered codes (`900421`: MFA required). */
  readonly code: string | number;
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
    options?: { cause?: unknown; data?: readonly unknown[]; headers?: Readonly<Record<string, string>>; bodyCode?: number },
  ) {
    super(description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = STATUS[code];
    this.data = options?.data ?? [];
    this.headers = options?.headers ?? {};
    this.bodyCode = options?.bodyCode;
  }

  /** The numbered code the body carries instead of the name, where Partner Center has one. */
  readonly bodyCode: number | undefined;

  readonly data: readonly unknown[];
  readonly headers: Readonly<Record<string, string>>;

  body(source = "PartnerCenter"): ErrorBody {
    return { code: this.bodyCode ?? this.code, description: this.description.slice(0, 1024), data: this.data, source };
  }
}

/**
 * Partner Center's answer to an App+User token whose sign-in did not pass MFA (enforced since
 * 2026-04-01): 401 with error code 900421. The description's wording is ours (UNVERIFIED).
 */
export const MFA_REQUIRED_CODE = 900421;
export const mfaRequired = (): PartnerCenterError =>
  new PartnerCenterError(
    "Unauthorized",
    "Multi-factor authentication required: App+User calls to Partner Center need an access token whose sign-in passed MFA (amr claim 'mfa'). Sign the account in again with MFA.",
    { bodyCode: MFA_REQUIRED_CODE },
  );

export const badRequest = (description: string, cause?: unknown): PartnerCenterError =>
  new PartnerCenterError("BadRequest", description, { cause });
export const notFound = (description: string): PartnerCenterError => new PartnerCenterError("NotFound", description);
