/**
 * The emulated organization: its schema, its rows, its users and the commit log. Everything the
 * HTTP layer does goes through here; `reset()` brings it back to the state it started in.
 */
import { EventEmitter } from "node:events";
import { SECURITY_ROLES } from "@cosell/contract";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createRecord, type Caller, type CommittedOperation, type PlatformContext, type WriteScope } from "./data/operations";
import { RecordStore, type Row, type StoredValue } from "./data/store";
import { Schema, metadataId } from "./metadata/schema";
import { addStandardTables } from "./metadata/standard-tables";
import type { EntityMetadata } from "./metadata/types";
import { SALESPERSON, SYSTEM_ADMINISTRATOR, Security } from "./security";

/** Fixed ids of the seeded rows, so that tests and `npm start` can rely on them. */
export const SEEDED_IDS = {
  organizationId: "0c5a4d00-0000-4000-8000-000000000001",
  businessUnitId: "0c5a4d00-0000-4000-8000-000000000002",
  usdCurrencyId: "0c5a4d00-0000-4000-8000-000000000010",
  eurCurrencyId: "0c5a4d00-0000-4000-8000-000000000011",
  systemUserId: "0c5a4d00-0000-4000-8000-000000000020",
  adminUserId: "0c5a4d00-0000-4000-8000-000000000021",
  /** Entra object id of the sandbox admin user (a user token with this `oid` acts as the admin). */
  adminObjectId: "0c5a4d00-0000-4000-8000-0000000000a1",
  sellerUserId: "0c5a4d00-0000-4000-8000-000000000022",
  /** Entra object id of the sandbox seller. */
  sellerObjectId: "0c5a4d00-0000-4000-8000-0000000000a2",
} as const;

export type SeededIds = typeof SEEDED_IDS & { readonly sdkMessageIds: Readonly<Record<string, string>> };

/** SDK messages a client can find (and bind steps to); ids are stable across resets. */
export const SDK_MESSAGES = ["Create", "Update", "Delete", "Retrieve", "RetrieveMultiple", "Win", "Lose", "QualifyLead", "SetState", "Assign"] as const;
const MESSAGES_FOR_ALL_TABLES = ["Create", "Update", "Delete", "Retrieve", "RetrieveMultiple", "SetState", "Assign"];
const TABLE_MESSAGES: Readonly<Record<string, readonly string[]>> = { opportunity: ["Win", "Lose"], lead: ["QualifyLead"] };

export const sdkMessageId = (name: string): string => metadataId("sdkmessage", name);
export const sdkMessageFilterId = (message: string, entity: string): string => metadataId("sdkmessagefilter", message, entity);

/** One line of the commit log (`GET /_emulator/changes`, the `commit` event). */
export interface CommitEntry {
  readonly entity: string;
  readonly id: string;
  readonly message: string;
  readonly at: number;
  readonly callerId: string;
}

/** The commit log keeps the newest entries only. */
export const MAX_COMMIT_LOG = 500_000;

export interface OrganizationOptions {
  readonly name: string;
  readonly seed: boolean;
  /**
   * How long a key added by solution import stays `Pending` before its index is `Active`
   * (Dataverse builds it with a system job). 0 (the default): Active at once.
   */
  readonly keyIndexDelayMs?: number;
}

export class Organization implements PlatformContext {
  schema!: Schema;
  store!: RecordStore;
  readonly id = SEEDED_IDS.organizationId;
  readonly name: string;
  readonly seededIds: SeededIds;
  readonly events = new EventEmitter();
  /** Roles, their privileges and who holds them (security.ts). */
  readonly security = new Security();
  changes: CommitEntry[] = [];
  private readonly seed: boolean;
  private readonly keyIndexDelayMs: number;
  /** Users registered from outside (identity, not data): replayed after every reset. */
  private readonly registrations: Array<() => void> = [];
  /** Schema changes (contract provisioning, imports): replayed by `reset({ keepCustomizations })`. */
  private customizations: Array<() => void> = [];

  constructor(options: OrganizationOptions) {
    this.name = options.name;
    this.seed = options.seed;
    this.keyIndexDelayMs = options.keyIndexDelayMs ?? 0;
    this.seededIds = {
      ...SEEDED_IDS,
      sdkMessageIds: Object.fromEntries(SDK_MESSAGES.map((m) => [m, sdkMessageId(m)])),
    };
    this.events.setMaxListeners(100);
    this.build();
  }

  /**
   * Back to the state right after start: standard tables, seed rows, registered users, empty logs.
   * With `keepCustomizations`, the contract provisioning and successful imports are applied again
   * (their tables, columns, keys, environment variables), but no business rows and no webhook
   * registrations survive.
   */
  reset(options: { keepCustomizations?: boolean } = {}): void {
    this.build();
    this.changes = [];
    for (const r of this.registrations) r();
    const kept = options.keepCustomizations ? this.customizations : [];
    this.customizations = [];
    for (const c of kept) {
      c();
      this.customizations.push(c);
    }
  }

  /**
   * Starts the index job of a key a solution import added: `Pending` until the delay has passed,
   * then `Active` unless the key was failed (or activated) meanwhile by the control route.
   */
  startKeyIndexJob(entityName: string, keyName: string): void {
    if (this.keyIndexDelayMs <= 0) return;
    const schema = this.schema;
    schema.setKeyIndexStatus(entityName, keyName, "Pending");
    const timer = setTimeout(() => {
      if (schema.keyIndexStatus(entityName, keyName) === "Pending") schema.setKeyIndexStatus(entityName, keyName, "Active");
    }, this.keyIndexDelayMs);
    timer.unref();
  }

  /** Remembers a schema change so that `reset({ keepCustomizations: true })` can apply it again. */
  rememberCustomization(apply: () => void): void {
    this.customizations.push(apply);
  }

  private build(): void {
    this.schema = new Schema();
    this.store = new RecordStore(this.schema);
    addStandardTables(this.schema);
    this.schema.listen({ entityAdded: (e) => this.addMessageFilters(e) });
    this.security.resetRoles();
    if (this.seed) this.seedRows();
    else this.seedMinimum();
  }

  private lastNow = 0;

  /**
   * Wall-clock epoch milliseconds, what clients compare `modifiedon` and `?since=` with, with a
   * sub-millisecond fraction and never going backwards. (timeOrigin + performance.now() drifts from
   * the wall clock in a long-lived process, by seconds on a VM whose clock is being corrected.)
   */
  now(): number {
    const t = Date.now() + (performance.now() % 1);
    this.lastNow = t > this.lastNow ? t : this.lastNow + 0.001;
    return this.lastNow;
  }

  baseCurrencyId(): string | undefined {
    return this.store.get("transactioncurrency", SEEDED_IDS.usdCurrencyId) ? SEEDED_IDS.usdCurrencyId : undefined;
  }

  get systemCaller(): Caller {
    return { systemuserid: SEEDED_IDS.systemUserId, fullname: "SYSTEM", businessunitid: SEEDED_IDS.businessUnitId };
  }

  /** A scope for the platform's own writes, committed at once and never announced. */
  systemWrite<T>(fn: (scope: WriteScope) => T): T {
    const scope: WriteScope = { caller: this.systemCaller, tx: this.store.begin(), operations: [], correlationId: randomUUID() };
    try {
      const result = fn(scope);
      scope.tx.commit();
      return result;
    } catch (err) {
      scope.tx.rollback();
      throw err;
    }
  }

  /** Announces committed operations: the commit log and the `commit` event. */
  announce(operations: readonly CommittedOperation[]): void {
    for (const op of operations) {
      const entry: CommitEntry = { entity: op.entity, id: op.id, message: op.message, at: op.at, callerId: op.callerId };
      this.changes.push(entry);
      this.events.emit("commit", entry);
    }
    if (this.changes.length > MAX_COMMIT_LOG) this.changes.splice(0, this.changes.length - MAX_COMMIT_LOG);
  }

  entity(logicalName: string): EntityMetadata {
    return this.schema.requireEntity(logicalName);
  }

  row(entity: string, id: string): Row | undefined {
    return this.store.get(entity, id)?.row;
  }

  /** The caller a verified token stands for, or undefined when no enabled user matches. */
  findCaller(claims: { appid: string; oid: string; idtyp: string }): { caller?: Caller; disabled?: string } {
    const byApp = claims.idtyp === "app";
    const ids = byApp
      ? this.store.idsWhereEquals("systemuser", "applicationid", claims.appid.toLowerCase())
      : this.store.idsWhereEquals("systemuser", "azureactivedirectoryobjectid", claims.oid.toLowerCase());
    for (const id of ids) {
      const row = this.row("systemuser", id);
      if (!row) continue;
      if (row.isdisabled === true) return { disabled: id };
      return { caller: callerFromRow(row) };
    }
    return {};
  }

  caller(systemuserid: string): Caller | undefined {
    const row = this.row("systemuser", systemuserid);
    return row ? callerFromRow(row) : undefined;
  }

  /**
   * An application user for an Entra app registration (what an admin creates in the Power Platform
   * admin center), with the security roles the admin gives it, by name. Without roles it can sign
   * in and do nothing, as in Dataverse.
   */
  registerApplicationUser(input: { applicationId: string; fullName: string; id?: string; roles?: readonly string[] }): string {
    const id = this.addApplicationUser(input);
    this.registrations.push(() => this.addApplicationUser({ ...input, id }));
    for (const role of input.roles ?? []) this.security.assignByName(id, role);
    return id;
  }

  /** A licensed user signed in through Entra ID (object id `oid`), with the roles an admin gives it. */
  registerUser(input: { objectId: string; fullName: string; userPrincipalName?: string; id?: string; roles?: readonly string[] }): string {
    const id = this.addEntraUser(input);
    this.registrations.push(() => this.addEntraUser({ ...input, id }));
    for (const role of input.roles ?? []) this.security.assignByName(id, role);
    return id;
  }

  private addApplicationUser(input: { applicationId: string; fullName: string; id?: string }): string {
    const existing = this.store.idsWhereEquals("systemuser", "applicationid", input.applicationId.toLowerCase());
    for (const id of existing) return id;
    return this.addUser({
      ...(input.id ? { systemuserid: input.id } : {}),
      lastname: input.fullName,
      applicationid: input.applicationId.toLowerCase(),
      domainname: `${input.applicationId.toLowerCase()}@sandbox.onmicrosoft.com`,
      accessmode: 4,
    });
  }

  private addEntraUser(input: { objectId: string; fullName: string; userPrincipalName?: string; id?: string }): string {
    const existing = this.store.idsWhereEquals("systemuser", "azureactivedirectoryobjectid", input.objectId.toLowerCase());
    for (const id of existing) return id;
    const [first, ...rest] = input.fullName.split(" ");
    return this.addUser({
      ...(input.id ? { systemuserid: input.id } : {}),
      firstname: rest.length > 0 ? (first ?? null) : null,
      lastname: rest.length > 0 ? rest.join(" ") : input.fullName,
      azureactivedirectoryobjectid: input.objectId.toLowerCase(),
      domainname: input.userPrincipalName ?? `${input.objectId}@sandbox.onmicrosoft.com`,
      internalemailaddress: input.userPrincipalName ?? null,
      accessmode: 0,
    });
  }

  private addUser(values: Record<string, StoredValue>): string {
    return this.systemWrite((scope) => {
      const { id } = createRecord(
        this,
        scope,
        this.entity("systemuser"),
        { isdisabled: false, businessunitid: { entity: "businessunit", id: SEEDED_IDS.businessUnitId }, ...values },
        { record: false },
      );
      return id;
    });
  }

  private addMessageFilters(entity: EntityMetadata): void {
    if (!this.store.get("sdkmessage", sdkMessageId("Create"))) return; // before seeding: seedMessages adds them
    this.systemWrite((scope) => this.writeMessageFilters(scope, entity));
  }

  private writeMessageFilters(scope: WriteScope, entity: EntityMetadata): void {
    const filterTable = this.entity("sdkmessagefilter");
    for (const message of [...MESSAGES_FOR_ALL_TABLES, ...(TABLE_MESSAGES[entity.logicalName] ?? [])]) {
      const id = sdkMessageFilterId(message, entity.logicalName);
      if (this.store.get("sdkmessagefilter", id)) continue;
      createRecord(
        this,
        scope,
        filterTable,
        {
          sdkmessagefilterid: id,
          name: `${message} ${entity.logicalName}`,
          sdkmessageid: { entity: "sdkmessage", id: sdkMessageId(message) },
          primaryobjecttypecode: entity.logicalName,
          secondaryobjecttypecode: "none",
          iscustomprocessingstepallowed: true,
        },
        { record: false },
      );
    }
  }

  /** Rows every organization has: itself, its root business unit, SYSTEM, the SDK messages. */
  private seedMinimum(): void {
    this.systemWrite((scope) => {
      const put = (entity: string, values: Record<string, StoredValue>) =>
        createRecord(this, scope, this.entity(entity), values, { record: false });
      put("businessunit", { businessunitid: SEEDED_IDS.businessUnitId, name: this.name });
      put("systemuser", {
        systemuserid: SEEDED_IDS.systemUserId,
        lastname: "SYSTEM",
        domainname: "",
        isdisabled: false,
        accessmode: 1,
        businessunitid: { entity: "businessunit", id: SEEDED_IDS.businessUnitId },
      });
      put("transactioncurrency", {
        transactioncurrencyid: SEEDED_IDS.usdCurrencyId,
        currencyname: "US Dollar",
        isocurrencycode: "USD",
        currencysymbol: "$",
        exchangerate: 1,
        currencyprecision: 2,
      });
      put("organization", {
        organizationid: SEEDED_IDS.organizationId,
        name: this.name,
        basecurrencyid: { entity: "transactioncurrency", id: SEEDED_IDS.usdCurrencyId },
      });
      for (const m of SDK_MESSAGES) put("sdkmessage", { sdkmessageid: sdkMessageId(m), name: m, categoryname: "" });
      for (const r of this.security.seededRoles())
        put("role", { roleid: r.id, name: r.name, businessunitid: { entity: "businessunit", id: SEEDED_IDS.businessUnitId } });
      for (const e of this.schema.entities()) this.writeMessageFilters(scope, e);
    });
  }

  private seedRows(): void {
    this.seedMinimum();
    this.systemWrite((scope) => {
      createRecord(
        this,
        scope,
        this.entity("transactioncurrency"),
        {
          transactioncurrencyid: SEEDED_IDS.eurCurrencyId,
          currencyname: "Euro",
          isocurrencycode: "EUR",
          currencysymbol: "€",
          exchangerate: 0.92,
          currencyprecision: 2,
        },
        { record: false },
      );
    });
    this.addEntraUser({ id: SEEDED_IDS.adminUserId, objectId: SEEDED_IDS.adminObjectId, fullName: "Sandbox Admin", userPrincipalName: "admin@sandbox.onmicrosoft.com" });
    this.addEntraUser({ id: SEEDED_IDS.sellerUserId, objectId: SEEDED_IDS.sellerObjectId, fullName: "Sam Seller", userPrincipalName: "sam.seller@sandbox.onmicrosoft.com" });
    this.security.assignByName(SEEDED_IDS.adminUserId, SYSTEM_ADMINISTRATOR);
    // A seller as partners set them up: the usual sales role plus the solution's seller role.
    this.security.assignByName(SEEDED_IDS.sellerUserId, SALESPERSON);
    this.security.assignByName(SEEDED_IDS.sellerUserId, SECURITY_ROLES.seller.name);
  }
}

function callerFromRow(row: Row): Caller {
  const bu = row.businessunitid;
  return {
    systemuserid: row.systemuserid as string,
    fullname: typeof row.fullname === "string" ? row.fullname : "",
    businessunitid: typeof bu === "object" && bu !== null && !Array.isArray(bu) ? (bu as { id: string }).id : SEEDED_IDS.businessUnitId,
    ...(typeof row.azureactivedirectoryobjectid === "string" ? { azureactivedirectoryobjectid: row.azureactivedirectoryobjectid } : {}),
    ...(typeof row.applicationid === "string" ? { applicationid: row.applicationid } : {}),
  };
}
