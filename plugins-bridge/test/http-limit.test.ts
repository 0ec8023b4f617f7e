import { ConcurrencyLimit } from "../src/http/transport";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function afterMicrotasks(depth: number, fn: () => void): void {
  if (depth === 0) fn();
  else queueMicrotask(() => afterMicrotasks(depth - 1, fn));
}

describe("the transport's concurrency cap", () => {
  it.each([1, 2, 3])("never runs more than %i at once, whenever a newcomer arrives", async (limit) => {
    for (let depth = 0; depth < 12; depth++) {
      const limiter = new ConcurrencyLimit(limit);
      let running = 0;
      let most = 0;
      const gates = Array.from({ length: limit + 2 }, () => deferred());
      const task = (gate: Promise<void>) => async () => {
        running++;
        most = Math.max(most, running);
        await gate;
        running--;
      };
      const all = gates.map((g) => limiter.run(task(g.promise)));
      // One slot frees; a newcomer arrives `depth` microtasks later, racing the waiter that was promised it.
      const late = deferred();
      gates[0]!.resolve();
      afterMicrotasks(depth, () => all.push(limiter.run(task(late.promise))));
      await new Promise((r) => setImmediate(r));
      expect({ depth, most }).toEqual({ depth, most: limit });
      for (const g of gates) g.resolve();
      late.resolve();
      await Promise.all(all);
    }
  });
});
