/**
 * The deployment ledger: one JSON file (default solution/deployments.json, kept in git so the
 * history of what went where is reviewable) with an entry per deployment. Production refuses a
 * package unless the same version, with the same bytes (sha256), passed on staging.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

export const LedgerEntrySchema = z.object({
  environment: z.enum(["staging", "production"]),
  dataverseUrl: z.string(),
  solution: z.string(),
  version: z.string(),
  packageSha256: z.string().regex(/^[0-9a-f]{64}$/),
  startedAt: z.string(),
  finishedAt: z.string(),
  outcome: z.enum(["passed", "failed"]),
  /** What failed, in words, when it did. */
  failure: z.string().optional(),
  importJobId: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

const LedgerSchema = z.object({ deployments: z.array(LedgerEntrySchema) });

export class LedgerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LedgerError";
  }
}

export function readLedger(file: string): LedgerEntry[] {
  if (!existsSync(file)) return [];
  try {
    return LedgerSchema.parse(JSON.parse(readFileSync(file, "utf8"))).deployments;
  } catch (err) {
    throw new LedgerError(`${file} is not a deployment ledger; fix or remove it`, { cause: err });
  }
}

export function appendLedger(file: string, entry: LedgerEntry): void {
  const entries = [...readLedger(file), entry];
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ deployments: entries }, null, 2) + "\n");
  renameSync(tmp, file);
}

/** The staging pass that allows this package into production, if any. */
export function stagingPass(entries: readonly LedgerEntry[], version: string, sha256: string): LedgerEntry | undefined {
  return [...entries].reverse().find((e) => e.environment === "staging" && e.outcome === "passed" && e.version === version && e.packageSha256 === sha256);
}
