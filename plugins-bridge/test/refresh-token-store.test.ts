/**
 * Which Partner Center refresh token the runtime starts from: the stored one (from `cosell-bridge
 * login`, or rotated since) unless the admin has configured a different one after it was stored.
 */
import { loadRefreshToken, refreshTokenStoredAt, saveRefreshToken } from "../src/engine/runtime";

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
    ["login, then a different token configured", undefined, "newer", undefined],
    ["rotated from a configured token that was replaced", "old", "newer", undefined],
  ])("%s", async (_name, configuredThen, configuredNow, expected) => {
    const store = memoryStore();
    await saveRefreshToken(store, configuredThen, "stored");
    await expect(loadRefreshToken(store, configuredNow)).resolves.toBe(expected);
  });

  it("keeps only a hash of the configured token next to the stored one", async () => {
    const store = memoryStore();
    await saveRefreshToken(store, "configured-secret-value", "stored");
    expect([...store.cursors.values()].join("")).not.toContain("configured-secret-value");
  });

  it("remembers when it was stored (the status page shows its age), and nothing when none is", async () => {
    const store = memoryStore();
    await expect(refreshTokenStoredAt(store)).resolves.toBeUndefined();
    await saveRefreshToken(store, undefined, "stored", new Date("2026-12-07T23:10:00Z"));
    await expect(refreshTokenStoredAt(store)).resolves.toEqual(new Date("2026-12-07T23:10:00Z"));
  });

  it("ignores an unreadable or empty entry", async () => {
    const store = memoryStore();
    store.cursors.set("secret:partner-center-refresh-token", "{not json");
    await expect(loadRefreshToken(store, undefined)).resolves.toBeUndefined();
    store.cursors.set("secret:partner-center-refresh-token", JSON.stringify({ configured: "x", token: "" }));
    await expect(loadRefreshToken(store, undefined)).resolves.toBeUndefined();
  });
});
