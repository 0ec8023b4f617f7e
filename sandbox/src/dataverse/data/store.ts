/**
 * In-memory rows of every table, with the indexes the Web API needs to stay fast at backfill scale:
 * primary id (the map itself), each alternate key (unique), and equality indexes built on first use
 * for any column a `$filter` compares with `eq`. Writes go through a Transaction that keeps an undo
 * log, so a `$batch` change set (or a failed synchronous webhook) can be rolled back.
 *
 * Values are stored normalised (see values.ts): GUIDs lower case, lookups as {id, entity}, DateOnly
 * as `YYYY-MM-DD`, other dates as ISO UTC seconds, multi-select choices as number arrays.
 */
import type { Schema } from "../metadata/schema";
import type { EntityMetadata, KeyMetadata } from "../metadata/types";
import { Errors } from "../errors";

export interface LookupValue {
  readonly id: string;
  readonly entity: string;
}
export type StoredValue = string | number | boolean | null | LookupValue | readonly number[];
export type Row = Readonly<Record<string, StoredValue>>;

export interface StoredRecord {
  /** Insertion sequence: the default order of a query, and the tie-breaker of every order. */
  readonly seq: number;
  readonly row: Row;
}

export const isLookupValue = (v: StoredValue | undefined): v is LookupValue =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The text an index uses for a value; undefined for null (nulls are never indexed, as in SQL). */
export function indexText(v: StoredValue | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string") return `s:${v.toLowerCase()}`; // Dataverse collation is case-insensitive
  if (typeof v === "number") return `n:${v}`;
  if (typeof v === "boolean") return `b:${v}`;
  if (Array.isArray(v)) return `a:${v.join(",")}`;
  return `s:${(v as LookupValue).id.toLowerCase()}`;
}

class TableData {
  readonly records = new Map<string, StoredRecord>();
  readonly keyIndexes = new Map<string, { key: KeyMetadata; map: Map<string, string> }>();
  readonly eqIndexes = new Map<string, Map<string, Set<string>>>();
}

interface UndoEntry {
  readonly entity: string;
  readonly id: string;
  readonly before: StoredRecord | undefined;
}

export class Transaction {
  readonly undo: UndoEntry[] = [];
  private done = false;
  constructor(private readonly store: RecordStore) {}

  /** Restores every row this transaction touched, newest first. */
  rollback(): void {
    if (this.done) return;
    this.done = true;
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const u = this.undo[i]!;
      this.store.restore(u.entity, u.id, u.before);
    }
  }

  commit(): void {
    this.done = true;
  }
}

export class RecordStore {
  private readonly tables = new Map<string, TableData>();
  private seq = 0;
  private version = 1_000_000;

  constructor(private readonly schema: Schema) {
    schema.listen({
      entityAdded: (e) => this.tables.set(e.logicalName, new TableData()),
      keyAdded: (e, key) => this.buildKeyIndex(e, key),
    });
    for (const e of schema.entities()) this.tables.set(e.logicalName, new TableData());
  }

  begin(): Transaction {
    return new Transaction(this);
  }

  /** Next row version: one counter for the whole organization, as SQL rowversion is. */
  nextVersion(): number {
    return ++this.version;
  }

  private table(entity: string): TableData {
    const t = this.tables.get(entity);
    if (!t) throw new Error(`no storage for table '${entity}'`);
    return t;
  }

  get(entity: string, id: string): StoredRecord | undefined {
    return this.table(entity).records.get(id.toLowerCase());
  }

  count(entity: string): number {
    return this.table(entity).records.size;
  }

  scan(entity: string): IterableIterator<StoredRecord> {
    return this.table(entity).records.values();
  }

  findByKey(entity: string, keyName: string, values: readonly StoredValue[]): string | undefined {
    const idx = this.table(entity).keyIndexes.get(keyName);
    if (!idx) return undefined;
    const text = compositeText(values);
    return text === undefined ? undefined : idx.map.get(text);
  }

  /** Ids whose `attribute` equals `value` (index built on first use, then kept current). */
  idsWhereEquals(entity: string, attribute: string, value: StoredValue): ReadonlySet<string> {
    const t = this.table(entity);
    let idx = t.eqIndexes.get(attribute);
    if (!idx) {
      idx = new Map();
      for (const [id, rec] of t.records) addToEq(idx, rec.row[attribute], id);
      t.eqIndexes.set(attribute, idx);
    }
    const text = indexText(value);
    return (text !== undefined && idx.get(text)) || EMPTY;
  }

  /** Inserts or replaces a row, enforcing alternate-key uniqueness. */
  put(tx: Transaction, entity: EntityMetadata, id: string, row: Row): StoredRecord {
    const t = this.table(entity.logicalName);
    const before = t.records.get(id);
    for (const { key, map } of t.keyIndexes.values()) {
      const text = compositeText(key.attributes.map((a) => row[a] ?? null));
      if (text === undefined) continue;
      const owner = map.get(text);
      if (owner !== undefined && owner !== id) throw Errors.duplicateKey(entity.logicalName, key.logicalName, key.attributes);
    }
    const rec: StoredRecord = { seq: before?.seq ?? ++this.seq, row };
    tx.undo.push({ entity: entity.logicalName, id, before });
    this.write(t, id, before, rec);
    return rec;
  }

  remove(tx: Transaction, entity: string, id: string): void {
    const t = this.table(entity);
    const before = t.records.get(id);
    if (!before) return;
    tx.undo.push({ entity, id, before });
    this.write(t, id, before, undefined);
  }

  /** Used by rollback: puts a row back exactly as it was (or removes it). */
  restore(entity: string, id: string, rec: StoredRecord | undefined): void {
    const t = this.table(entity);
    this.write(t, id, t.records.get(id), rec);
  }

  private write(t: TableData, id: string, before: StoredRecord | undefined, after: StoredRecord | undefined): void {
    for (const { key, map } of t.keyIndexes.values()) {
      if (before) {
        const old = compositeText(key.attributes.map((a) => before.row[a] ?? null));
        if (old !== undefined && map.get(old) === id) map.delete(old);
      }
      if (after) {
        const text = compositeText(key.attributes.map((a) => after.row[a] ?? null));
        if (text !== undefined) map.set(text, id);
      }
    }
    for (const [attribute, idx] of t.eqIndexes) {
      if (before) removeFromEq(idx, before.row[attribute], id);
      if (after) addToEq(idx, after.row[attribute], id);
    }
    if (after) t.records.set(id, after);
    else t.records.delete(id);
  }

  private buildKeyIndex(entity: EntityMetadata, key: KeyMetadata): void {
    const t = this.tables.get(entity.logicalName);
    if (!t) return;
    const map = new Map<string, string>();
    for (const [id, rec] of t.records) {
      const text = compositeText(key.attributes.map((a) => rec.row[a] ?? null));
      // Dataverse would fail the key's index job on duplicates; the first row keeps the value here.
      if (text !== undefined && !map.has(text)) map.set(text, id);
    }
    t.keyIndexes.set(key.logicalName, { key, map });
  }

  /** Drops every row (tables stay). */
  clear(): void {
    for (const t of this.tables.values()) {
      t.records.clear();
      for (const k of t.keyIndexes.values()) k.map.clear();
      t.eqIndexes.clear();
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function compositeText(values: readonly StoredValue[]): string | undefined {
  const parts: string[] = [];
  for (const v of values) {
    const t = indexText(v);
    if (t === undefined) return undefined;
    parts.push(t);
  }
  return parts.join("\u0000");
}

function addToEq(idx: Map<string, Set<string>>, v: StoredValue | undefined, id: string): void {
  const text = indexText(v);
  if (text === undefined) return;
  let s = idx.get(text);
  if (!s) idx.set(text, (s = new Set()));
  s.add(id);
}

function removeFromEq(idx: Map<string, Set<string>>, v: StoredValue | undefined, id: string): void {
  const text = indexText(v);
  if (text === undefined) return;
  const s = idx.get(text);
  if (!s) return;
  s.delete(id);
  if (s.size === 0) idx.delete(text);
}
