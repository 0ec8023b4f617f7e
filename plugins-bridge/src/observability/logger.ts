/**
 * Structured logs (pino), with two layers of secret protection:
 *  - `redact` paths for the places secrets are known to sit (auth headers, tokens in objects);
 *  - a last-chance filter on every serialized line that replaces each configured secret value
 *    (client secrets, refresh/access tokens, webhook keys, admin token) wherever it appears,
 *    including inside error messages and URLs. Tokens the bridge obtains at run time are added
 *    with `addSecret`.
 * Logging never throws.
 */
import pino, { type DestinationStream, type Logger } from "pino";

export interface LoggerOptions {
  readonly level?: string;
  readonly secrets?: readonly string[];
  readonly destination?: DestinationStream;
  readonly name?: string;
}

export interface BridgeLogger extends Logger {
  /**
   * Registers another value that must never appear in a log line. A run-time one (an access token)
   * is forgotten after 32 newer ones; `permanent` (a key, a configured secret) is kept for good.
   */
  addSecret(value: string, options?: { readonly permanent?: boolean }): void;
}

const REDACT_PATHS = [
  "req.headers.authorization",
  'req.headers["x-cosell-webhook-key"]',
  'req.headers["x-ms-signature"]',
  "headers.authorization",
  "authorization",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "clientSecret",
  "client_secret",
  "password",
  "*.accessToken",
  "*.refreshToken",
  "*.clientSecret",
];

export function createLogger(options: LoggerOptions = {}): BridgeLogger {
  const fixed = (options.secrets ?? []).filter((s) => s.length >= 6);
  // Run-time secrets (access tokens) rotate hourly: keep the newest few, enough to cover overlaps.
  const dynamic: string[] = [];
  let secrets = new Set<string>(fixed);
  let pattern: RegExp | undefined;
  const rebuild = () => {
    secrets = new Set([...fixed, ...dynamic]);
    const list = [...secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    // JSON-escaped forms too: a secret with quotes or backslashes appears escaped in the line.
    const escaped = [...secrets].map((s) => JSON.stringify(s).slice(1, -1)).filter((s) => !secrets.has(s)).map(escapeRegExp);
    const all = [...list, ...escaped];
    pattern = all.length ? new RegExp(all.join("|"), "g") : undefined;
  };
  rebuild();

  const logger = pino(
    {
      name: options.name ?? "cosell-bridge",
      level: options.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      hooks: {
        streamWrite(line: string): string {
          try {
            return pattern ? line.replace(pattern, "[redacted]") : line;
          } catch {
            return line;
          }
        },
      },
      serializers: { err: pino.stdSerializers.err },
    },
    options.destination ?? pino.destination({ sync: false }),
  ) as BridgeLogger;

  logger.addSecret = (value: string, o?: { readonly permanent?: boolean }) => {
    if (value.length < 6) return;
    if (o?.permanent) {
      if (fixed.includes(value)) return;
      fixed.push(value);
      const i = dynamic.indexOf(value);
      if (i >= 0) dynamic.splice(i, 1);
    } else {
      if (secrets.has(value)) return;
      dynamic.push(value);
      if (dynamic.length > 32) dynamic.shift();
    }
    rebuild();
  };
  return logger;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
