/**
 * A seeded pseudo-random generator for the chaos runs, so that a failing run can be replayed with
 * its printed seed. Each operation draws from its own generator derived from (seed, index): its
 * choices do not depend on how the concurrent actors happened to interleave.
 */
import { seededRandom } from "@cosell/sandbox/src/faults";

export class Prng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }

  /** A generator for item `index` of this run (stable whatever else was drawn before). */
  derive(index: number): Prng {
    return new Prng((Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) | 0);
  }

  float(): number {
    return this.next();
  }

  /** 0 … n-1 */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.int(items.length)] as T;
  }

  /** A key of `weights`, drawn in proportion to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }

  /** A short lowercase tag. */
  tag(length = 6): string {
    let s = "";
    for (let i = 0; i < length; i++) s += "abcdefghijklmnopqrstuvwxyz0123456789"[this.int(36)];
    return s;
  }
}

/** The seed of a run: COSELL_CHAOS_SEED when set (to replay), else a fresh one. */
export function chooseSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env["COSELL_CHAOS_SEED"];
  if (given !== undefined && given.trim() !== "") {
    const n = Number(given);
    if (!Number.isInteger(n)) throw new Error(`COSELL_CHAOS_SEED must be an integer, got '${given}'`);
    return n;
  }
  return (Date.now() ^ (process.pid << 16)) & 0x7fffffff;
}
