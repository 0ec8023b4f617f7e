import { fc, test } from "@fast-check/jest";
import { Clock, formatInstant, formatWebhookInstant, parseServerInstant } from "../src/partner-center/clock";
import { bind, BindError, materialize, REFERRAL_SHAPE, resolvePointer } from "../src/partner-center/referral-shape";
import { ReferralStore, type StoredReferral } from "../src/partner-center/referral-store";
import { ifMatchSatisfied, normaliseETag } from "../src/partner-center/referral-service";
import type { Referral } from "../src/partner-center";

describe("clock", () => {
  it("is strictly increasing even when called faster than it ticks", () => {
    const clock = new Clock();
    const instants = Array.from({ length: 5000 }, () => clock.now());
    for (let i = 1; i < instants.length; i++) {
      const a = instants[i - 1] as { ms: number; sub: number };
      const b = instants[i] as { ms: number; sub: number };
      expect(b.ms > a.ms || (b.ms === a.ms && b.sub > a.sub)).toBe(true);
    }
    const texts = instants.map(formatInstant);
    expect(new Set(texts).size).toBe(texts.length);
  });

  it("formats like .NET: 7 digits trimmed for resources, always 7 and +00:00 for webhook payloads", () => {
    expect(formatInstant({ ms: Date.UTC(2026, 0, 1, 10), sub: 0 })).toBe("2026-01-01T10:00:00Z");
    expect(formatInstant({ ms: Date.UTC(2026, 0, 1, 10) + 123, sub: 0.4567 })).toBe("2026-01-01T10:00:00.1234567Z");
    expect(formatInstant({ ms: Date.UTC(2026, 0, 1, 10) + 500, sub: 0 })).toBe("2026-01-01T10:00:00.5Z");
    expect(formatWebhookInstant({ ms: Date.UTC(2018, 1, 17, 0, 5, 39) + 548, sub: 0.5487 })).toBe("2018-02-17T00:05:39.5485487+00:00");
  });

  test.prop([fc.integer({ min: 0, max: 4102444800000 }), fc.integer({ min: 0, max: 9999 })])("format → parse keeps the instant to 100 ns", (ms, ticks) => {
    const parsed = parseServerInstant(formatInstant({ ms, sub: ticks / 10_000 }));
    expect(parsed?.ms).toBe(ms);
    expect(Math.round((parsed?.sub ?? -1) * 10_000)).toBe(ticks);
  });
});

describe("ETags and If-Match", () => {
  it.each([
    ['"abc-1"', '"abc-1"', true],
    ["abc-1", '"abc-1"', true],
    ['W/"abc-1"', '"abc-1"', true],
    ['"\\"abc-1\\""', '"abc-1"', true],
    ["*", '"abc-1"', true],
    ['"x", "abc-1"', '"abc-1"', true],
    ['"abc-2"', '"abc-1"', false],
    ["", '"abc-1"', false],
  ])("If-Match %s against %s → %p", (header, etag, ok) => {
    expect(ifMatchSatisfied(header, etag)).toBe(ok);
  });
  it("normalises quotes away", () => expect(normaliseETag('W/"a"')).toBe("a"));
});

describe("binding and pointers", () => {
  it("reports the path of a value that does not fit", () => {
    expect(() => bind({ customerProfile: { team: [{}, { email: 5, contactPreference: { disableNotifications: "sometimes" } }] } }, REFERRAL_SHAPE)).toThrow(
      new BindError("customerProfile.team[1].contactPreference.disableNotifications", "must be true or false"),
    );
  });

  it("collects every ignored property with its path, at any depth", () => {
    const { ignored } = bind({ a: 1, details: { b: 2, requirements: { solutions: [{ c: 3 }] } } }, REFERRAL_SHAPE);
    expect(ignored).toEqual(["a", "details.b", "details.requirements.solutions[0].c"]);
  });

  it("materializes every property of the referral", () => {
    const r = materialize(REFERRAL_SHAPE, {}) as Referral;
    expect(r.team).toEqual([]);
    expect(r.customerProfile.address).toEqual({ addressLine1: null, addressLine2: null, city: null, state: null, postalCode: null, country: null, region: null });
    expect(r.inviteContext.invitedBy).toEqual({ organizationId: null, organizationName: null });
  });

  it.each([
    ["/details/dealValue", "/details/dealValue"],
    ["/DETAILS/DEALVALUE", "/details/dealValue"],
    ["/team/-", "/team/-"],
    ["/team/0/Email", "/team/0/email"],
    ["/details/additionalRequirements/a~1b/c", "/details/additionalRequirements/a~1b/c"],
  ])("resolves %s to %s", (pointer, canonical) => {
    expect(resolvePointer(pointer).pointer).toBe(canonical);
  });

  it.each(["", "details", "/", "/team/-/email", "/team/01", "/nope"])("refuses the pointer %j", (pointer) => {
    expect(() => resolvePointer(pointer)).toThrow(BindError);
  });
});

describe("referral store", () => {
  const clock = new Clock();
  const stored = (id: string, engagementId = "e", ext: string | null = null): StoredReferral => {
    const now = clock.now();
    const doc = materialize(REFERRAL_SHAPE, {}) as Referral;
    Object.assign(doc, { id, engagementId, externalReferenceId: ext });
    return { doc, created: now, updated: now, expiration: null, owner: "partner" };
  };
  const touch = (s: ReferralStore, id: string, ext?: string): void => {
    const r = s.get(id) as StoredReferral;
    const doc = { ...r.doc, externalReferenceId: ext ?? r.doc.externalReferenceId };
    s.replace({ ...r, doc, updated: clock.now() });
  };

  it("keeps change order through many updates (with compaction of the change log)", () => {
    const s = new ReferralStore();
    for (let i = 0; i < 50; i++) s.insert(stored(`r${i}`));
    for (let round = 0; round < 100; round++) for (let i = 0; i < 50; i += 7) touch(s, `r${(i + round) % 50}`);
    const order = [...s.scan("updatedDateTime", "asc")].map((r) => r.doc.id);
    expect(new Set(order).size).toBe(50);
    const updated = [...s.scan("updatedDateTime", "asc")].map((r) => r.updated);
    for (let i = 1; i < updated.length; i++) {
      const a = updated[i - 1] as { ms: number; sub: number };
      const b = updated[i] as { ms: number; sub: number };
      expect(b.ms > a.ms || (b.ms === a.ms && b.sub > a.sub)).toBe(true);
    }
    expect([...s.scan("updatedDateTime", "desc")].map((r) => r.doc.id)).toEqual([...order].reverse());
  });

  it("seeks strictly after a cursor both ways", () => {
    const s = new ReferralStore();
    for (let i = 0; i < 10; i++) s.insert(stored(`r${i}`));
    const fifth = s.get("r4") as StoredReferral;
    expect([...s.scan("createdDateTime", "asc", { at: fifth.created, id: "r4" })].map((r) => r.doc.id)).toEqual(["r5", "r6", "r7", "r8", "r9"]);
    expect([...s.scan("createdDateTime", "desc", { at: fifth.created, id: "r4" })].map((r) => r.doc.id)).toEqual(["r3", "r2", "r1", "r0"]);
  });

  it("indexes engagements and external references, following changes", () => {
    const s = new ReferralStore();
    s.insert(stored("a", "e1", "x"));
    s.insert(stored("b", "e1"));
    s.insert(stored("c", "e2", "x"));
    expect(s.inEngagement("e1").map((r) => r.doc.id)).toEqual(["a", "b"]);
    expect(s.withExternalReference("x").map((r) => r.doc.id).sort()).toEqual(["a", "c"]);
    touch(s, "a", "y");
    expect(s.withExternalReference("x").map((r) => r.doc.id)).toEqual(["c"]);
    expect(s.withExternalReference("y").map((r) => r.doc.id)).toEqual(["a"]);
    expect(() => s.insert(stored("a"))).toThrow();
  });
});
