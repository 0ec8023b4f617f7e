/**
 * The Dynamics 365 side of a sync, over the Web API client: reading an opportunity or lead with the
 * rows its lookups point at (the CrmRecordSet the sync core works on), resolving the lookups the
 * core asks for (currency by ISO code, owner by e-mail) into `@odata.bind`, matching or creating the
 * customer account and contact, and writing with If-Match.
 */
import { ALTERNATE_KEYS, LeadColumn, OpportunityColumn, Table } from "@cosell/contract";
import type { DataverseClient, Row } from "../dataverse/client";
import { keyUsableInUrl, odataLiteral, recordPath } from "../dataverse/client";
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
import { KeyReadiness } from "./keys-ready";

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
  /** One read per cache key at a time: concurrent syncs wait for it instead of all missing the cache. */
  private readonly inflight = new Map<string, Promise<DataverseRow | null>>();
  /** Whether the referral-id keys are built (EntityKeyIndexStatus Active) before they are relied on. */
  readonly keys: KeyReadiness;

  constructor(
    readonly client: DataverseClient,
    options: { cacheTtlMs?: number } = {},
  ) {
    this.cache = new RowCache(options.cacheTtlMs ?? 5 * 60_000);
    this.keys = new KeyReadiness(client);
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
    await this.keys.ensure(kind);
    const column = kind === "opportunity" ? OpportunityColumn.referralId : LeadColumn.referralId;
    const expand = kind === "opportunity" ? "?$expand=parentaccountid,customerid_account,parentcontactid" : "";
    let row: Row | undefined;
    if (!keyUsableInUrl({ [column]: referralId })) {
      // A key value a URL cannot carry: the same record by $filter.
      row = await this.client.retrieveByFilter(ENTITY_SET[kind], { [column]: referralId }, expand);
      return row ? this.toSet(kind, row) : undefined;
    }
    try {
      row = (await this.client.get(`${recordPath(ENTITY_SET[kind], { [column]: referralId })}${expand}`)) as Row;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    return this.toSet(kind, row);
  }

  /** A record set from a row already in hand (e.g. a create's representation), without its account and contact. */
  async setFromRow(kind: RecordKind, row: Row): Promise<CrmSet> {
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

  private async cached(key: string, load: () => Promise<DataverseRow | null>): Promise<DataverseRow | null> {
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = load()
        .then((row) => {
          this.cache.set(key, row);
          return row;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async cachedRow(entitySet: string, id: string): Promise<DataverseRow | null> {
    return this.cached(`${entitySet}(${id})`, async () => (await this.client.retrieve(entitySet, id)) ?? null);
  }

  /** The id of the row of `table` whose `column` equals `value` (cached), or undefined. */
  async findId(table: string, column: string, value: string): Promise<string | undefined> {
    const entitySet = LOOKUP_TABLE_SET[table];
    if (!entitySet) return undefined;
    const idColumn = table === "transactioncurrency" ? Table.transactioncurrency.primaryIdAttribute : Table.systemuser.primaryIdAttribute;
    const row = await this.cached(`${table}:${column}=${value.toLowerCase()}`, async () => {
      const filter = `${column} eq ${odataLiteral(value)}`;
      for await (const page of this.client.retrieveMultiple(entitySet, { select: [idColumn], filter, top: 1, maxPageSize: 1 })) {
        const id = str(page[0]?.[idColumn]);
        return id ? { id } : null;
      }
      return null;
    });
    return row ? str(row.id) : undefined;
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

  /**
   * The customer account (name + postal code) and contact (e-mail) a new referral's record should
   * point at, when they exist: both looked up in one `$batch`.
   */
  async matchCustomer(account: { name: string; postalCode: string | null } | undefined, email: string | undefined): Promise<{ accountId?: string; contactId?: string }> {
    const a = SystemColumn.account;
    const c = SystemColumn.contact;
    const paths: string[] = [];
    if (account) {
      const filter = account.postalCode === null ? `${a.name} eq ${odataLiteral(account.name)}` : `${a.name} eq ${odataLiteral(account.name)} and ${a.postalCode} eq ${odataLiteral(account.postalCode)}`;
      paths.push(`/${Table.account.entitySetName}?$select=${a.id}&$top=1&$filter=${encodeURIComponent(filter)}`);
    }
    if (email) paths.push(`/${Table.contact.entitySetName}?$select=${c.id}&$top=1&$filter=${encodeURIComponent(`${c.email} eq ${odataLiteral(email)}`)}`);
    const responses = await this.client.batchReads(paths);
    const firstId = (i: number, column: string): string | undefined => {
      const r = responses[i];
      if (r?.error) throw r.error;
      const rows = (r?.body as { value?: Array<Record<string, unknown>> } | undefined)?.value;
      return str(rows?.[0]?.[column])?.toLowerCase();
    };
    let i = 0;
    const accountId = account ? firstId(i++, a.id) : undefined;
    const contactId = email ? firstId(i++, c.id) : undefined;
    return { ...(accountId ? { accountId } : {}), ...(contactId ? { contactId } : {}) };
  }

  /**
   * The new record with the customer account and contact it needs, in one `$batch` change set:
   * all three are created or none is (no orphan account when the record turns out to exist), in
   * one request instead of three. `account` / `contact` given as an id link an existing row; given
   * as values, create one. `created: false` when the record already exists (nothing was written).
   */
  async createWithCustomer(
    kind: RecordKind,
    referralId: string,
    body: Record<string, unknown>,
    customer: {
      readonly account?: { readonly id: string } | { readonly values: DataverseValues };
      readonly contact?: { readonly id: string } | { readonly values: DataverseValues };
    },
  ): Promise<{ id: string; created: boolean; row?: Row; accountId?: string; contactId?: string }> {
    // Until the key's index is built, neither the key URL nor its uniqueness can be relied on.
    await this.keys.ensure(kind);
    const key = kind === "opportunity" ? ALTERNATE_KEYS.opportunityReferralId : ALTERNATE_KEYS.leadReferralId;
    const column = key.attributes[0] as string;
    const idColumn = kind === "opportunity" ? SystemColumn.opportunity.id : SystemColumn.lead.id;
    const accounts = Table.account.entitySetName;
    const contacts = Table.contact.entitySetName;
    const requests: Array<{ method: "POST" | "PATCH"; path: string; body: unknown; headers?: Record<string, string> }> = [];
    let accountRef: string | undefined;
    let contactRef: string | undefined;
    if (customer.account && "id" in customer.account) accountRef = `/${accounts}(${customer.account.id})`;
    else if (customer.account) {
      requests.push({ method: "POST", path: `/${accounts}`, body: (await this.resolve(customer.account.values)).body });
      accountRef = `$${requests.length}`;
    }
    if (customer.contact && "id" in customer.contact) contactRef = `/${contacts}(${customer.contact.id})`;
    else if (customer.contact) {
      const contactBody = (await this.resolve(customer.contact.values)).body;
      if (accountRef) contactBody["parentcustomerid_account@odata.bind"] = accountRef;
      requests.push({ method: "POST", path: `/${contacts}`, body: contactBody });
      contactRef = `$${requests.length}`;
    }
    const recordBody: Record<string, unknown> = { ...body };
    if (kind === "opportunity" && accountRef) {
      recordBody["customerid_account@odata.bind"] = accountRef;
      recordBody["parentaccountid@odata.bind"] = accountRef;
    }
    if (kind === "opportunity" && contactRef) recordBody["parentcontactid@odata.bind"] = contactRef;
    // Created by its key (If-None-Match: a second create finds the first); a key value a URL cannot
    // carry is sent in the body instead, where the key's uniqueness still refuses a second row (412).
    requests.push(
      keyUsableInUrl({ [column]: referralId })
        ? { method: "PATCH", path: recordPath(ENTITY_SET[kind], { [column]: referralId }), body: recordBody, headers: { "If-None-Match": "*", Prefer: "return=representation" } }
        : { method: "POST", path: `/${ENTITY_SET[kind]}`, body: { ...recordBody, [column]: referralId }, headers: { Prefer: "return=representation" } },
    );
    const responses = await this.client.batch([requests]);
    const failed = responses.find((r) => r.error);
    if (failed?.error) {
      if (failed.status !== 412) throw failed.error;
      const existing = await this.client.retrieve(ENTITY_SET[kind], { [column]: referralId }, [idColumn]);
      const id = str(existing?.[idColumn]);
      if (!id) throw failed.error;
      return { id: id.toLowerCase(), created: false };
    }
    const entityId = (r: { headers: Record<string, string>; body: unknown } | undefined): string | undefined => {
      const fromHeader = /\(([0-9a-f-]{36})\)\s*$/i.exec(r?.headers["odata-entityid"] ?? "")?.[1];
      return (fromHeader ?? str((r?.body as Record<string, unknown> | undefined)?.[idColumn]))?.toLowerCase();
    };
    const last = responses[responses.length - 1];
    const id = str((last?.body as Record<string, unknown> | undefined)?.[idColumn]) ?? entityId(last);
    if (!id) throw new NotFoundError(`the ${kind} for referral ${referralId} was created but its id was not returned`, { service: "dataverse", method: "POST", path: "/$batch" });
    let i = 0;
    const accountId = customer.account && "id" in customer.account ? customer.account.id : customer.account ? entityId(responses[i++]) : undefined;
    const contactId = customer.contact && "id" in customer.contact ? customer.contact.id : customer.contact ? entityId(responses[i++]) : undefined;
    const row = last?.body && typeof last.body === "object" ? (last.body as Row) : undefined;
    return { id: id.toLowerCase(), created: true, ...(row ? { row } : {}), ...(accountId ? { accountId } : {}), ...(contactId ? { contactId } : {}) };
  }

  /** Updates with If-Match and returns the row's new etag, which the link keeps: reconcile compares it. */
  async update(kind: RecordKind, id: string, body: Record<string, unknown>, ifMatch: string): Promise<string | undefined> {
    const idColumn = kind === "lead" ? SystemColumn.lead.id : SystemColumn.opportunity.id;
    const row = await this.client.update(ENTITY_SET[kind], id, body, { ifMatch, returnRow: true, select: [idColumn] });
    const etag = row?.["@odata.etag"];
    return typeof etag === "string" ? etag : undefined;
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
