import type { DataverseClient } from "dataverse-ify";
import type { SectionServices } from "../components/Component.types";
import { readCatalogue } from "./catalogue";
import { readCheckmarksEnabled } from "./settings";

/** One read per control instance however often the views ask; a failed read may be retried. */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    promise ??= load().catch((error: unknown) => {
      promise = undefined;
      throw error;
    });
    return promise;
  };
}

export function sectionServices(client: DataverseClient): SectionServices {
  return {
    loadCatalogue: once(() => readCatalogue(client)),
    loadCheckmarksEnabled: once(() => readCheckmarksEnabled(client)),
  };
}
