/**
 * The Dynamics 365 side of a sync, over the Web API client: reading an opportunity or lead with the
 * rows its lookups point at (the CrmRecordSet the sync core works on), resolving the lookups the
 * core asks for (currency by ISO code, owner by e-mail) into `@odata.bind`, matching or creating the
 * customer account and contact, and writing with If-Match.
 */
import { ALTERNATE_KEYS, LeadColumn, OpportunityColumn, Table } from "@cosell/contract";
import type { DataverseClient, Row } from "../dataverse/client";
import { odataLiteral, recordPath } from "../dataverse/client";
import {
  type CrmRecordSet,
  type DataverseRow,
  type DataverseValues,
  isDataverseLookup,
  lookupValueProperty,
  SystemColumn,
} from "../dataverse/model";
import { NotFoundError } from "../http/errors";
import type { RecordKind } from "./keys";

export interface CrmSet extends CrmRecordSet {
  readonly kind: RecordKind;
  readonly id: string;
  readonly etag: string;
}

const ENTITY_SET: Record<RecordKind, string> = {
  opportunity: Table.opportunity.entitySetName,
  lead: Table.lead.entitySetName,
};

/** Navigation properties of the lookups the bridge binds (Web API names). */
const NAVIGATION: Readonly<Record<string, { entitySet: string; navigation: string }>> = {
  [SystemColumn.opportunity.transactionCurrency]: { entitySet: Table.transactioncurrency.entitySetName, navigation: "transactioncurrencyid" },
  [SystemColumn.opportunity.owner]: { entitySet: Table.systemuser.entitySetName, navigation: "ownerid" },
};

const LOOKUP_TABLE_SET: Readonly<Record<string, string>> = {
  transactioncurrency: Table.transactioncurrency.entitySetName,
  systemuser: Table.systemuser.entitySetName,
};

export interface UnresolvedLookup {
  readonly column: string;
  readonly table: string;
  readonly value: string;
}

/** A small TTL cache for rows that rarely change (users, currencies). */
class RowCache {
  private readonly rows = new Map<string, { row: DataverseRow | null; until: number }>();
  constructor(private readonly ttlMs: number) {}
  get(key: string): DataverseRow | null | undefined {
    const hit = this.rows.get(key);
    if (!hit) return undefined;
    if (hit.until < Date.now()) {
      this.rows.delete(key);
      return undefined;
    }
    return hit.row;
  }
  set(key: string, row: DataverseRow | null): void {
    if (this.rows.size > 10_000) this.rows.clear();
    this.rows.set(key, { row, until: Date.now() + this.ttlMs });
  }
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

export class CrmGateway {
  private readonly cache: RowCache;

  constructor(
    readonly client: DataverseClient,
    options: { cacheTtlMs?: number } = {},
  ) {
    this.cache = new RowCache(options.cacheTtlMs ?? 5 * 60_000);
  }

  entitySet(kind: RecordKind): string {
    return ENTITY_SET[kind];
  }

  /** The opportunity or lead with its account, contact, owner and currency; undefined when it does not exist. */
  async readSet(kind: RecordKind, id: string): Promise<CrmSet | undefined> {
    const expand =
      kind === "opportunity" ? "?$expand=parentaccountid,customerid_account,parentcontactid" : "";
    let row: Row;
    try {
      row = (await this.client.get(`${recordPath(ENTITY_SET[kind], id)}${expand}`)) as Row;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    return this.toSet(kind, row);
  }

  /** The record holding a referral id (alternate key), or undefined. */
  async readSetByReferralId(kind: RecordKind, referralId: string): Promise<CrmSet | undefined> {
    const column = kind === "opportunity" ? OpportunityColumn.referralId : LeadColumn.referralId;
    const expand = kind === "opportunity" ? "?$expand=parentaccountid,customerid_account,parentcontactid" : "";
    let row: Row;
    try {
      row = (await this.client.get(`${recordPath(ENTITY_SET[kind], { [column]: referralId })}${expand}`)) as Row;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    return this.toSet(kind, row);
  }

  private async toSet(kind: RecordKind, raw: Row): Promise<CrmSet> {
    const record: Record<string, unknown> = { ...raw };
    let account: DataverseRow | null = null;
    let contact: DataverseRow | null = null;
    if (kind === "opportunity") {
      const expandedAccount = (record.parentaccountid ?? record.customerid_account) as DataverseRow | null | undefined;
      account = expandedAccount && typeof expandedAccount === "object" ? expandedAccount : null;
      const expandedContact = record.parentcontactid as DataverseRow | null | undefined;
      contact = expandedContact && typeof expandedContact === "object" ? expandedContact : null;
      delete record.parentaccountid;
      delete record.customerid_account;
      delete record.parentcontactid;
    }
    const idColumn = kind === "opportunity" ? SystemColumn.opportunity.id : SystemColumn.lead.id;
    const id = String(record[idColumn] ?? "").toLowerCase();
    const ownerId = str(record[lookupValueProperty(SystemColumn.opportunity.owner)]);
    const currencyId = str(record[lookupValueProperty(SystemColumn.opportunity.transactionCurrency)]);
    const [owner, currency] = await Promise.all([
      ownerId ? this.cachedRow(Table.systemuser.entitySetName, ownerId) : Promise.resolve(null),
      currencyId ? this.cachedRow(Table.transactioncurrency.entitySetName, currencyId) : Promise.resolve(null),
    ]);
    return { kind, id, etag: String(record["@odata.etag"] ?? "*"), record, account, contact, owner, currency };
  }

  private async cachedRow(entitySet: string, id: string): Promise<DataverseRow | null> {
    const key = `${entitySet}(${id})`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const row = (await this.client.retrieve(entitySet, id)) ?? null;
    this.cache.set(key, row);
    return row;
  }

  /** The id of the row of `table` whose `column` equals `value` (cached), or undefined. */
  async findId(table: string, column: string, value: string): Promise<string | undefined> {
    const entitySet = LOOKUP_TABLE_SET[table];
    if (!entitySet) return undefined;
    const key = `${table}:${column}=${value.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit ? str(hit.id) : undefined;
    const idColumn = table === "transactioncurrency" ? Table.transactioncurrency.primaryIdAttribute : Table.systemuser.primaryIdAttribute;
    const filter = `${column} eq ${odataLiteral(value)}`;
    let id: string | undefined;
    for await (const page of this.client.retrieveMultiple(entitySet, { select: [idColumn], filter, top: 1, maxPageSize: 1 })) {
      id = str(page[0]?.[idColumn]);
      break;
    }
    this.cache.set(key, id ? { id } : null);
    return id;
  }

  /**
   * Column values as the Web API takes them: lookups the core described by a matching value become
   * `<navigation>@odata.bind`; a lookup nothing matches is left out and reported.
   */
  async resolve(values: DataverseValues): Promise<{ body: Record<string, unknown>; unresolved: UnresolvedLookup[] }> {
    const body: Record<string, unknown> = {};
    const unresolved: UnresolvedLookup[] = [];
    for (const [column, value] of Object.entries(values)) {
      if (!isDataverseLookup(value)) {
        body[column] = value;
        continue;
      }
      const { table, matchColumn, matchValue } = value.lookup;
      const id = await this.findId(table, matchColumn, matchValue);
      const nav = NAVIGATION[column];
      const entitySet = LOOKUP_TABLE_SET[table];
      if (!id || !entitySet) {
        unresolved.push({ column, table, value: matchValue });
        continue;
      }
      body[`${nav?.navigation ?? column}@odata.bind`] = `/${nav?.entitySet ?? entitySet}(${id})`;
    }
    return { body, unresolved };
  }

  /** An account with this name and postal code (case-insensitive in Dataverse), or undefined. */
  async findAccount(name: string, postalCode: string | null): Promise<string | undefined> {
    const a = SystemColumn.account;
    const filter = postalCode === null ? `${a.name} eq ${odataLiteral(name)}` : `${a.name} eq ${odataLiteral(name)} and ${a.postalCode} eq ${odataLiteral(postalCode)}`;
    for await (const page of this.client.retrieveMultiple(Table.account.entitySetName, { select: [a.id], filter, top: 1, maxPageSize: 1 })) {
      return str(page[0]?.[a.id]);
    }
    return undefined;
  }

  async findContact(email: string): Promise<string | undefined> {
    const c = SystemColumn.contact;
    const filter = `${c.email} eq ${odataLiteral(email)}`;
    for await (const page of this.client.retrieveMultiple(Table.contact.entitySetName, { select: [c.id], filter, top: 1, maxPageSize: 1 })) {
      return str(page[0]?.[c.id]);
    }
    return undefined;
  }

  async createRow(entitySet: string, values: DataverseValues, extra: Record<string, unknown> = {}): Promise<string> {
    const { body } = await this.resolve(values);
    return (await this.client.create(entitySet, { ...body, ...extra })).id.toLowerCase();
  }

  /**
   * Creates the record keyed by the referral id; `created: false` when a record with that key
   * already exists (a previous attempt got that far): the existing one is returned.
   */
  async createByReferralId(kind: RecordKind, referralId: string, body: Record<string, unknown>): Promise<{ id: string; created: boolean }> {
    const key = kind === "opportunity" ? ALTERNATE_KEYS.opportunityReferralId : ALTERNATE_KEYS.leadReferralId;
    const column = key.attributes[0] as string;
    const idColumn = kind === "opportunity" ? SystemColumn.opportunity.id : SystemColumn.lead.id;
    try {
      const row = await this.client.upsert(ENTITY_SET[kind], { [column]: referralId }, body, "create-only");
      const id = str(row?.[idColumn]);
      if (id) return { id: id.toLowerCase(), created: true };
    } catch (err) {
      if ((err as { status?: number }).status !== 412) throw err;
    }
    const existing = await this.client.retrieve(ENTITY_SET[kind], { [column]: referralId }, [idColumn]);
    const id = str(existing?.[idColumn]);
    if (!id) throw new NotFoundError(`the ${kind} for referral ${referralId} vanished while it was being created`, { service: "dataverse", method: "GET", path: `/${ENTITY_SET[kind]}` });
    return { id: id.toLowerCase(), created: false };
  }

  async update(kind: RecordKind, id: string, body: Record<string, unknown>, ifMatch: string): Promise<void> {
    await this.client.update(ENTITY_SET[kind], id, body, { ifMatch });
  }

  async updateRow(entitySet: string, id: string, body: Record<string, unknown>): Promise<void> {
    await this.client.update(entitySet, id, body, { ifMatch: "*" });
  }

  /** WhoAmI: the bridge's own systemuserid in this environment. */
  async whoAmI(): Promise<string | undefined> {
    const json = (await this.client.get("/WhoAmI")) as { UserId?: unknown };
    return str(json.UserId);
  }
}
