/**
 * In-memory referral store with the indexes the API needs: by id, engagement and external reference,
 * and two ordered indexes for keyset paging (creation and last change). Every instant comes from a
 * strictly increasing clock, so both orders are total and appending keeps them sorted:
 *  - creation order is an append-only array;
 *  - change order is an append-only log of (instant, id); an entry is live while the referral's
 *    updatedDateTime is still that instant; stale entries are skipped and compacted away.
 * Seeking to a page start is a binary search, so walking all pages is O(n log n), not O(n²).
 */
import { compareInstants, type Instant } from "./clock";
import type { Referral } from "./referral-shape";

export type Owner = "partner" | "microsoft";

export interface StoredReferral {
  /** The materialized document (links are added on the way out). */
  readonly doc: Referral;
  readonly created: Instant;
  readonly updated: Instant;
  readonly expiration: Instant | null;
  /** Whose referral it is: the partner's own, or Microsoft's side of a shared engagement. */
  readonly owner: Owner;
}

export type SortKey = "createdDateTime" | "updatedDateTime";

export interface Cursor {
  readonly at: Instant;
  readonly id: string;
}

interface LogEntry {
  readonly at: Instant;
  readonly id: string;
}

const compareEntry = (a: LogEntry, b: Cursor): number => compareInstants(a.at, b.at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function addToIndex(index: Map<string, Set<string>>, key: string | null, id: string): void {
  if (key === null || key === "") return;
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

function removeFromIndex(index: Map<string, Set<string>>, key: string | null, id: string): void {
  if (key === null || key === "") return;
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}

export class ReferralStore {
  private readonly byId = new Map<string, StoredReferral>();
  private readonly byEngagement = new Map<string, Set<string>>();
  /** Engagement ids lower-cased: `$filter=engagementId eq <guid>` compares GUIDs case-insensitively. */
  private readonly byEngagementFolded = new Map<string, Set<string>>();
  private readonly byExternalReference = new Map<string, Set<string>>();
  private createdOrder: LogEntry[] = [];
  private updatedLog: LogEntry[] = [];

  get size(): number {
    return this.byId.size;
  }

  get(id: string): StoredReferral | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  engagementExists(engagementId: string): boolean {
    return this.byEngagement.has(engagementId);
  }

  /** Referrals of an engagement, oldest first. */
  inEngagement(engagementId: string): StoredReferral[] {
    const ids = this.byEngagement.get(engagementId);
    if (!ids) return [];
    return [...ids].map((id) => this.byId.get(id) as StoredReferral).sort((a, b) => compareInstants(a.created, b.created));
  }

  withExternalReference(externalReferenceId: string): StoredReferral[] {
    const ids = this.byExternalReference.get(externalReferenceId);
    return ids ? [...ids].map((id) => this.byId.get(id) as StoredReferral) : [];
  }

  insert(r: StoredReferral): void {
    if (this.byId.has(r.doc.id)) throw new Error(`referral ${r.doc.id} already stored`);
    this.byId.set(r.doc.id, r);
    addToIndex(this.byEngagement, r.doc.engagementId, r.doc.id);
    addToIndex(this.byEngagementFolded, r.doc.engagementId?.toLowerCase() ?? null, r.doc.id);
    addToIndex(this.byExternalReference, r.doc.externalReferenceId, r.doc.id);
    this.createdOrder.push({ at: r.created, id: r.doc.id });
    this.updatedLog.push({ at: r.updated, id: r.doc.id });
  }

  /** Replaces a referral's document (engagement and creation never change). */
  replace(r: StoredReferral): void {
    const before = this.byId.get(r.doc.id);
    if (!before) throw new Error(`referral ${r.doc.id} is not stored`);
    this.byId.set(r.doc.id, r);
    if (before.doc.externalReferenceId !== r.doc.externalReferenceId) {
      removeFromIndex(this.byExternalReference, before.doc.externalReferenceId, r.doc.id);
      addToIndex(this.byExternalReference, r.doc.externalReferenceId, r.doc.id);
    }
    if (compareInstants(before.updated, r.updated) !== 0) {
      this.updatedLog.push({ at: r.updated, id: r.doc.id });
      if (this.updatedLog.length > 2 * this.byId.size + 1024) this.compact();
    }
  }

  clear(): void {
    this.byId.clear();
    this.byEngagement.clear();
    this.byEngagementFolded.clear();
    this.byExternalReference.clear();
    this.createdOrder = [];
    this.updatedLog = [];
  }

  /** Every referral, in creation order. */
  *all(): IterableIterator<StoredReferral> {
    for (const e of this.createdOrder) yield this.byId.get(e.id) as StoredReferral;
  }

  private compact(): void {
    this.updatedLog = this.updatedLog.filter((e) => this.isLive(e, "updatedDateTime"));
  }

  private isLive(e: LogEntry, key: SortKey): boolean {
    if (key === "createdDateTime") return true;
    const r = this.byId.get(e.id);
    return r !== undefined && compareInstants(r.updated, e.at) === 0;
  }

  /**
   * Referrals in `key` order (`direction`), strictly after `after` when given. The iterator reads
   * the live index lazily, so inserts during a walk are seen when they fall after the cursor.
   */
  *scan(key: SortKey, direction: "asc" | "desc", after?: Cursor): IterableIterator<StoredReferral> {
    const log = key === "createdDateTime" ? this.createdOrder : this.updatedLog;
    if (direction === "asc") {
      // first index whose entry is > after
      let lo = 0;
      let hi = log.length;
      if (after) {
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareEntry(log[mid] as LogEntry, after) <= 0) lo = mid + 1;
          else hi = mid;
        }
      }
      for (let i = lo; i < log.length; i++) {
        const e = log[i] as LogEntry;
        if (this.isLive(e, key)) yield this.byId.get(e.id) as StoredReferral;
      }
    } else {
      // last index whose entry is < after
      let lo = 0;
      let hi = log.length;
      if (after) {
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareEntry(log[mid] as LogEntry, after) < 0) lo = mid + 1;
          else hi = mid;
        }
      } else lo = log.length;
      for (let i = lo - 1; i >= 0; i--) {
        const e = log[i] as LogEntry;
        if (this.isLive(e, key)) yield this.byId.get(e.id) as StoredReferral;
      }
    }
  }

  /**
   * `scan` restricted to the referrals whose engagement id equals `engagementId` ignoring case: the
   * same order and cursor, without walking every referral (a listing by engagement, per sync).
   */
  *scanEngagement(engagementId: string, key: SortKey, direction: "asc" | "desc", after?: Cursor): IterableIterator<StoredReferral> {
    const ids = this.byEngagementFolded.get(engagementId.toLowerCase());
    if (!ids) return;
    const entries = [...ids].map((id) => {
      const r = this.byId.get(id) as StoredReferral;
      return { at: key === "createdDateTime" ? r.created : r.updated, id, r };
    });
    entries.sort((a, b) => compareEntry(a, b));
    if (direction === "desc") entries.reverse();
    for (const e of entries) {
      if (after && (direction === "asc" ? compareEntry(e, after) <= 0 : compareEntry(e, after) >= 0)) continue;
      yield e.r;
    }
  }
}
