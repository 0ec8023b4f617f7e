import * as React from "react";
import type { CatalogueEntry } from "../model/products";

export type CatalogueState =
  | { readonly status: "loading"; readonly entries: readonly CatalogueEntry[] }
  | { readonly status: "ready"; readonly entries: readonly CatalogueEntry[] }
  | { readonly status: "failed"; readonly entries: readonly CatalogueEntry[] };

/** Loads the catalogue once the picker is on screen; a late answer after unmount is dropped. */
export function useCatalogue(load: () => Promise<CatalogueEntry[]>, enabled: boolean): CatalogueState {
  const [state, setState] = React.useState<CatalogueState>({ status: "loading", entries: [] });
  React.useEffect(() => {
    if (!enabled) return undefined;
    let live = true;
    load().then(
      (entries) => live && setState({ status: "ready", entries }),
      () => live && setState({ status: "failed", entries: [] }),
    );
    return () => {
      live = false;
    };
  }, [load, enabled]);
  return state;
}
