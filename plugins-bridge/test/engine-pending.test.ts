/**
 * A Partner Center write in flight when the bridge stops: the base saved before the PATCH says, per
 * field, what Partner Center showed before it and will show after; the next sync reads Partner
 * Center and settles each field (tests/reliability/regressions.test.ts runs the crash itself).
 */
import { PENDING_KEY, pendingWrites, settlePending } from "../src/engine/sync-engine";

describe("pending Partner Center writes", () => {
  it("keeps only the fields the write changes", () => {
    expect(pendingWrites({ notes: "old", value: 5, name: "Deal" }, { notes: "new", value: 5, name: "Deal", extra: null })).toEqual({ notes: { before: "old", after: "new" } });
    expect(pendingWrites({ a: [1] }, { a: [1] })).toEqual({});
  });

  const base = { notes: "old", value: 5, "notes#held": { pc: "x", crm: "y", reason: "conflict" }, [PENDING_KEY]: { notes: { before: "old", after: "seller" } } };

  it("the write landed and nobody changed it since: our value is the base", () => {
    expect(settlePending(base, { notes: "seller", value: 5 })).toEqual({ notes: "seller", value: 5 });
  });

  it("the write landed and Microsoft changed the field since: our value is the base, so Microsoft's edit is the news", () => {
    expect(settlePending(base, { notes: "Microsoft's reply", value: 5 })).toEqual({ notes: "seller", value: 5 });
  });

  it("the write did not land (Partner Center still shows the value from before it): the base stays as it was", () => {
    expect(settlePending(base, { notes: "old", value: 5 })).toEqual({ notes: "old", value: 5, "notes#held": { pc: "x", crm: "y", reason: "conflict" } });
  });

  it("ignores a malformed pending entry and always drops the marker", () => {
    expect(settlePending({ a: 1, [PENDING_KEY]: "nonsense" }, { a: 2 })).toEqual({ a: 1 });
    expect(settlePending({ a: 1, [PENDING_KEY]: { a: { after: 3 } } }, { a: 2 })).toEqual({ a: 1 });
  });
});
