/** The sandbox: local emulators of Entra ID, Partner Center and the Dataverse Web API, and their composition. */
export * from "./compose";
export { startIdentityEmulator, TokenService, type IdentityEmulator, type SandboxUser } from "./identity";
export { startPartnerCenterEmulator, type PartnerCenterEmulator } from "./partner-center";
export { startDataverseEmulator, SEEDED_IDS, type DataverseEmulator } from "./dataverse";
export { FaultInjector, type FaultSettings, type FaultSettingsInput } from "./faults";
export {
  mountFormHost,
  formHostUrl,
  FORM_HOST_PREFIX,
  FormHostBuildError,
  type FormHostOptions,
  type FormHostLinkOptions,
} from "./form-host";
export { startForwardProxy, withProxyEnv, type ForwardProxy, type ProxiedRequest, type ForwardProxyOptions } from "./forward-proxy";
