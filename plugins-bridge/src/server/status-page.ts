/**
 * The status page: server-rendered HTML, no script, every value escaped. Recent syncs, failures
 * with their reasons, dead letters with a Retry button, the queue and sign-in health.
 */
import type { KeyNotReady } from "../engine/keys-ready";
import type { Job, QueueStats, SyncRecord } from "../store";

export interface StatusView {
  readonly instanceId: string;
  readonly queue: QueueStats;
  readonly signIn: { partnerCenter: { ok: boolean; error?: string }; dataverse: { ok: boolean; error?: string } };
  readonly recent: readonly SyncRecord[];
  readonly failures: readonly SyncRecord[];
  readonly deadLetters: readonly Job[];
  readonly formToken: string;
  readonly message?: string;
  /** When the stored Partner Center refresh token was last renewed, if one is stored. */
  readonly refreshTokenStoredAt?: Date;
  /** Referral-id alternate keys whose index Dataverse has not (yet) built. */
  readonly keysNotReady?: readonly KeyNotReady[];
  readonly now?: Date;
}

const DAY_MS = 86_400_000;
/** Entra ID ends a refresh token unused for this long (sliding: every use renews it). */
export const REFRESH_TOKEN_INACTIVITY_DAYS = 90;
/** A running bridge renews its token about hourly; this long without renewal means it is not being used. */
const STALE_AFTER_DAYS = 7;

/** The refresh token's age in words: fine while renewed, a warning once it stops being renewed. */
export function refreshTokenLine(storedAt: Date | undefined, now: Date): string {
  if (!storedAt) return `<li class="empty">Partner Center refresh token: none stored (configured one in use, or run <code>cosell-bridge login</code>).</li>`;
  const ends = new Date(storedAt.getTime() + REFRESH_TOKEN_INACTIVITY_DAYS * DAY_MS);
  const days = Math.floor((now.getTime() - storedAt.getTime()) / DAY_MS);
  const when = `renewed ${time(storedAt)} UTC; Entra ID ends it after ${REFRESH_TOKEN_INACTIVITY_DAYS} days without use (on ${time(ends)} UTC unless used again)`;
  if (days < STALE_AFTER_DAYS) return `<li class="ok">Partner Center refresh token: ${when}.</li>`;
  return `<li class="error"><strong>Partner Center refresh token not renewed for ${days} days:</strong> ${when}. Check the Partner Center sign-in above; if it fails, run <code>cosell-bridge login</code>.</li>`;
}

/** A line per referral-id key that is not Active: still being built (syncs wait), or failed (admin). */
export function keyLines(keys: readonly KeyNotReady[]): string {
  return keys
    .map((k) =>
      k.status === "Pending" || k.status === "InProgress"
        ? `<li class="empty">Alternate key <code>${escapeHtml(k.key)}</code> on ${escapeHtml(k.table)}: still being built by Dynamics 365 (${escapeHtml(k.status)}); syncs of new ${escapeHtml(k.table)} records wait and run again once it is Active.</li>`
        : k.status === "Missing"
          ? `<li class="error"><strong>Alternate key <code>${escapeHtml(k.key)}</code> is not defined on ${escapeHtml(k.table)}.</strong> Import the co-sell solution again.</li>`
          : `<li class="error"><strong>Alternate key <code>${escapeHtml(k.key)}</code> on ${escapeHtml(k.table)} could not be built (${escapeHtml(k.status)}).</strong> Reactivate it (Power Apps: Tables → ${escapeHtml(k.table)} → Keys, or the ReactivateEntityKey action), usually after removing records with duplicate referral ids.</li>`,
    )
    .join("");
}

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

const time = (d: Date | null | undefined) => (d ? escapeHtml(d.toISOString().replace("T", " ").slice(0, 19)) : "");

function syncRows(rows: readonly SyncRecord[]): string {
  if (rows.length === 0) return `<p class="empty">None.</p>`;
  return `<table><thead><tr><th>When (UTC)</th><th>Link</th><th>Direction</th><th>Outcome</th><th>Message</th><th>Correlation id</th></tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr class="${escapeHtml(r.outcome)}"><td>${time(r.at)}</td><td><code>${escapeHtml(r.linkKey)}</code></td><td>${escapeHtml(r.direction)}</td><td>${escapeHtml(r.outcome)}</td><td>${escapeHtml(r.message)}</td><td><code>${escapeHtml(r.correlationId ?? "")}</code></td></tr>`,
    )
    .join("")}</tbody></table>`;
}

function deadRows(jobs: readonly Job[], token: string): string {
  if (jobs.length === 0) return `<p class="empty">None.</p>`;
  return `<table><thead><tr><th>Job</th><th>Link</th><th>Since (UTC)</th><th>Attempts</th><th>Reason</th><th></th></tr></thead><tbody>${jobs
    .map(
      (j) =>
        `<tr><td>${j.id}</td><td><code>${escapeHtml(j.linkKey)}</code></td><td>${time(j.updatedAt)}</td><td>${j.attempts}</td><td>${escapeHtml(j.lastError ?? "")}</td><td><form method="post" action="/admin/dead-letters/${j.id}/retry"><input type="hidden" name="csrf" value="${escapeHtml(token)}"><button type="submit">Retry</button></form></td></tr>`,
    )
    .join("")}</tbody></table>`;
}

function health(name: string, h: { ok: boolean; error?: string }): string {
  return h.ok
    ? `<li class="ok">${escapeHtml(name)}: signed in</li>`
    : `<li class="error"><strong>${escapeHtml(name)}: cannot sign in.</strong> ${escapeHtml(h.error ?? "")}</li>`;
}

export function renderStatusPage(v: StatusView): string {
  const q = v.queue;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cosell-bridge status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
tr.error td{background:#fdecea}tr.skipped td{background:#fff8e1}tr.conflict td{background:#fff3e0}.ok{color:#1b5e20}.error{color:#b71c1c}
.empty{color:#777}code{font-size:12px}.stats span{margin-right:1.5rem}.message{background:#e8f5e9;padding:.5rem}
</style></head><body>
<h1>cosell-bridge <small>${escapeHtml(v.instanceId)}</small></h1>
${v.message ? `<p class="message">${escapeHtml(v.message)}</p>` : ""}
<ul>${health("Partner Center", v.signIn.partnerCenter)}${refreshTokenLine(v.refreshTokenStoredAt, v.now ?? new Date())}${health("Dynamics 365", v.signIn.dataverse)}${keyLines(v.keysNotReady ?? [])}</ul>
<p class="stats"><span>Queued: <b>${q.queued}</b></span><span>Ready: <b>${q.ready}</b></span><span>Running: <b>${q.running}</b></span><span>Dead letters: <b>${q.dead}</b></span><span>Lag: <b>${(q.lagMs / 1000).toFixed(1)} s</b></span></p>
<form method="post" action="/admin/reconcile"><input type="hidden" name="csrf" value="${escapeHtml(v.formToken)}"><button type="submit">Reconcile now</button></form>
<h2>Dead letters</h2>${deadRows(v.deadLetters, v.formToken)}
<h2>Recent failures</h2>${syncRows(v.failures)}
<h2>Recent syncs</h2>${syncRows(v.recent)}
</body></html>`;
}
