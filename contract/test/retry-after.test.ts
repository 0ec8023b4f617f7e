import { parseRetryAfter, RETRY_AFTER_CAP_MS } from "../src";

const now = new Date("2026-11-25T10:00:00Z");

describe("parseRetryAfter", () => {
  it.each([
    ["120", 120_000],
    [" 0 ", 0],
    ["2026", RETRY_AFTER_CAP_MS], // delay-seconds, capped; not the year 2026 (which is in the past: "now")
    ["99999999999999999999", RETRY_AFTER_CAP_MS],
    ["Wed, 25 Nov 2026 10:00:30 GMT", 30_000], // IMF-fixdate
    ["Wednesday, 25-Nov-26 10:00:30 GMT", 30_000], // obsolete RFC 850 form
    ["Wed Nov 25 10:00:30 2026", 30_000], // obsolete asctime form: GMT, though it names no zone
    ["Wed, 25 Nov 2026 09:00:00 GMT", 0], // a date that has passed: now
    [["7", "9"], 7_000], // a repeated header: the first one
  ])("reads %p as %p ms", (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });

  it.each([["-5"], ["1.5"], ["soon"], [""], ["   "], ["2026-11-25T10:00:30Z"], ["+30"], ["0x10"], ["1e3"]])(
    "does not read garbage %p as 'retry now'",
    (header) => {
      expect(parseRetryAfter(header, now)).toBeUndefined();
    },
  );

  it("is undefined when the header is absent", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter([], now)).toBeUndefined();
  });

  it("reads the asctime form as GMT whatever the host's time zone", () => {
    const tz = process.env.TZ;
    try {
      process.env.TZ = "America/Los_Angeles";
      expect(parseRetryAfter("Wed Nov 25 10:00:30 2026", now)).toBe(30_000);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it("takes a caller's cap", () => {
    expect(parseRetryAfter("600", now, 300_000)).toBe(300_000);
    expect(parseRetryAfter("Wed, 25 Nov 2026 11:00:00 GMT", now.getTime(), 60_000)).toBe(60_000);
  });
});
