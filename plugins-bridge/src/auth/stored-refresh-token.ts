/**
 * The newest Partner Center refresh token (Entra ID rotates it on every use), kept in the store
 * sealed under COSELL_TOKEN_KEY (./token-vault) with a hash of the configured one, so that a newly
 * configured PARTNER_CENTER_REFRESH_TOKEN wins over what the store remembers.
 *
 * On start: a value stored in plain text by a bridge from before encryption is sealed (migration);
 * one sealed with COSELL_TOKEN_KEY_PREVIOUS is sealed again with the current key (rotation). A value
 * that cannot be opened stops the start with a SealedSecretError, before anything is written.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Store } from "../store";
import { TokenVault } from "./token-vault";

export const REFRESH_TOKEN_CURSOR = "secret:partner-center-refresh-token";
/** Associated data of the envelope: it opens as this and nothing else. */
export const REFRESH_TOKEN_PURPOSE = "cosell:pc-refresh-token";
const WHAT = `The Partner Center refresh token (store entry '${REFRESH_TOKEN_CURSOR}')`;

const StoredRefreshToken = z.object({
  /** sha256 of the PARTNER_CENTER_REFRESH_TOKEN it descends from ("" hashed when none was configured). */
  configured: z.string(),
  token: z.string().min(1),
  /** When it was stored: each rotation renews Entra's 90-day inactivity window (the status page shows it). */
  storedAt: z.string().optional(),
});
type StoredRefreshToken = z.infer<typeof StoredRefreshToken>;

/** What the start did to the stored value: sealed a plain-text one, or sealed it again with the current key. */
export type StoredTokenUpgrade = "encrypted" | "re-encrypted";

export interface LoadedRefreshToken {
  /** The token to sign in with; undefined when none is stored or configured (run `cosell-bridge login`). */
  readonly refreshToken: string | undefined;
  /** Every token value read from the store (for the log's filter), including an outdated one. */
  readonly seen: readonly string[];
  readonly upgraded?: StoredTokenUpgrade;
}

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

export class StoredRefreshTokens {
  private readonly configuredHash: string;

  constructor(
    private readonly store: Pick<Store, "getCursor" | "setCursor">,
    private readonly vault: TokenVault,
    /** PARTNER_CENTER_REFRESH_TOKEN, optional since `cosell-bridge login` stores the token itself. */
    private readonly configured: string | undefined,
  ) {
    this.configuredHash = sha256(configured ?? "");
  }

  /**
   * The newest token (from `cosell-bridge login` or rotated since), unless the admin has configured
   * a different PARTNER_CENTER_REFRESH_TOKEN since it was stored.
   */
  async load(): Promise<LoadedRefreshToken> {
    const saved = await this.store.getCursor(REFRESH_TOKEN_CURSOR);
    if (!saved) return { refreshToken: this.configured, seen: [] };
    let record: StoredRefreshToken | undefined;
    let upgraded: StoredTokenUpgrade | undefined;
    if (TokenVault.isEnvelope(saved)) {
      const opened = this.vault.open(saved, REFRESH_TOKEN_PURPOSE, WHAT);
      record = readRecord(opened.plaintext);
      if (record && !opened.current) upgraded = "re-encrypted";
    } else {
      record = readRecord(saved);
      if (record) upgraded = "encrypted";
    }
    // Unreadable (not an envelope, not a record): start from the configured token; the next rotation overwrites it.
    if (!record) return { refreshToken: this.configured, seen: [] };
    if (upgraded) await this.write(record);
    return {
      refreshToken: this.configured === undefined || record.configured === this.configuredHash ? record.token : this.configured,
      seen: [record.token],
      ...(upgraded ? { upgraded } : {}),
    };
  }

  /** Keeps a rotated (or signed-in) token, sealed with the current key. */
  async save(token: string, now = new Date()): Promise<void> {
    await this.write({ configured: this.configuredHash, token, storedAt: now.toISOString() });
  }

  /** When the stored token was last renewed, for the status page (never the token itself). */
  async storedAt(): Promise<Date | undefined> {
    const saved = await this.store.getCursor(REFRESH_TOKEN_CURSOR);
    if (!saved || !TokenVault.isEnvelope(saved)) return undefined;
    try {
      const at = readRecord(this.vault.open(saved, REFRESH_TOKEN_PURPOSE, WHAT).plaintext)?.storedAt;
      const date = at === undefined ? undefined : new Date(at);
      return date && !Number.isNaN(date.getTime()) ? date : undefined;
    } catch {
      return undefined;
    }
  }

  private async write(record: StoredRefreshToken): Promise<void> {
    await this.store.setCursor(REFRESH_TOKEN_CURSOR, this.vault.seal(JSON.stringify(record), REFRESH_TOKEN_PURPOSE));
  }
}

function readRecord(text: string): StoredRefreshToken | undefined {
  try {
    const parsed = StoredRefreshToken.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
