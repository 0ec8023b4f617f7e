/** Partner Center emulator (Referrals API, Webhooks API, signed event delivery, sandbox control). */
export {
  DEFAULT_PARTNER,
  DEFAULT_PARTNER_CENTER_PORT,
  REFERRALS_AUDIENCE,
  WEBHOOKS_AUDIENCE,
  startPartnerCenterEmulator,
  type CommitEvent,
  type EmulatorLogger,
  type PartnerCenterEmulator,
  type PartnerCenterEmulatorOptions,
} from "./server";
export {
  createCertificateAuthority,
  createDispatchIdentity,
  sandboxRootCa,
  CERTIFICATE_FILE_NAME,
  type CertificateAuthority,
  type DispatchIdentity,
} from "./certificate";
export { MFA_REQUIRED_CODE, PartnerCenterError, type ErrorBody } from "./errors";
export { ALLOWED_SUBSTATUS, STATUS_TRANSITIONS } from "./referral-rules";
export {
  REFERRAL_STATUSES,
  REFERRAL_SUBSTATUSES,
  type Member,
  type Referral,
  type ReferralStatus,
  type ReferralSubstatus,
} from "./referral-shape";
export { MICROSOFT_ORGANIZATION, RESPONSE_WINDOW_DAYS, type Partner } from "./referral-service";
export { SUPPORTED_EVENTS, type DeliveryRecord, type DeliveryAttempt, type ValidationEvent } from "./webhooks";
