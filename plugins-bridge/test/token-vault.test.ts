/**
 * Secrets at rest (issue 14): AES-256-GCM envelopes under COSELL_TOKEN_KEY, one test per way a
 * stored value or a key can be wrong.
 */
import { randomBytes } from "node:crypto";
import { parseTokenKey, SealedSecretError, TokenKeyError, tokenKeyForms, TokenVault } from "../src/auth/token-vault";

const PURPOSE = "cosell:pc-refresh-token";
const WHAT = "the Partner Center refresh token";
const keyA = parseTokenKey(randomBytes(32).toString("base64"));
const keyB = parseTokenKey(randomBytes(32).toString("hex"));
const SECRET = "0.AXEA-refresh-token-that-must-never-be-readable-in-the-store";

type Envelope = Record<string, unknown>;
const envelope = (sealed: string) => JSON.parse(sealed) as Envelope;
/** The same base64url text with one byte changed. */
const flipByte = (b64: string) => {
  const bytes = Buffer.from(b64, "base64url");
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  return bytes.toString("base64url");
};

function refusal(f: () => unknown): SealedSecretError {
  try {
    f();
  } catch (err) {
    if (err instanceof SealedSecretError) return err;
    throw err;
  }
  throw new Error("expected a SealedSecretError");
}

describe("parseTokenKey", () => {
  it("reads 32 bytes as base64 (padded or not, url-safe or not) or as 64 hex digits, the same key id each way", () => {
    const bytes = randomBytes(32);
    const forms = [bytes.toString("base64"), bytes.toString("base64").replace(/=+$/, ""), bytes.toString("base64url"), bytes.toString("hex"), bytes.toString("hex").toUpperCase()];
    const ids = forms.map((f) => parseTokenKey(f).id);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}$/);
    expect(parseTokenKey(` ${forms[0]!}\n`).material.equals(bytes)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["a passphrase", "correct horse battery staple"],
    ["16 bytes of base64", randomBytes(16).toString("base64")],
    ["48 bytes of base64", randomBytes(48).toString("base64")],
    ["63 hex digits", randomBytes(32).toString("hex").slice(1)],
    ["base64 with a stray character", `${randomBytes(32).toString("base64").slice(0, 42)}!=`],
  ])("refuses %s, saying how to generate a key and without echoing it", (_name, text) => {
    let error: unknown;
    try {
      parseTokenKey(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TokenKeyError);
    expect((error as Error).message).toMatch(/32 random bytes/);
    expect((error as Error).message).toMatch(/openssl rand -base64 32/);
    if (text) expect((error as Error).message).not.toContain(text);
  });

  it("lists the key's text forms, for the log's filter", () => {
    const forms = tokenKeyForms(keyA);
    expect(forms).toEqual(expect.arrayContaining([keyA.material.toString("base64"), keyA.material.toString("base64url"), keyA.material.toString("hex")]));
  });
});

describe("TokenVault", () => {
  const vault = new TokenVault({ current: keyA });

  it("round-trips, in a versioned envelope that does not contain the secret", () => {
    const sealed = vault.seal(SECRET, PURPOSE);
    const e = envelope(sealed);
    expect(Object.keys(e).sort()).toEqual(["alg", "ct", "iv", "kid", "tag", "v"]);
    expect(e).toMatchObject({ v: 1, alg: "A256GCM", kid: keyA.id });
    expect(Buffer.from(e["iv"] as string, "base64url")).toHaveLength(12);
    expect(Buffer.from(e["tag"] as string, "base64url")).toHaveLength(16);
    expect(sealed).not.toContain(SECRET);
    expect(sealed).not.toContain(Buffer.from(SECRET).toString("base64"));
    expect(vault.open(sealed, PURPOSE, WHAT)).toEqual({ plaintext: SECRET, kid: keyA.id, current: true });
  });

  it("uses a fresh IV for every write", () => {
    const ivs = new Set(Array.from({ length: 50 }, () => envelope(vault.seal(SECRET, PURPOSE))["iv"]));
    expect(ivs.size).toBe(50);
  });

  it("recognises an envelope, and nothing else", () => {
    expect(TokenVault.isEnvelope(vault.seal(SECRET, PURPOSE))).toBe(true);
    expect(TokenVault.isEnvelope(JSON.stringify({ configured: "abc", token: SECRET }))).toBe(false);
    expect(TokenVault.isEnvelope("2026-11-25T10:00:00.000Z")).toBe(false);
    expect(TokenVault.isEnvelope('{"v":2,"alg":"A256GCM"}')).toBe(true);
  });

  it.each([
    ["the ciphertext", "ct"],
    ["the tag", "tag"],
    ["the IV", "iv"],
  ])("refuses a stored value whose %s was changed", (_name, field) => {
    const e = envelope(vault.seal(SECRET, PURPOSE));
    e[field] = flipByte(e[field] as string);
    const err = refusal(() => vault.open(JSON.stringify(e), PURPOSE, WHAT));
    expect(err.reason).toBe("damaged");
    expect(err.message).toMatch(/COSELL_TOKEN_KEY/);
    expect(err.message).not.toMatch(/bad decrypt|unable to authenticate/i);
  });

  it("refuses an envelope sealed for another purpose (associated data)", () => {
    const sealed = vault.seal(SECRET, "cosell:something-else");
    expect(refusal(() => vault.open(sealed, PURPOSE, WHAT)).reason).toBe("damaged");
  });

  it("refuses a truncated or malformed envelope", () => {
    const e = envelope(vault.seal(SECRET, PURPOSE));
    expect(refusal(() => vault.open(JSON.stringify({ ...e, tag: (e["tag"] as string).slice(0, 10) }), PURPOSE, WHAT)).reason).toBe("damaged");
    expect(refusal(() => vault.open(JSON.stringify({ ...e, iv: 42 }), PURPOSE, WHAT)).reason).toBe("damaged");
    expect(refusal(() => vault.open('{"v":1', PURPOSE, WHAT)).reason).toBe("damaged");
  });

  it("refuses a format it does not know, naming it", () => {
    const e = envelope(vault.seal(SECRET, PURPOSE));
    const err = refusal(() => vault.open(JSON.stringify({ ...e, v: 2 }), PURPOSE, WHAT));
    expect(err.reason).toBe("unsupported");
    expect(err.message).toMatch(/v=2/);
  });

  it("refuses a value sealed with another key, naming COSELL_TOKEN_KEY and both key ids, not 'bad decrypt'", () => {
    const sealed = new TokenVault({ current: keyB }).seal(SECRET, PURPOSE);
    const err = refusal(() => vault.open(sealed, PURPOSE, WHAT));
    expect(err.reason).toBe("wrong-key");
    expect(err.message).toContain("COSELL_TOKEN_KEY");
    expect(err.message).toContain(keyB.id);
    expect(err.message).toContain(keyA.id);
    expect(err.message).toContain(WHAT);
    expect(err.message).not.toMatch(/bad decrypt|unable to authenticate/i);
  });

  it("refuses a wrong key that happens to share the stored key id, as damaged or wrong key, never 'bad decrypt'", () => {
    const sealed = new TokenVault({ current: keyB }).seal(SECRET, PURPOSE);
    const impostor = { id: keyB.id, material: keyA.material };
    const err = refusal(() => new TokenVault({ current: impostor }).open(sealed, PURPOSE, WHAT));
    expect(err.reason).toBe("damaged");
    expect(err.message).toMatch(/COSELL_TOKEN_KEY/);
  });

  it("opens a value sealed with COSELL_TOKEN_KEY_PREVIOUS and says it is not the current key", () => {
    const old = new TokenVault({ current: keyB }).seal(SECRET, PURPOSE);
    const rotated = new TokenVault({ current: keyA, previous: keyB });
    expect(rotated.open(old, PURPOSE, WHAT)).toEqual({ plaintext: SECRET, kid: keyB.id, current: false });
    const resealed = rotated.seal(SECRET, PURPOSE);
    expect(envelope(resealed)["kid"]).toBe(keyA.id);
    // Once rotated, the previous key is no longer needed for it.
    expect(new TokenVault({ current: keyA }).open(resealed, PURPOSE, WHAT).plaintext).toBe(SECRET);
  });

  it("refuses the same key as current and previous", () => {
    expect(() => new TokenVault({ current: keyA, previous: keyA })).toThrow(/COSELL_TOKEN_KEY_PREVIOUS/);
  });
});
