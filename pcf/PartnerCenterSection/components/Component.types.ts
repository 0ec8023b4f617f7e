import type { Theme } from "@fluentui/react-components";
import type { PendingChanges, SectionInputs } from "../model/inputs";
import type { CatalogueEntry } from "../model/products";
import type { LockReason } from "../model/section";
import type { Strings } from "../Strings";

/** I/O the views may start; index.ts wires them to dataverse-ify over context.webAPI. */
export interface SectionServices {
  /** Active solutions of the catalogue; one read per control instance, however often it is asked. */
  loadCatalogue(): Promise<CatalogueEntry[]>;
  /** The `cosell_Checkmark` environment variable. */
  loadCheckmarksEnabled(): Promise<boolean>;
}

export interface PartnerCenterSectionProps {
  readonly inputs: SectionInputs;
  readonly strings: Strings;
  /** The user's date-and-time format (context.formatting). */
  readonly formatDateTime: (value: Date) => string;
  readonly services: SectionServices;
  /** The seller changed something; index.ts turns it into outputs. */
  readonly onChange: (changes: PendingChanges) => void;
  /** The host's Fluent v9 theme (context.fluentDesignLanguage), when it provides one. */
  readonly theme?: Theme;
}

/** What every part gets besides its slice of the model. */
export interface PartProps {
  readonly strings: Strings;
  readonly onChange: (changes: PendingChanges) => void;
}

export type { LockReason };
