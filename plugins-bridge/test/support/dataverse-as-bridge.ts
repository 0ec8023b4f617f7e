/**
 * A Dataverse emulator with the contract provisioned and an application user holding only the
 * bridge's "Co-sell Bridge Service" role, and a `getToken` for it: what the bridge meets in a
 * least-privilege install.
 */
import { randomUUID } from "node:crypto";
import { SECURITY_ROLES } from "@cosell/contract";
import { TokenService } from "@cosell/sandbox/src/identity";
import { startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox/src/dataverse";

const RESOURCE = "https://org.crm.dynamics.com";

export async function dataverseAsBridge(): Promise<{ dv: DataverseEmulator; getToken: () => Promise<string> }> {
  const tokens = new TokenService();
  const dv = await startDataverseEmulator({ tokens, resourceUrl: RESOURCE });
  dv.provisionContract();
  const appId = randomUUID();
  dv.registerApplicationUser({ applicationId: appId, fullName: "cosell-bridge", roles: [SECURITY_ROLES.bridge.name] });
  tokens.registerClient({ clientId: appId, clientSecret: "secret" });
  const getToken = async () => tokens.clientCredentials({ clientId: appId, clientSecret: "secret", resource: RESOURCE }).accessToken;
  return { dv, getToken };
}
