/**
 * Which Partner Center refresh token the runtime starts from: the stored one (from `cosell-bridge
 * login`, or rotated since) unless the admin has configured a different one after it was stored.
 */
import { randomBytes } from "node:crypto";
import { REFRESH_TOKEN_CURSOR, StoredRefreshTokens } from "../src/auth/stored-refresh-token";
import { parseTokenKey, TokenVault } from "../src/auth/token-vault";

const vault = new TokenVault({ current: parseTokenKey(randomBytes(32).toString("base64")) });

function memoryStore() {
  const cursors = new Map<string, string>();
  return {
    cursors,
    getCursor: async (key: string) => cursors.get(key),
    setCursor: async (key: string, value: string) => void cursors.set(key, value),
  };
}

describe("the stored Partner Center refresh token", () => {
  it.each<[string, string | undefined, string | undefined, string | undefined]>([
    // name, configured when stored, configured now, expected
    ["login with nothing configured", undefined, undefined, "stored"],
    ["login while a token was configured, still configured", "old", "old", "stored"],
    ["login, then the variable removed", "old", undefined, "stored"],
    ["login, then a different token configured", undefined, "newer", "newer"],
    ["rotated from a configured token that was replaced", "old", "newer", "newer"],
  ])("%s", async (_name, configuredThen, configuredNow, expected) => {
    const store = memoryStore();
    await new StoredRefreshTokens(store, vault, configuredThen).save("stored");
    await expect(new StoredRefreshTokens(store, vault, configuredNow).load()).resolves.toMatchObject({ refreshToken: expected });
  });

  it("keeps neither token nor the configured one readable in the store", async () => {
    const store = memoryStore();
    await new StoredRefreshTokens(store, vault, "configured-secret-value").save("stored-secret-value");
    const raw = [...store.cursors.values()].join("");
    expect(raw).not.toContain("configured-secret-value");
    expect(raw).not.toContain("stored-secret-value");
  });

  it("remembers when it was stored (the status page shows its age), and nothing when none is", async () => {
    const store = memoryStore();
    const tokens = new StoredRefreshTokens(store, vault, undefined);
    await expect(tokens.storedAt()).resolves.toBeUndefined();
    await tokens.save("stored", new Date("2026-12-07T23:10:00Z"));
    await expect(tokens.storedAt()).resolves.toEqual(new Date("2026-12-07T23:10:00Z"));
  });

  it("refuses a damaged envelope, and starts from the configured token (or none) when a plain entry is empty", async () => {
    const store = memoryStore();
    store.cursors.set(REFRESH_TOKEN_CURSOR, "{not json");
    await expect(new StoredRefreshTokens(store, vault, undefined).load()).rejects.toThrow(/cannot be decrypted/);
    store.cursors.set(REFRESH_TOKEN_CURSOR, JSON.stringify({ configured: "x", token: "" }));
    await expect(new StoredRefreshTokens(store, vault, undefined).load()).resolves.toMatchObject({ refreshToken: undefined });
    await expect(new StoredRefreshTokens(store, vault, "configured").load()).resolves.toMatchObject({ refreshToken: "configured" });
  });
});
