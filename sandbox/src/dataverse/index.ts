/**
 * Dataverse Web API emulator (`/api/data/v9.2/`): see docs/sandbox-dataverse.md for what is
 * emulated and README.md in this folder for how it is put together.
 */
export { startDataverseEmulator, API_PREFIX, type DataverseEmulator, type DataverseEmulatorOptions } from "./server";
export { SEEDED_IDS, sdkMessageId, sdkMessageFilterId, type CommitEntry, type SeededIds } from "./org";
export { DataverseError } from "./errors";
export type { WebhookDelivery } from "./webhooks/dispatcher";
export type { RemoteExecutionContext } from "./webhooks/context";
export type { ProtectionLimits } from "./protection";
