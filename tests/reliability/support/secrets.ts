/**
 * Secrets in use, and a scan of log lines for them. Shared by the reliability suites and the
 * end-to-end suites (tests/e2e): create a witness right after the sandbox starts, run the bridge,
 * then scan everything the bridge wrote.
 *
 *   const witness = witnessSecrets(sandbox, bridgeEnv);   // before the bridge signs in
 *   …
 *   expectNoSecrets(logLines, witness);                   // afterAll: every line the bridge logged
 *
 * What counts as a secret in use: the configured client secrets, refresh token, webhook key and
 * admin token (from the bridge's environment), and every token the sandbox's Entra emulator handed
 * to the bridge's client while the witness watched: access tokens (Dataverse, Referrals, Webhooks
 * APIs) and each rotated refresh token. A secret is also found when only its distinctive part
 * appears (the signature of a JWT, a 24-character prefix of anything else), so a truncated or
 * half-redacted token is caught too.
 */
import type { Sandbox } from "@cosell/sandbox/src/compose";
import type { IssuedToken } from "@cosell/sandbox/src/identity";

export interface Secret {
  /** What it is (never the value): e.g. "DATAVERSE_CLIENT_SECRET", "access token #3 (https://api.partner.microsoft.com)". */
  readonly name: string;
  readonly value: string;
}

export interface SecretLeak {
  readonly secret: string;
  /** 1-based line number in the scanned text. */
  readonly line: number;
  /** The line with every secret value masked, so the report itself leaks nothing. */
  readonly excerpt: string;
}

/** Bridge configuration variables that hold secrets. */
export const SECRET_VARIABLES = [
  "BRIDGE_ADMIN_TOKEN",
  "DATAVERSE_CLIENT_SECRET",
  "DATAVERSE_WEBHOOK_KEY",
  "PARTNER_CENTER_CLIENT_SECRET",
  "PARTNER_CENTER_REFRESH_TOKEN",
  "COSELL_TOKEN_KEY",
] as const;

export class SecretWitness {
  private readonly found = new Map<string, string>();
  private tokens = 0;

  /** Adds the secret variables of a bridge environment (also when several bridges use different ones). */
  addEnvironment(env: Record<string, string | undefined>): this {
    for (const name of SECRET_VARIABLES) {
      const v = env[name];
      if (v) this.add(name, v);
    }
    return this;
  }

  add(name: string, value: string): this {
    if (value.length >= 8 && !this.found.has(value)) this.found.set(value, name);
    return this;
  }

  addToken(kind: string, value: string): void {
    this.tokens++;
    this.add(`${kind} #${this.tokens}`, value);
  }

  /** Every secret seen so far. */
  secrets(): Secret[] {
    return [...this.found].map(([value, name]) => ({ name, value }));
  }

  get size(): number {
    return this.found.size;
  }

  /** How many tokens the Entra emulator issued to the bridge while watched. */
  get tokensIssued(): number {
    return this.tokens;
  }
}

/**
 * Watches the sandbox's token service: every token it issues to `clientId` (default: the bridge's
 * client of this sandbox) is recorded. Call before the bridge first signs in.
 */
export function witnessSecrets(sandbox: Sandbox, env?: Record<string, string | undefined>, clientId = sandbox.bridgeClient.clientId): SecretWitness {
  const witness = new SecretWitness();
  if (env) witness.addEnvironment(env);
  witness.add("bridge client secret", sandbox.bridgeClient.clientSecret);
  witness.add("configured Partner Center refresh token", sandbox.partnerCenterRefreshToken);
  const tokens = sandbox.tokens;
  const clientCredentials = tokens.clientCredentials.bind(tokens);
  const refresh = tokens.refresh.bind(tokens);
  tokens.clientCredentials = (params): IssuedToken => {
    const issued = clientCredentials(params);
    if (params.clientId === clientId) witness.addToken(`access token (${params.resource})`, issued.accessToken);
    return issued;
  };
  tokens.refresh = (params) => {
    const issued = refresh(params);
    if (params.clientId === clientId) {
      witness.addToken(`access token (${params.resource})`, issued.accessToken);
      witness.addToken("rotated refresh token", issued.refreshToken);
    }
    return issued;
  };
  return witness;
}

/** The parts of a secret that identify it on their own. */
function needles(value: string): string[] {
  const parts = value.split(".");
  if (parts.length === 3 && value.startsWith("eyJ")) {
    // A JWT: header and claims are not secret by themselves (and headers repeat); the signature is.
    const signature = parts[2] as string;
    return [value, signature.slice(0, 32)];
  }
  return value.length >= 32 ? [value, value.slice(0, 24)] : [value];
}

/** Every occurrence of a secret (or its distinctive part) in `text`. */
export function findSecrets(text: string | readonly string[], secrets: readonly Secret[]): SecretLeak[] {
  const lines = typeof text === "string" ? text.split("\n") : text.flatMap((t) => t.split("\n"));
  const search = secrets.flatMap((s) => needles(s.value).map((n) => ({ name: s.name, needle: n })));
  // A needle is masked together with whatever token characters follow it, so the excerpt of a
  // cut-off or prefixed secret shows none of its remaining characters either.
  const maskers = search.map((s) => ({ name: s.name, pattern: new RegExp(`${escapeRegExp(s.needle)}[A-Za-z0-9._~+/=-]*`, "g") }));
  const mask = (line: string) => maskers.reduce((l, m) => l.replace(m.pattern, `[${m.name}]`), line);
  const leaks: SecretLeak[] = [];
  lines.forEach((line, i) => {
    for (const s of search) {
      if (line.includes(s.needle)) {
        leaks.push({ secret: s.name, line: i + 1, excerpt: mask(line).slice(0, 400) });
        break;
      }
    }
  });
  return leaks;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Jest assertion: no secret of `witness` appears in `text`; the failure names the secret, never shows it. */
export function expectNoSecrets(text: string | readonly string[], witness: SecretWitness | readonly Secret[]): void {
  const secrets = witness instanceof SecretWitness ? witness.secrets() : witness;
  const leaks = findSecrets(text, secrets);
  if (leaks.length > 0) {
    const report = leaks.slice(0, 10).map((l) => `  line ${l.line}: ${l.secret} in ${l.excerpt}`).join("\n");
    throw new Error(`${leaks.length} log line(s) contain a secret:\n${report}`);
  }
}
