/**
 * Secrets at rest: a value the bridge must keep in its store (the Partner Center refresh token) is
 * sealed with AES-256-GCM under COSELL_TOKEN_KEY, in a versioned envelope
 *
 *   {"v":1,"alg":"A256GCM","kid":"<first 8 hex of sha256(key)>","iv":…,"ct":…,"tag":…}   (base64url)
 *
 * with a fresh 12-byte IV per write and the value's purpose as associated data, so an envelope
 * copied from one place to another does not open. COSELL_TOKEN_KEY_PREVIOUS opens what the key
 * before a rotation sealed; every write uses the current key. One error class, one message per
 * failure mode, none of them OpenSSL's "bad decrypt".
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { z } from "zod";

export const TOKEN_KEY_VARIABLE = "COSELL_TOKEN_KEY";
export const PREVIOUS_TOKEN_KEY_VARIABLE = "COSELL_TOKEN_KEY_PREVIOUS";
export const GENERATE_TOKEN_KEY = "openssl rand -base64 32";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = "A256GCM";
const VERSION = 1;

export interface TokenKey {
  /** First 8 hex digits of sha256(key): names the key in envelopes and messages, reveals nothing. */
  readonly id: string;
  readonly material: Buffer;
}

/** A key that is not 32 bytes of base64 or hex. The message never contains the key. */
export class TokenKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenKeyError";
  }
}

export type SealedSecretProblem = "wrong-key" | "damaged" | "unsupported";

/** A stored envelope that cannot be opened with the configured keys. */
export class SealedSecretError extends Error {
  constructor(
    readonly reason: SealedSecretProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SealedSecretError";
  }
}

/** What a key must be, after its variable's name. */
export const TOKEN_KEY_RULE = `must be ${KEY_BYTES} random bytes, as base64 (44 characters) or 64 hex digits; generate one with: ${GENERATE_TOKEN_KEY}`;

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}=?|[A-Za-z0-9_-]{43}=?)$/;

/** COSELL_TOKEN_KEY's text (base64, padded or not, standard or url-safe; or 64 hex digits) → the key. */
export function parseTokenKey(text: string, variable = TOKEN_KEY_VARIABLE): TokenKey {
  const t = text.trim();
  let material: Buffer | undefined;
  if (HEX_KEY.test(t)) material = Buffer.from(t, "hex");
  else if (BASE64_KEY.test(t)) material = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  if (material?.length !== KEY_BYTES)
    throw new TokenKeyError(`${variable} ${TOKEN_KEY_RULE}`);
  return { id: keyId(material), material };
}

function keyId(material: Buffer): string {
  return createHash("sha256").update(material).digest("hex").slice(0, 8);
}

/** The ways a key may be written down: each one is kept out of the log. */
export function tokenKeyForms(key: TokenKey): string[] {
  const b64 = key.material.toString("base64");
  const hex = key.material.toString("hex");
  return [b64, b64.replace(/=+$/, ""), key.material.toString("base64url"), hex, hex.toUpperCase()];
}

const b64url = z.string().regex(/^[A-Za-z0-9_-]*$/, "base64url");
const EnvelopeHeader = z.object({ v: z.unknown(), alg: z.unknown() }).loose();
const EnvelopeV1 = z.object({
  v: z.literal(VERSION),
  alg: z.literal(ALGORITHM),
  kid: z.string().regex(/^[0-9a-f]{8}$/),
  iv: b64url.refine((s) => Buffer.from(s, "base64url").length === IV_BYTES, `${IV_BYTES} bytes`),
  ct: b64url,
  tag: b64url.refine((s) => Buffer.from(s, "base64url").length === TAG_BYTES, `${TAG_BYTES} bytes`),
});

export interface OpenedSecret {
  readonly plaintext: string;
  /** The key that sealed it. */
  readonly kid: string;
  /** False when it was sealed with COSELL_TOKEN_KEY_PREVIOUS: seal it again with the current key. */
  readonly current: boolean;
}

export class TokenVault {
  private readonly current: TokenKey;
  private readonly previous: TokenKey | undefined;

  constructor(keys: { readonly current: TokenKey; readonly previous?: TokenKey }) {
    if (keys.previous && keys.previous.id === keys.current.id && keys.previous.material.equals(keys.current.material))
      throw new TokenKeyError(`${PREVIOUS_TOKEN_KEY_VARIABLE} is the same key as ${TOKEN_KEY_VARIABLE}: set ${TOKEN_KEY_VARIABLE} to the new key and ${PREVIOUS_TOKEN_KEY_VARIABLE} to the old one`);
    this.current = keys.current;
    this.previous = keys.previous;
  }

  /** The current key's id (for messages and the status of a rotation). */
  get keyId(): string {
    return this.current.id;
  }

  /** Whether a stored value is an envelope (of any version), rather than a value from before encryption. */
  static isEnvelope(stored: string): boolean {
    if (!stored.trimStart().startsWith("{")) return false;
    try {
      return EnvelopeHeader.safeParse(JSON.parse(stored)).success;
    } catch {
      // Starts like an object but is not JSON: a damaged envelope is refused, not taken for plain text.
      return true;
    }
  }

  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.current.material, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(purpose, "utf8"));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return JSON.stringify({
      v: VERSION,
      alg: ALGORITHM,
      kid: this.current.id,
      iv: iv.toString("base64url"),
      ct: ct.toString("base64url"),
      tag: cipher.getAuthTag().toString("base64url"),
    });
  }

  /** `what` names the value in messages ("the Partner Center refresh token"). */
  open(stored: string, purpose: string, what: string): OpenedSecret {
    let json: unknown;
    try {
      json = JSON.parse(stored);
    } catch (err) {
      throw this.damaged(what, "it is not a complete envelope", err);
    }
    const header = EnvelopeHeader.safeParse(json);
    if (header.success && (header.data.v !== VERSION || header.data.alg !== ALGORITHM))
      throw new SealedSecretError(
        "unsupported",
        `${what} in the store is sealed in a format this bridge does not read (v=${String(header.data.v)}, alg=${String(header.data.alg)}): a newer version of the bridge wrote it; run that version. The store was not changed.`,
      );
    const envelope = EnvelopeV1.safeParse(json);
    if (!envelope.success) throw this.damaged(what, "its envelope is incomplete or malformed");
    const e = envelope.data;
    const key = [this.current, this.previous].find((k) => k?.id === e.kid);
    if (!key) {
      const configured = this.previous
        ? `${TOKEN_KEY_VARIABLE} is key ${this.current.id} and ${PREVIOUS_TOKEN_KEY_VARIABLE} is key ${this.previous.id}`
        : `${TOKEN_KEY_VARIABLE} is key ${this.current.id} (${PREVIOUS_TOKEN_KEY_VARIABLE} is not set)`;
      throw new SealedSecretError(
        "wrong-key",
        `${what} in the store is encrypted with key ${e.kid}, but ${configured}. Set ${TOKEN_KEY_VARIABLE} to the key it was written with (while rotating: the new key in ${TOKEN_KEY_VARIABLE}, the old one in ${PREVIOUS_TOKEN_KEY_VARIABLE}; docs/install.md). The store was not changed.`,
      );
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", key.material, Buffer.from(e.iv, "base64url"), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(purpose, "utf8"));
      decipher.setAuthTag(Buffer.from(e.tag, "base64url"));
      const plaintext = Buffer.concat([decipher.update(Buffer.from(e.ct, "base64url")), decipher.final()]).toString("utf8");
      return { plaintext, kid: key.id, current: key === this.current };
    } catch (err) {
      const variable = key === this.current ? TOKEN_KEY_VARIABLE : PREVIOUS_TOKEN_KEY_VARIABLE;
      throw this.damaged(what, `it does not authenticate under key ${key.id} (${variable})`, err);
    }
  }

  private damaged(what: string, why: string, cause?: unknown): SealedSecretError {
    return new SealedSecretError(
      "damaged",
      `${what} in the store cannot be decrypted: ${why}. Either the stored value was altered or damaged, or ${TOKEN_KEY_VARIABLE} is not the key it was written with. The store was not changed; restore it from a backup, or delete the stored value to start again from the configured one (docs/install.md).`,
      cause === undefined ? undefined : { cause },
    );
  }
}
