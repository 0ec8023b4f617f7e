/**
 * The products picker: `cosell_products` holds solution ids (SOL-…) comma separated; the catalogue
 * (`cosell_solution`) gives them names. Ids not in the catalogue stay visible and removable.
 */
import { formatProducts, isSolutionId, parseProducts } from "@cosell/contract";

export interface CatalogueEntry {
  readonly solutionId: string;
  readonly name: string;
  readonly publisher: string | null;
}

export interface SelectedProduct {
  readonly id: string;
  readonly name: string | null;
  readonly publisher: string | null;
  /** Looks like a Partner Center solution id; Partner Center rejects anything else. */
  readonly valid: boolean;
  readonly inCatalogue: boolean;
}

export function selectedProducts(
  value: string | null,
  catalogue: readonly CatalogueEntry[] | null,
): SelectedProduct[] {
  const byId = new Map((catalogue ?? []).map((e) => [e.solutionId, e]));
  return parseProducts(value).map((id) => {
    const entry = byId.get(id);
    return {
      id,
      name: entry?.name ?? null,
      publisher: entry?.publisher ?? null,
      valid: isSolutionId(id),
      inCatalogue: entry !== undefined,
    };
  });
}

/**
 * Catalogue entries matching every word of the query in name, id or publisher, minus the ones
 * already chosen; at most `limit` so a large catalogue keeps the list short.
 */
export function searchCatalogue(
  catalogue: readonly CatalogueEntry[],
  query: string,
  chosenIds: readonly string[],
  limit = 50,
): CatalogueEntry[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const chosen = new Set(chosenIds);
  const out: CatalogueEntry[] = [];
  for (const e of catalogue) {
    if (chosen.has(e.solutionId)) continue;
    const haystack = `${e.name} ${e.solutionId} ${e.publisher ?? ""}`.toLowerCase();
    if (words.every((w) => haystack.includes(w))) out.push(e);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * A well-formed solution id typed into the search that the catalogue does not know: offered so a
 * seller is not stuck when the catalogue is incomplete or could not be read.
 */
export function typedSolutionId(
  query: string,
  catalogue: readonly CatalogueEntry[],
  chosenIds: readonly string[],
): string | null {
  const id = query.trim().toUpperCase();
  if (!isSolutionId(id) || chosenIds.includes(id)) return null;
  return catalogue.some((e) => e.solutionId === id) ? null : id;
}

/** The column value after adding an id (order kept, no duplicates). */
export function addProduct(value: string | null, id: string): string {
  return formatProducts([...parseProducts(value), id]);
}

/** The column value after removing an id; null when nothing is left (the column is cleared). */
export function removeProduct(value: string | null, id: string): string | null {
  const rest = parseProducts(value).filter((p) => p !== id.toUpperCase());
  return rest.length ? formatProducts(rest) : null;
}
