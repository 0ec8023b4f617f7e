/** LookupBatch (store/lookup-batch.ts): lookups made together, answered by one load. */
import { LookupBatch } from "../src/store/lookup-batch";

function recorder(fail?: (keys: string[]) => boolean) {
  const loads: string[][] = [];
  const batch = new LookupBatch<string>(async (keys) => {
    loads.push(keys);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (fail?.(keys)) throw new Error("the query failed");
    return new Map(keys.filter((k) => !k.startsWith("missing")).map((k) => [k, `value of ${k}`]));
  }, 3);
  return { batch, loads };
}

describe("LookupBatch", () => {
  it("loads the keys asked together once each, at most maxKeys at a time, and answers every caller", async () => {
    const { batch, loads } = recorder();
    const keys = ["a", "b", "a", "missing-1", "c", "d", "b"];
    const answers = await Promise.all(keys.map((k) => batch.get(k)));
    expect(answers).toEqual(["value of a", "value of b", "value of a", undefined, "value of c", "value of d", "value of b"]);
    expect(loads).toEqual([
      ["a", "b", "missing-1"],
      ["c", "d"],
    ]);
  });

  it("sends a key asked while a load is in flight in the next load", async () => {
    const { batch, loads } = recorder();
    const first = batch.get("a");
    await new Promise((resolve) => setImmediate(resolve));
    expect(loads).toEqual([["a"]]);
    const second = batch.get("a");
    expect(await Promise.all([first, second])).toEqual(["value of a", "value of a"]);
    expect(loads).toEqual([["a"], ["a"]]);
  });

  it("fails the callers of a failed load only", async () => {
    const { batch } = recorder((keys) => keys.includes("b"));
    const settled = await Promise.allSettled(["a", "b", "c", "d", "e"].map((k) => batch.get(k)));
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected", "rejected", "fulfilled", "fulfilled"]);
    expect(settled[0]).toMatchObject({ reason: new Error("the query failed") });
  });
});
