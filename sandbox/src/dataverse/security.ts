/**
 * Security roles as Dataverse enforces them, reduced to what this product meets: a caller holds the
 * union of the privileges of the roles assigned to it, System Administrator holds all, and a request
 * is refused with 403 `0x80040220` naming the first privilege it lacks, before anything else about
 * the request is looked at (docs/sandbox-dataverse.md, "Security roles").
 *
 * Privilege names are Dataverse's: `prv<Create|Read|Write|Delete|Append|AppendTo><Table schema name>`,
 * with the platform's exceptions (systemuser → `User`, every activity table → `Activity`, a message's
 * filters come with `prvReadSdkMessage`). Depth (Basic … Global) is kept but not evaluated: every
 * grant reaches every record, which is what the bridge's Global grants do and what a seller's
 * Basic grants do on the seller's own records in these tests.
 */
import { randomUUID } from "node:crypto";
import { DataverseError } from "./errors";
import type { Caller } from "./data/operations";
import type { EntityMetadata } from "./metadata/types";

export type Access = "Create" | "Read" | "Write" | "Delete" | "Append" | "AppendTo";
export type Depth = "Basic" | "Local" | "Deep" | "Global";

/** Roles every organization has. */
export const SYSTEM_ADMINISTRATOR = "System Administrator";
export const SALESPERSON = "Salesperson";

/**
 * The name a standard table's privileges carry (its schema name, with the platform's exceptions:
 * systemuser → User, activities → Activity, a message's filters → SdkMessage). Custom tables use
 * their schema name.
 */
const PRIVILEGE_TABLE: Readonly<Record<string, string>> = {
  account: "Account",
  contact: "Contact",
  lead: "Lead",
  opportunity: "Opportunity",
  opportunityclose: "Activity",
  activitypointer: "Activity",
  systemuser: "User",
  team: "Team",
  businessunit: "BusinessUnit",
  organization: "Organization",
  transactioncurrency: "TransactionCurrency",
  publisher: "Publisher",
  solution: "Solution",
  environmentvariabledefinition: "EnvironmentVariableDefinition",
  environmentvariablevalue: "EnvironmentVariableValue",
  customcontrol: "CustomControl",
  webresource: "WebResource",
  systemform: "SystemForm",
  role: "Role",
  plugintype: "PluginType",
  serviceendpoint: "ServiceEndpoint",
  sdkmessage: "SdkMessage",
  sdkmessagefilter: "SdkMessage",
  sdkmessageprocessingstep: "SdkMessageProcessingStep",
  sdkmessageprocessingstepimage: "SdkMessageProcessingStepImage",
  asyncoperation: "AsyncOperation",
  importjob: "ImportJob",
};

export function privilegeName(entity: EntityMetadata, access: Access): string {
  return `prv${access}${PRIVILEGE_TABLE[entity.logicalName] ?? entity.schemaName}`;
}

/** Append/AppendTo exist for records that have an owner; organization-owned tables link freely. */
export function appendChecked(entity: EntityMetadata): boolean {
  return entity.ownership === "UserOwned";
}

export interface RoleDefinition {
  readonly id: string;
  readonly name: string;
  /** Privilege name (lower case) → depth. */
  readonly privileges: ReadonlyMap<string, { readonly name: string; readonly depth: Depth }>;
  readonly all: boolean;
}

const SALES_TABLES = ["Account", "Contact", "Lead", "Opportunity", "Activity"];
const SALESPERSON_PRIVILEGES: ReadonlyArray<readonly [string, Depth]> = [
  ...SALES_TABLES.flatMap((t) => (["Create", "Read", "Write", "Delete", "Append", "AppendTo"] as const).map((a) => [`prv${a}${t}`, t === "Account" || t === "Contact" ? "Local" : "Basic"] as const)),
  ["prvReadUser", "Global"],
  ["prvReadBusinessUnit", "Global"],
  ["prvReadTransactionCurrency", "Global"],
];

/** Stable ids for the seeded roles, so a reset keeps what was assigned. */
const SEEDED_ROLE_IDS: Readonly<Record<string, string>> = {
  [SYSTEM_ADMINISTRATOR]: "a1e6f2c0-5e1b-4c3a-9d4e-000000000001",
  [SALESPERSON]: "a1e6f2c0-5e1b-4c3a-9d4e-000000000002",
};

export class Security {
  private roles = new Map<string, RoleDefinition>();
  /**
   * systemuserid → `id:<role id>` or `name:<role name>` (a role assigned by name before it is
   * imported, as the sandbox does for the bridge's role). Identity, not data: kept across
   * `Organization.reset()`.
   */
  private readonly assignments = new Map<string, Set<string>>();
  /** A stable id per privilege name, as `RetrieveUserPrivileges` answers them. */
  private readonly privilegeIds = new Map<string, string>();

  /** Forget every role (a rebuilt organization); the seeded ones come back at once. */
  resetRoles(): void {
    this.roles = new Map();
    this.defineRole(SEEDED_ROLE_IDS[SYSTEM_ADMINISTRATOR]!, SYSTEM_ADMINISTRATOR, [], true);
    this.defineRole(SEEDED_ROLE_IDS[SALESPERSON]!, SALESPERSON, SALESPERSON_PRIVILEGES.map(([name, depth]) => ({ name, depth })));
  }

  seededRoles(): ReadonlyArray<{ id: string; name: string }> {
    return Object.entries(SEEDED_ROLE_IDS).map(([name, id]) => ({ id, name }));
  }

  defineRole(id: string, name: string, privileges: ReadonlyArray<{ name: string; depth: Depth | string }>, all = false): RoleDefinition {
    const map = new Map<string, { name: string; depth: Depth }>();
    for (const p of privileges) map.set(p.name.toLowerCase(), { name: p.name, depth: (p.depth as Depth) ?? "Global" });
    const role: RoleDefinition = { id: id.toLowerCase(), name, privileges: map, all };
    this.roles.set(role.id, role);
    return role;
  }

  role(id: string): RoleDefinition | undefined {
    return this.roles.get(id.toLowerCase());
  }

  roleByName(name: string): RoleDefinition | undefined {
    for (const r of this.roles.values()) if (r.name.toLowerCase() === name.toLowerCase()) return r;
    return undefined;
  }

  assign(userId: string, roleId: string): void {
    this.entries(userId).add(`id:${roleId.toLowerCase()}`);
  }

  /** Assigns a role by name: it takes effect whenever a role of that name exists (seeded or imported). */
  assignByName(userId: string, roleName: string): void {
    this.entries(userId).add(`name:${roleName.toLowerCase()}`);
  }

  unassign(userId: string, roleId: string): void {
    const entries = this.entries(userId);
    entries.delete(`id:${roleId.toLowerCase()}`);
    const role = this.role(roleId);
    if (role) entries.delete(`name:${role.name.toLowerCase()}`);
  }

  /** The roles assigned to a user that exist in this organization now. */
  rolesOf(userId: string): RoleDefinition[] {
    const out = new Map<string, RoleDefinition>();
    for (const entry of this.assignments.get(userId.toLowerCase()) ?? []) {
      const role = entry.startsWith("id:") ? this.roles.get(entry.slice(3)) : this.roleByName(entry.slice(5));
      if (role) out.set(role.id, role);
    }
    return [...out.values()];
  }

  private entries(userId: string): Set<string> {
    const key = userId.toLowerCase();
    let set = this.assignments.get(key);
    if (!set) {
      set = new Set();
      this.assignments.set(key, set);
    }
    return set;
  }

  has(userId: string, privilege: string): boolean {
    const wanted = privilege.toLowerCase();
    return this.rolesOf(userId).some((r) => r.all || r.privileges.has(wanted));
  }

  /**
   * What `RetrieveUserPrivileges` answers: one entry per privilege (deepest depth wins). A role that
   * holds everything (System Administrator) lists every privilege in `everything`, Global.
   */
  privilegesOf(
    userId: string,
    businessUnitId: string,
    everything: () => Iterable<string>,
  ): Array<{ PrivilegeId: string; PrivilegeName: string; Depth: Depth; BusinessUnitId: string }> {
    const order: Depth[] = ["Basic", "Local", "Deep", "Global"];
    const out = new Map<string, { name: string; depth: Depth }>();
    const roles = this.rolesOf(userId);
    if (roles.some((r) => r.all)) {
      for (const name of everything()) out.set(name.toLowerCase(), { name, depth: "Global" });
      for (const r of this.roles.values()) for (const [key, p] of r.privileges) out.set(key, { name: p.name, depth: "Global" });
    }
    for (const r of roles) {
      for (const [key, p] of r.privileges) {
        const had = out.get(key);
        if (!had || order.indexOf(p.depth) > order.indexOf(had.depth)) out.set(key, p);
      }
    }
    return [...out.values()].map((p) => ({ PrivilegeId: this.privilegeId(p.name), PrivilegeName: p.name, Depth: p.depth, BusinessUnitId: businessUnitId }));
  }

  /** Throws the 403 Dataverse answers when `caller` lacks `privilege`. */
  demand(caller: Caller, privilege: string, entity?: EntityMetadata): void {
    if (this.has(caller.systemuserid, privilege)) return;
    const roles = this.rolesOf(caller.systemuserid);
    const count = roles.reduce((n, r) => n + r.privileges.size, 0);
    const on = entity ? ` on OTC=${entity.objectTypeCode} for entity '${entity.logicalName}'` : "";
    throw new DataverseError(
      403,
      "0x80040220",
      `Principal user (Id=${caller.systemuserid}, type=8, roleCount=${roles.length}, privilegeCount=${count}, accessMode=${caller.applicationid ? 4 : 0}), is missing ${privilege} privilege (Id=${this.privilegeId(privilege)})${on}. context.Caller=${caller.systemuserid}`,
    );
  }

  private privilegeId(name: string): string {
    const key = name.toLowerCase();
    let id = this.privilegeIds.get(key);
    if (!id) {
      id = randomUUID();
      this.privilegeIds.set(key, id);
    }
    return id;
  }
}
