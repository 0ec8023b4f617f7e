/**
 * Fault settings shared by both emulators, for tests and benchmarks. Everything is off by default.
 * Probabilities are drawn from a seeded generator so that a failing chaos run can be replayed.
 */
import { z } from "zod";

export const FaultSettingsSchema = z
  .object({
    /** Added to every API request before it is handled (ms). */
    latencyMs: z.number().min(0).default(0),
    /** Probability that an API request answers 500/503 without being applied. */
    errorRate: z.number().min(0).max(1).default(0),
    /** Probability that an API request answers 429 + Retry-After without being applied. */
    throttleRate: z.number().min(0).max(1).default(0),
    /** Retry-After seconds sent with an injected 429. */
    retryAfterSeconds: z.number().min(0).default(1),
    /** Probability that an API request hangs until the client gives up (never answered). */
    timeoutRate: z.number().min(0).max(1).default(0),
    /** How long a "timed out" request is held before the socket is destroyed (ms). */
    timeoutHoldMs: z.number().min(0).default(30_000),
    /** Probability that an outgoing webhook delivery is dropped entirely (no attempt at all). */
    webhookDropRate: z.number().min(0).max(1).default(0),
    /** Probability that an outgoing webhook delivery is delayed (which reorders deliveries). */
    webhookDelayRate: z.number().min(0).max(1).default(0),
    /** Upper bound of the random delay of a delayed webhook (ms). */
    webhookDelayMaxMs: z.number().min(0).default(2_000),
    /** Seed of the fault generator; same seed, same faults for the same request sequence. */
    seed: z.number().int().default(1),
  })
  .strict();

export type FaultSettings = z.infer<typeof FaultSettingsSchema>;
export type FaultSettingsInput = z.input<typeof FaultSettingsSchema>;

export const NO_FAULTS: FaultSettings = FaultSettingsSchema.parse({});

/** mulberry32: tiny, fast, good enough for fault injection. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type RequestFault =
  | { kind: "none" }
  | { kind: "error"; status: 500 | 503 }
  | { kind: "throttle"; retryAfterSeconds: number }
  | { kind: "timeout"; holdMs: number };

export type WebhookFault = { kind: "none" } | { kind: "drop" } | { kind: "delay"; ms: number };

/** Holds the current settings (changeable at run time) and draws faults from them. */
export class FaultInjector {
  private settings: FaultSettings;
  private random: () => number;

  constructor(settings: FaultSettingsInput = {}) {
    this.settings = FaultSettingsSchema.parse(settings);
    this.random = seededRandom(this.settings.seed);
  }

  get current(): FaultSettings {
    return this.settings;
  }

  /** Replaces the settings (unspecified fields go back to their defaults) and reseeds. */
  update(settings: FaultSettingsInput): FaultSettings {
    this.settings = FaultSettingsSchema.parse(settings);
    this.random = seededRandom(this.settings.seed);
    return this.settings;
  }

  get latencyMs(): number {
    return this.settings.latencyMs;
  }

  drawRequestFault(): RequestFault {
    const s = this.settings;
    if (s.errorRate === 0 && s.throttleRate === 0 && s.timeoutRate === 0) return { kind: "none" };
    const r = this.random();
    if (r < s.timeoutRate) return { kind: "timeout", holdMs: s.timeoutHoldMs };
    if (r < s.timeoutRate + s.throttleRate) return { kind: "throttle", retryAfterSeconds: s.retryAfterSeconds };
    if (r < s.timeoutRate + s.throttleRate + s.errorRate) return { kind: "error", status: this.random() < 0.5 ? 500 : 503 };
    return { kind: "none" };
  }

  drawWebhookFault(): WebhookFault {
    const s = this.settings;
    if (s.webhookDropRate === 0 && s.webhookDelayRate === 0) return { kind: "none" };
    const r = this.random();
    if (r < s.webhookDropRate) return { kind: "drop" };
    if (r < s.webhookDropRate + s.webhookDelayRate)
      return { kind: "delay", ms: Math.round(this.random() * s.webhookDelayMaxMs) };
    return { kind: "none" };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
