import { appendAudit, formatAuditEntry, parseAudit, parseAuditLine, type AuditEntry } from "../src";

const entry = (at: string, message: string, outcome: AuditEntry["outcome"] = "ok"): AuditEntry => ({
  at,
  direction: "CRM→PC",
  outcome,
  message,
});

describe("cosell_audit format", () => {
  it("round-trips an entry through its line", () => {
    const e = entry("2026-11-25T10:00:00.000Z", "Referral created");
    expect(parseAuditLine(formatAuditEntry(e))).toEqual(e);
  });

  it("keeps tabs and line breaks out of the message", () => {
    const line = formatAuditEntry(entry("2026-11-25T10:00:00Z", "two\tparts\nand a line"));
    expect(line.split("\t")).toHaveLength(4);
    expect(parseAuditLine(line)?.message).toBe("two parts and a line");
  });

  it("rejects local times and unknown directions or outcomes", () => {
    expect(() => formatAuditEntry(entry("2026-11-25T10:00:00+01:00", "x"))).toThrow(/UTC/);
    expect(parseAuditLine("2026-11-25T10:00:00Z\tPC->CRM\tok\tx")).toBeUndefined();
    expect(parseAuditLine("2026-11-25T10:00:00Z\tPC→CRM\tfine\tx")).toBeUndefined();
    expect(parseAudit("free text from the old connector\n2026-11-25T10:00:00Z\tPC→CRM\tok\tx")).toHaveLength(1);
  });

  it("drops the oldest lines past the limit, newest last", () => {
    let text = "";
    for (let i = 0; i < 50; i++) text = appendAudit(text, [entry("2026-11-25T10:00:00Z", `m${i}`)], 400);
    expect(text.length).toBeLessThanOrEqual(400);
    const parsed = parseAudit(text);
    expect(parsed.at(-1)?.message).toBe("m49");
    expect(parsed[0]?.message).not.toBe("m0");
  });
});
