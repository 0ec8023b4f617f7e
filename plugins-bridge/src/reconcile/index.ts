/**
 * Reconcile: the sweep that finds what no webhook announced (Partner Center gives up on a webhook
 * after 10 attempts; Dataverse retries once). Both sides are read from a cursor (kept in the store,
 * minus a small overlap so a change committed while the last sweep ran is not missed); whatever
 * changed after its link's last sync is enqueued under the link's key, where the ordinary sync
 * takes it from there. `fromBeginning` (backfill) ignores the cursors and the last-sync times.
 *
 * Partner Center documents ordering by updatedDateTime, not filtering on it (specs §2.4,
 * UNVERIFIED): the sweep asks for the filter and, when Partner Center refuses it, reads newest
 * first and stops at the cursor.
 *
 * Dataverse rows are read in a unique order, `modifiedon` then the primary key: paging over an order
 * that leaves ties may lose or repeat rows. A cursor is `<ISO time>|<id>` of the last row seen.
 * A row or referral that does not parse is dead-lettered with the reason before the sweep goes on,
 * so the cursor never moves past something that is not recorded anywhere.
 */
import { createHash } from "node:crypto";
import { LeadColumn, OpportunityColumn, Table } from "@cosell/contract";
import type { Logger } from "pino";
import { z } from "zod";
import type { DataverseClient } from "../dataverse/client";
import { SystemColumn } from "../dataverse/model";
import { recordKey, referralKey, type RecordKind } from "../engine/keys";
import { isMicrosoftReferral } from "../engine/partner-center";
import { ValidationError } from "../http/errors";
import type { PartnerCenterClient } from "../partner-center/client";
import { ReferralSchema, type Referral } from "../partner-center/model";
import type { Link, Store } from "../store";

/** Keys enqueued (and links looked up) per transaction: a listed page, or a slice of a large one. */
const ENQUEUE_CHUNK = 500;

type Enqueue = (page: ReadonlyArray<{ key: string; reason: string }>) => Promise<number>;

export const PC_CURSOR = "reconcile:partner-center";
export const DV_CURSOR = "reconcile:dataverse";
/** Per table: `reconcile:dataverse:opportunity`, `reconcile:dataverse:lead` (DV_CURSOR is the older, shared one). */
export const dataverseCursorName = (kind: RecordKind): string => `${DV_CURSOR}:${kind}`;

/** Dead letters are queued this far ahead first, so that no worker claims one before it is dead. */
const NEVER = new Date("9999-01-01T00:00:00Z");

/** A position in a sweep: the last row seen, its change time and (where the order has it) its id. */
export interface SweepCursor {
  readonly at: number;
  readonly id?: string;
}

/** `<ISO time>` or `<ISO time>|<id>`; anything else reads as no cursor (a full sweep, never a gap). */
export function decodeCursor(text: string | undefined): SweepCursor | undefined {
  if (!text) return undefined;
  const bar = text.indexOf("|");
  const at = isoOrUndefined(bar < 0 ? text : text.slice(0, bar));
  if (at === undefined) return undefined;
  const id = bar < 0 ? "" : text.slice(bar + 1);
  return id === "" ? { at } : { at, id };
}

export function encodeCursor(c: SweepCursor): string {
  return `${new Date(c.at).toISOString()}${c.id ? `|${c.id}` : ""}`;
}

const after = (a: SweepCursor, b: SweepCursor | undefined): boolean =>
  b === undefined || a.at > b.at || (a.at === b.at && (a.id ?? "") > (b.id ?? ""));

const GUID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
const RowSchema = (idColumn: string) =>
  z.object({
    [idColumn]: GUID,
    modifiedon: z.string().refine((v) => !Number.isNaN(Date.parse(v)), "not a date-time"),
    "@odata.etag": z.string().optional(),
  });

const reasonOf = (err: z.ZodError): string =>
  err.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");

/** What to call a thing that did not parse: its own id when it has a plausible one, else a digest of it. */
function idOrDigest(raw: unknown, idField: string): { id?: string; digest: string } {
  const value = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[idField] : undefined;
  const digest = createHash("sha256").update(JSON.stringify(raw) ?? "undefined").digest("hex").slice(0, 16);
  return typeof value === "string" && /^[\w.-]{1,100}$/.test(value) ? { id: value, digest } : { digest };
}

export interface ReconcileOptions {
  readonly store: Store;
  readonly partnerCenter: PartnerCenterClient;
  readonly dataverse: DataverseClient;
  readonly log: Logger;
  /** Re-read this much before the cursor (default 2 minutes). */
  readonly overlapMs?: number;
  /** Clocks of the bridge and the services may disagree by this much (default 10 s). */
  readonly skewMs?: number;
  readonly now?: () => Date;
  /** Called after each enqueue (wakes the worker). */
  readonly onEnqueued?: () => void;
  /** Dataverse rows per page (default 5,000, Dataverse's maximum). */
  readonly pageSize?: number;
}

export interface SweepOptions {
  /** Backfill: every referral and record, whatever the cursors and last syncs say. */
  readonly fromBeginning?: boolean;
  /** Referrals read from Partner Center during the sweep (backfill primes the sync with them). */
  readonly onReferrals?: (referrals: readonly Referral[]) => void;
  /** Progress: items looked at so far, per side. */
  readonly onProgress?: (p: { side: "partner-center" | "dataverse"; seen: number; enqueued: number }) => void;
}

export interface SweepSummary {
  readonly partnerCenter: { seen: number; enqueued: number; filterSupported: boolean; deadLettered: number };
  readonly dataverse: { seen: number; enqueued: number; deadLettered: number };
  /** Link keys enqueued, in order. */
  readonly keys: readonly string[];
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

function isoOrUndefined(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export class Reconciler {
  private running?: Promise<SweepSummary>;
  private readonly overlapMs: number;
  private readonly skewMs: number;
  private readonly now: () => Date;

  constructor(private readonly o: ReconcileOptions) {
    this.overlapMs = o.overlapMs ?? 2 * 60_000;
    this.skewMs = o.skewMs ?? 10_000;
    this.now = o.now ?? (() => new Date());
  }

  /** One sweep at a time per process; a second call joins the running one. */
  sweep(options: SweepOptions = {}): Promise<SweepSummary> {
    this.running ??= this.run(options).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(options: SweepOptions): Promise<SweepSummary> {
    const startedAt = this.now();
    const keys = new Set<string>();
    // A listed page's jobs are enqueued together: one transaction per ENQUEUE_CHUNK keys instead of
    // one per key (on PostgreSQL one fsync, on SQLite one COMMIT). Returns how many were new to the sweep.
    const enqueue = async (page: ReadonlyArray<{ key: string; reason: string }>): Promise<number> => {
      const fresh: Array<{ key: string; reason: string }> = [];
      for (const item of page) {
        if (keys.has(item.key)) continue;
        keys.add(item.key);
        fresh.push(item);
      }
      for (let i = 0; i < fresh.length; i += ENQUEUE_CHUNK) {
        const chunk = fresh.slice(i, i + ENQUEUE_CHUNK);
        await this.o.store.enqueueMany(chunk.map(({ key, reason }) => ({ linkKey: key, kind: "sync", payload: { hops: 0, reason } })));
        for (let n = 0; n < chunk.length; n++) this.o.onEnqueued?.();
      }
      return fresh.length;
    };
    // Dataverse first: records the syncs create while Partner Center is read are not read back as news.
    const dv = await this.sweepDataverse(options, enqueue);
    const pc = await this.sweepPartnerCenter(options, enqueue);
    const summary = { partnerCenter: pc, dataverse: dv, keys: [...keys], startedAt, finishedAt: this.now() };
    this.o.log.info({ partnerCenter: pc, dataverse: dv, enqueued: keys.size }, options.fromBeginning ? "backfill sweep done" : "reconcile sweep done");
    return summary;
  }

  /**
   * Something the sweep could not parse becomes a dead letter under its link's key, with the reason
   * (an admin's retry re-reads it from its source). Merged into work the link already has queued, it
   * is left to that job, which re-reads it and fails or dead-letters on its own. True when this sweep
   * wrote it (false: one with the same key and reason was there).
   */
  private async deadLetter(key: string, reason: string, known: Set<string>): Promise<boolean> {
    const { store, log } = this.o;
    // The same thing, still unparsable, comes back each sweep (the cursor may not have passed it): one dead letter.
    if (known.has(`${key}\n${reason}`)) return false;
    const { jobId, coalesced } = await store.enqueue({ linkKey: key, kind: "sync", payload: { hops: 0, reason }, runAt: NEVER });
    if (!coalesced) await store.deadLetter(jobId, reason);
    known.add(`${key}\n${reason}`);
    log.warn({ key, reason }, "reconcile: dead-lettered what it could not parse");
    return true;
  }

  /** The dead letters there are (newest 1,000), as `<key>\n<reason>`, read once per sweep when needed. */
  private deadLetters(): () => Promise<Set<string>> {
    let known: Promise<Set<string>> | undefined;
    return () => (known ??= this.o.store.listDeadLetters(1000).then((jobs) => new Set(jobs.map((j) => `${j.linkKey}\n${j.lastError ?? ""}`))));
  }

  /**
   * Was this version of the row already covered by the link's last sync? The etag the link kept
   * (after the bridge's own write) answers exactly, with no clock involved; times, with a margin for
   * the two clocks, answer only where a side gives no etag.
   */
  private covered(
    link: { lastSyncedAt: Date | null },
    etags: { kept: string | null | undefined; now: unknown },
    changedAt: number | undefined,
  ): boolean {
    if (typeof etags.now === "string" && etags.kept) return etags.now === etags.kept;
    if (!link.lastSyncedAt || changedAt === undefined) return false;
    return changedAt < link.lastSyncedAt.getTime() - this.skewMs;
  }

  private async sweepPartnerCenter(options: SweepOptions, enqueue: Enqueue) {
    const { store, partnerCenter } = this.o;
    const cursor = options.fromBeginning ? undefined : decodeCursor(await store.getCursor(PC_CURSOR))?.at;
    const since = cursor === undefined ? undefined : new Date(cursor - this.overlapMs).toISOString();
    let seen = 0;
    let enqueued = 0;
    let newest = cursor;
    let filterSupported = true;
    let deadLettered = 0;
    const known = this.deadLetters();

    const handle = async (page: readonly unknown[]): Promise<boolean> => {
      const referrals: Referral[] = [];
      for (const raw of page) {
        const parsed = ReferralSchema.safeParse(raw);
        if (parsed.success) {
          referrals.push(parsed.data);
          continue;
        }
        seen++;
        const { id, digest } = idOrDigest(raw, "id");
        const link = id === undefined ? undefined : await store.findLinkByReferralId(id);
        const reason = `Partner Center referral ${id ?? `(no id, ${digest})`} could not be read: ${reasonOf(parsed.error)}`;
        if (await this.deadLetter(link?.key ?? referralKey(id ?? `unparsable-${digest}`), reason, await known())) deadLettered++;
      }
      options.onReferrals?.(referrals);
      let reachedCursor = false;
      const changed: Array<{ r: Referral; updated: number | undefined }> = [];
      for (const r of referrals) {
        seen++;
        const updated = isoOrUndefined(r.updatedDateTime ?? undefined);
        if (since !== undefined && updated !== undefined && updated <= Date.parse(since)) {
          reachedCursor = true;
          continue;
        }
        if (updated !== undefined && (newest === undefined || updated > newest)) newest = updated;
        changed.push({ r, updated });
      }
      // The page's links in one query, its jobs in one transaction; same keys, same order as one by one.
      const links = new Map<string, Link>();
      const ours = changed.filter(({ r }) => !isMicrosoftReferral(r)).map(({ r }) => r.id);
      for (let i = 0; i < ours.length; i += ENQUEUE_CHUNK) {
        for (const l of await store.findLinksByReferralIds(ours.slice(i, i + ENQUEUE_CHUNK))) links.set(l.referralId, l);
      }
      const jobs: Array<{ key: string; reason: string }> = [];
      for (const { r, updated } of changed) {
        if (isMicrosoftReferral(r)) {
          if (!options.fromBeginning) jobs.push({ key: referralKey(r.id), reason: "reconcile: Microsoft's side changed" });
          continue;
        }
        const link = links.get(r.id);
        if (!options.fromBeginning && link && this.covered(link, { kept: link.pcETag, now: r.eTag }, updated)) continue;
        jobs.push({ key: link?.key ?? referralKey(r.id), reason: options.fromBeginning ? "backfill" : "reconcile: referral changed" });
      }
      enqueued += await enqueue(jobs);
      options.onProgress?.({ side: "partner-center", seen, enqueued });
      return reachedCursor;
    };

    try {
      const filter = since === undefined ? undefined : `updatedDateTime gt ${since}`;
      for await (const page of partnerCenter.listReferrals({ orderby: "updatedDateTime asc", ...(filter ? { filter } : {}) })) await handle(page);
    } catch (err) {
      if (!(err instanceof ValidationError) || since === undefined) throw err;
      // Filtering on updatedDateTime is not documented: newest first, stop at the cursor.
      filterSupported = false;
      this.o.log.warn({ err }, "Partner Center refused $filter on updatedDateTime; reading newest first instead");
      for await (const page of partnerCenter.listReferrals({ orderby: "updatedDateTime desc" })) if (await handle(page)) break;
    }
    if (newest !== undefined) await store.setCursor(PC_CURSOR, new Date(newest).toISOString());
    return { seen, enqueued, filterSupported, deadLettered };
  }

  private async sweepDataverse(options: SweepOptions, enqueue: Enqueue) {
    const { store, dataverse } = this.o;
    const legacy = options.fromBeginning ? undefined : decodeCursor(await store.getCursor(DV_CURSOR));
    let seen = 0;
    let enqueued = 0;
    let deadLettered = 0;
    const known = this.deadLetters();
    const tables: Array<{ kind: RecordKind; set: string; id: string; filter: string }> = [
      {
        kind: "opportunity",
        set: Table.opportunity.entitySetName,
        id: SystemColumn.opportunity.id,
        filter: `(${OpportunityColumn.referralId} ne null or ${OpportunityColumn.syncWithPartnerCenter} eq true)`,
      },
      { kind: "lead", set: Table.lead.entitySetName, id: SystemColumn.lead.id, filter: `${LeadColumn.referralId} ne null` },
    ];
    for (const t of tables) {
      const cursor = options.fromBeginning ? undefined : (decodeCursor(await store.getCursor(dataverseCursorName(t.kind))) ?? legacy);
      let last = cursor;
      const schema = RowSchema(t.id);
      for await (const page of dataverse.retrieveMultiple(t.set, {
        select: [t.id, "modifiedon"],
        filter: this.dataverseFilter(t, cursor),
        // Unique: paging over modifiedon alone may lose or repeat rows that share a modifiedon.
        orderby: `modifiedon asc,${t.id} asc`,
        maxPageSize: this.o.pageSize ?? 5000,
      })) {
        const rows: Array<{ id: string; modified: number; etag: unknown }> = [];
        for (const row of page) {
          seen++;
          const parsed = schema.safeParse(row);
          if (!parsed.success) {
            const { id, digest } = idOrDigest(row, t.id);
            const recordId = GUID.safeParse(id).success ? id!.toLowerCase() : undefined;
            const link = recordId === undefined ? undefined : await store.findLinkByRecord(t.kind, recordId);
            const key = link?.key ?? (recordId ? recordKey(t.kind, recordId) : `${t.kind}:unparsable-${digest}`);
            const reason = `Dataverse ${t.kind} ${recordId ?? `(no id, ${digest})`} could not be read: ${reasonOf(parsed.error)}`;
            if (await this.deadLetter(key, reason, await known())) deadLettered++;
            continue;
          }
          const data = parsed.data as Record<string, string>;
          const id = data[t.id]!.toLowerCase();
          const modified = Date.parse(data.modifiedon!);
          const position = { at: modified, id };
          if (after(position, last)) last = position;
          rows.push({ id, modified, etag: row["@odata.etag"] });
        }
        for (let i = 0; i < rows.length; i += ENQUEUE_CHUNK) {
          const chunk = rows.slice(i, i + ENQUEUE_CHUNK);
          const links = new Map((await store.findLinksByRecords(t.kind, chunk.map((r) => r.id))).map((l) => [l.recordId, l] as const));
          const keys: Array<{ key: string; reason: string }> = [];
          for (const { id, modified, etag } of chunk) {
            const link = links.get(id);
            if (!options.fromBeginning && link && this.covered(link, { kept: link.crmETag, now: etag }, modified)) continue;
            keys.push({ key: link?.key ?? recordKey(t.kind, id), reason: options.fromBeginning ? "backfill" : `reconcile: ${t.kind} changed` });
          }
          enqueued += await enqueue(keys);
        }
        options.onProgress?.({ side: "dataverse", seen, enqueued });
      }
      if (last !== undefined && last !== cursor) await store.setCursor(dataverseCursorName(t.kind), encodeCursor(last));
    }
    return { seen, enqueued, deadLettered };
  }

  /**
   * Rows changed after the cursor. With an overlap, from that much before its time (ids do not
   * matter there); without one, strictly after the last row seen, in the sweep's own order.
   */
  private dataverseFilter(t: { id: string; filter: string }, cursor: SweepCursor | undefined): string {
    if (cursor === undefined) return t.filter;
    const since = new Date(cursor.at - this.overlapMs).toISOString();
    if (this.overlapMs > 0 || cursor.id === undefined) return `${t.filter} and modifiedon gt ${since}`;
    return `${t.filter} and (modifiedon gt ${since} or (modifiedon eq ${since} and ${t.id} gt ${cursor.id}))`;
  }
}
