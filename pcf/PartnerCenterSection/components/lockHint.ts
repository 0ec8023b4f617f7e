import type { LockReason } from "../model/section";
import { StringKey, type Strings } from "../Strings";

/**
 * The explanation shown under a part that cannot be changed. A read-only form and a closed
 * referral are explained once at the top of the section instead.
 */
export function lockHint(strings: Strings, reason: LockReason | null): string | undefined {
  switch (reason) {
    case "fieldSecurity":
      return strings(StringKey.Lock_fieldSecurity);
    case "referralExists":
      return strings(StringKey.Lock_referralExists);
    case "irreversible":
      return strings(StringKey.Lock_irreversible);
    default:
      return undefined;
  }
}
