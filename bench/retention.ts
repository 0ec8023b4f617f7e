/**
 * Store growth under retention (issue 13): days of traffic on a fresh store, with a simulated clock —
 * each day a number of referrals created as opportunities (webhook stored, create intent kept, link
 * saved, job completed with two history rows) — and the bridge's retention run once a day, as
 * `cosell-bridge serve` runs it every hour (`Retention`, COSELL_RETENTION_DAYS). The store and
 * retention are driven in this process; no bridge process and no emulator are involved. Figures: the
 * rows the pruned tables hold after the last day, which must be the retention's worth and no more,
 * and their growth since the day retention first had something to delete (must be none).
 */
import Database from "better-sqlite3";
import { Client } from "pg";
import { createIntentName } from "@cosell/bridge/src/engine/sync-engine";
import { DAY_MS, Retention } from "@cosell/bridge/src/engine/retention";
import { openStore, type Store } from "@cosell/bridge/src/store";
import { figure, type Figure } from "./lib/figures";
import { freshStore, PG_URL, type BenchStore, type StoreKind } from "./lib/stores";
import type { RunContext } from "./lib/world";

export interface RetentionOptions {
  /** Days of traffic simulated. */
  readonly days: number;
  /** Referrals created per day. */
  readonly perDay: number;
  /** COSELL_RETENTION_DAYS for the run. */
  readonly retentionDays: number;
}

/** The tables retention prunes (links and jobs are never pruned). */
const PRUNED = ["events", "sync_log", "cursors"] as const;
/** Rows one created referral adds to them: its webhook, two history rows, its create intent. */
const ROWS_PER_REFERRAL = 4;
const T0 = Date.parse("2026-01-01T09:00:00.000Z");

async function prunedRows(store: BenchStore): Promise<number> {
  if (store.kind === "sqlite") {
    const db = new Database(store.config.path, { readonly: true });
    try {
      return PRUNED.reduce((n, t) => n + (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n, 0);
    } finally {
      db.close();
    }
  }
  const c = new Client({ connectionString: PG_URL });
  await c.connect();
  try {
    let n = 0;
    for (const t of PRUNED) n += Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${store.config.schema}".${t}`)).rows[0]?.n);
    return n;
  } finally {
    await c.end();
  }
}

/** One day of referrals created, at one minute apart from 09:00 on day `day`. */
async function trafficDay(store: Store, clock: { now: number }, day: number, perDay: number): Promise<void> {
  for (let i = 0; i < perDay; i++) {
    clock.now = T0 + day * DAY_MS + i * 60_000;
    const referralId = `ref-${day}-${i}`;
    const key = `opportunity:opp-${day}-${i}`;
    const at = new Date(clock.now);
    await store.recordEvent({ source: "partner-center", dedupeKey: `${referralId}|created`, linkKey: `referral:${referralId}`, receivedAt: at, payload: { referralId } });
    await store.setCursor(createIntentName(referralId), JSON.stringify({ copied: {} }));
    await store.saveLink({ key, referralId, engagementId: null, entity: "opportunity", recordId: `opp-${day}-${i}`, base: {}, pcETag: null, crmETag: null, lastSyncedAt: at, state: "active", expectedVersion: null });
    const job = await store.claimNext("bench", 60_000);
    if (!job) throw new Error(`day ${day}: the referral's job was not queued`);
    await store.completeAndClaim(
      job.id,
      "bench",
      [
        { linkKey: key, direction: "PC→CRM", outcome: "ok", message: `created from ${referralId}`, correlationId: null, at },
        { linkKey: key, direction: "CRM→PC", outcome: "ok", message: "accepted", correlationId: null, at },
      ],
      null,
    );
  }
}

/** Rows in the pruned tables after each simulated day (retention run at noon), in order. */
export async function simulateRetention(ctx: RunContext, kind: StoreKind, o: RetentionOptions): Promise<number[]> {
  const bench = await freshStore(kind, ctx.workDir, "retention");
  const clock = { now: T0 };
  const store = await openStore(bench.config, { now: () => clock.now });
  const quiet = { info: () => undefined, error: (obj: unknown) => ctx.log(`retention failed: ${JSON.stringify(obj)}`) };
  const retention = new Retention({ store, log: quiet, policy: { days: o.retentionDays, intervalMs: 3_600_000 }, now: () => clock.now });
  const rows: number[] = [];
  try {
    for (let day = 0; day < o.days; day++) {
      await trafficDay(store, clock, day, o.perDay);
      clock.now = T0 + day * DAY_MS + 12 * 3_600_000;
      await retention.runOnce();
      rows.push(await prunedRows(bench));
    }
  } finally {
    await store.close();
    await bench.drop();
  }
  return rows;
}

export async function retentionFigures(ctx: RunContext, kind: StoreKind, o: RetentionOptions): Promise<Figure[]> {
  ctx.log(`retention on ${kind}: ${o.days} simulated days × ${o.perDay} referrals, COSELL_RETENTION_DAYS=${o.retentionDays}`);
  const rows = await simulateRetention(ctx, kind, o);
  const last = rows.at(-1) ?? Number.NaN;
  // The first day whose run deletes something is the one after the retention's days.
  const levelled = rows[o.retentionDays] ?? Number.NaN;
  const base = `retention.${kind}`;
  const what = `events, sync history and create intents (${PRUNED.join(", ")})`;
  return [
    figure(`${base}.rowsAfter${o.days}Days`, "rows", last, { op: "<=", value: o.retentionDays * o.perDay * ROWS_PER_REFERRAL }, `${what} after ${o.days} simulated days of ${o.perDay} referrals a day; target: ${o.retentionDays} days' worth`, ["none"]),
    figure(`${base}.growthSinceRetentionStarted`, "rows", last - levelled, { op: "==", value: 0 }, `${what}: rows after day ${o.days} minus rows after day ${o.retentionDays + 1}`, ["none"]),
  ];
}
