/**
 * The two security roles as solution XML. Their privileges, each with its reason, are data in
 * `@cosell/contract` (roles.ts): the emulator grants the same list and `connect` checks it.
 */
import { BRIDGE_PRIVILEGES, SECURITY_ROLES, SELLER_PRIVILEGES, type PrivilegeGrant } from "@cosell/contract";
import { braced, stableGuid } from "../ids";
import { el, leaf, type XmlElement } from "../xml";
import { flag } from "./common";

export type { PrivilegeDepth, PrivilegeGrant } from "@cosell/contract";

export interface RoleDefinition {
  readonly key: "bridge" | "seller";
  readonly name: string;
  readonly description: string;
  readonly privileges: readonly PrivilegeGrant[];
}

export const ROLES: readonly RoleDefinition[] = [
  { key: "bridge", ...SECURITY_ROLES.bridge, privileges: BRIDGE_PRIVILEGES },
  { key: "seller", ...SECURITY_ROLES.seller, privileges: SELLER_PRIVILEGES },
];

export function roleId(role: RoleDefinition): string {
  return stableGuid(`role/${role.key}`);
}

export function roleXml(role: RoleDefinition): XmlElement {
  const sorted = [...role.privileges].sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
  return el(
    "Role",
    { id: braced(roleId(role)), name: role.name },
    flag("IsCustomizable", true),
    flag("IsAutoAssigned", false),
    leaf("Description", role.description),
    el("RolePrivileges", undefined, sorted.map((p) => el("RolePrivilege", { name: p.name, level: p.level }))),
  );
}
