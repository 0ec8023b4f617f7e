import { auditTimeline, countOutcomes, filterTimeline, NO_AUDIT_FILTER } from "../../PartnerCenterSection/model/audit";
import { AUDIT_OUTGOING, auditText } from "../support/fixtures";

describe("auditTimeline", () => {
  test("newest first", () => {
    expect(auditTimeline(AUDIT_OUTGOING).map((e) => e.at)).toEqual([
      "2026-11-24T16:00:00.000Z",
      "2026-11-23T08:15:00.000Z",
      "2026-11-22T11:45:00.000Z",
      "2026-11-21T10:30:00.000Z",
      "2026-11-20T09:00:00.000Z",
    ]);
  });

  test("ordered by time even if lines were appended out of order (two writers' clocks)", () => {
    const text = auditText(
      { at: "2026-11-24T10:00:00.000Z", direction: "CRM→PC", outcome: "ok", message: "later" },
      { at: "2026-11-24T09:00:00.000Z", direction: "PC→CRM", outcome: "ok", message: "earlier" },
    );
    expect(auditTimeline(text).map((e) => e.message)).toEqual(["later", "earlier"]);
  });

  test("same time: the one appended last comes first", () => {
    const at = "2026-11-24T10:00:00.000Z";
    const text = auditText(
      { at, direction: "CRM→PC", outcome: "ok", message: "first" },
      { at, direction: "CRM→PC", outcome: "ok", message: "second" },
    );
    expect(auditTimeline(text).map((e) => e.message)).toEqual(["second", "first"]);
  });

  test("lines that are not audit entries are left out; keys stay unique", () => {
    const text = `garbage\n${AUDIT_OUTGOING}\n\nanother\tbad\tline`;
    const entries = auditTimeline(text);
    expect(entries).toHaveLength(5);
    expect(new Set(entries.map((e) => e.key)).size).toBe(5);
  });

  test.each([[null], [""]])("empty column %p → no entries", (value) => {
    expect(auditTimeline(value)).toEqual([]);
  });
});

describe("filterTimeline", () => {
  const entries = auditTimeline(AUDIT_OUTGOING);
  test.each([
    [NO_AUDIT_FILTER, 5],
    [{ direction: "CRM→PC", outcome: "all" }, 3],
    [{ direction: "PC→CRM", outcome: "all" }, 2],
    [{ direction: "all", outcome: "error" }, 1],
    [{ direction: "PC→CRM", outcome: "error" }, 0],
    [{ direction: "CRM→PC", outcome: "conflict" }, 1],
  ] as const)("%o → %i entries", (filter, count) => {
    const result = filterTimeline(entries, filter);
    expect(result).toHaveLength(count);
    for (const e of result) {
      if (filter.direction !== "all") expect(e.direction).toBe(filter.direction);
      if (filter.outcome !== "all") expect(e.outcome).toBe(filter.outcome);
    }
  });
});

test("countOutcomes", () => {
  expect(countOutcomes(auditTimeline(AUDIT_OUTGOING))).toEqual({ ok: 2, skipped: 1, conflict: 1, error: 1 });
});
