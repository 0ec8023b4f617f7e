/**
 * Prometheus metrics, on the bridge's own Registry (never prom-client's global one, so two bridges
 * in one process — tests — do not share counters).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Store } from "../store";
import type { JobResult } from "../engine/worker";

export class BridgeMetrics {
  readonly registry = new Registry();
  readonly eventsReceived: Counter<"source" | "outcome">;
  readonly syncs: Counter<"direction" | "outcome">;
  readonly syncDuration: Histogram<"result">;
  readonly writes: Counter<"target">;

  constructor(store: Store, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.eventsReceived = new Counter({
      name: "cosell_bridge_events_received_total",
      help: "Webhooks received, by source (partner-center, dataverse) and outcome (accepted, duplicate, ignored, rejected).",
      labelNames: ["source", "outcome"],
      registers,
    });
    this.syncs = new Counter({
      name: "cosell_bridge_syncs_total",
      help: "Syncs finished, by direction (PC→CRM, CRM→PC, none) and outcome (ok, skipped, conflict, error, unchanged, retry, dead).",
      labelNames: ["direction", "outcome"],
      registers,
    });
    this.syncDuration = new Histogram({
      name: "cosell_bridge_sync_duration_seconds",
      help: "How long one sync job took, by result.",
      labelNames: ["result"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.writes = new Counter({
      name: "cosell_bridge_writes_total",
      help: "Writes the syncs made, by target (partner-center, dataverse).",
      labelNames: ["target"],
      registers,
    });
    const depth = new Gauge({
      name: "cosell_bridge_queue_jobs",
      help: "Jobs in the queue by state (queued, ready = queued and due, running, dead).",
      labelNames: ["state"],
      registers,
      async collect() {
        const s = await store.queueStats();
        this.set({ state: "queued" }, s.queued);
        this.set({ state: "ready" }, s.ready);
        this.set({ state: "running" }, s.running);
        this.set({ state: "dead" }, s.dead);
        lag.set(s.lagMs / 1000);
      },
    });
    const lag = new Gauge({
      name: "cosell_bridge_queue_lag_seconds",
      help: "Age of the oldest job that is due and waiting: how far behind the bridge is.",
      registers,
    });
    void depth;
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: "cosell_bridge_" });
  }

  /** Counts one finished job. */
  observe(result: JobResult): void {
    const o = result.outcome;
    let label = "ok";
    if (o.kind === "done") {
      const out = o.outcome;
      if (out.kind === "forward") label = "forwarded";
      else {
        const reports = out.reports;
        if (reports.length === 0) this.syncs.inc({ direction: "none", outcome: out.kind === "done" && out.wrote.dataverse + out.wrote.partnerCenter === 0 ? "unchanged" : "ok" });
        for (const r of reports) this.syncs.inc({ direction: r.direction, outcome: r.outcome });
        if (out.wrote.partnerCenter > 0) this.writes.inc({ target: "partner-center" }, out.wrote.partnerCenter);
        if (out.wrote.dataverse > 0) this.writes.inc({ target: "dataverse" }, out.wrote.dataverse);
      }
    } else if (o.kind === "retry") {
      label = o.dead ? "dead" : "retry";
      this.syncs.inc({ direction: "none", outcome: label });
    } else if (o.kind === "dead-letter") {
      label = "dead";
      this.syncs.inc({ direction: "none", outcome: "dead" });
      if (o.outcome?.kind === "dead-letter") {
        if (o.outcome.wrote.partnerCenter > 0) this.writes.inc({ target: "partner-center" }, o.outcome.wrote.partnerCenter);
        if (o.outcome.wrote.dataverse > 0) this.writes.inc({ target: "dataverse" }, o.outcome.wrote.dataverse);
      }
    } else label = "lease-lost";
    this.syncDuration.observe({ result: label }, result.durationMs / 1000);
  }
}
