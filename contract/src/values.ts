/**
 * Small value rules several parts share: the ✔/✖ name suffix, the products column and solution ids,
 * country codes. Pure functions, no I/O.
 */
import { SyncState, type SyncStateValue } from "./schema";

export const CHECKMARK_SYNCED = "✔";
export const CHECKMARK_FAILED = "✖";

const SUFFIX = / [✔✖]$/u;

/** The opportunity name without the ✔/✖ suffix: what is compared and sent to Partner Center. */
export function stripCheckmark(name: string): string {
  let n = name;
  while (SUFFIX.test(n)) n = n.replace(SUFFIX, "");
  return n;
}

/** The name as the form should show it for a sync state (DESIGN §2 `cosell_Checkmark`). */
export function withCheckmark(name: string, state: SyncStateValue | null | undefined, enabled: boolean): string {
  const base = stripCheckmark(name);
  if (!enabled) return base;
  if (state === SyncState.Synced) return `${base} ${CHECKMARK_SYNCED}`;
  if (state === SyncState.Error) return `${base} ${CHECKMARK_FAILED}`;
  return base;
}

/**
 * Partner Center solution ids look like `SOL-15974-MQF`, `SOL-34104-EBB`, `SOL-1234-PQRS`
 * (specs/partner-center-api.md §2.10). The exact grammar is not documented; this accepts
 * `SOL-` followed by two or more alphanumeric groups separated by hyphens.
 */
export const SOLUTION_ID_PATTERN = /^SOL-[A-Z0-9]+(-[A-Z0-9]+)+$/;

export function isSolutionId(value: string): boolean {
  return SOLUTION_ID_PATTERN.test(value);
}

/** Splits `cosell_products` into ids: trimmed, upper-cased, empties and duplicates removed, order kept. */
export function parseProducts(value: string | null | undefined): string[] {
  if (!value) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of value.split(/[,;\n]/)) {
    const id = raw.trim().toUpperCase();
    if (id && !seen.has(id)) {
      seen.add(id);
      out.push(id);
    }
  }
  return out;
}

export function formatProducts(ids: readonly string[]): string {
  return parseProducts(ids.join(",")).join(", ");
}

/** ISO 3166-1 alpha-2 shape (two ASCII letters). Partner Center requires it for the customer address. */
export function isCountryCode(value: string | null | undefined): boolean {
  return typeof value === "string" && /^[A-Za-z]{2}$/.test(value.trim());
}

/** Web API property that holds a lookup's id when reading: `_<lookup>_value`. */
export function lookupValueProperty(lookupColumn: string): string {
  return `_${lookupColumn}_value`;
}
