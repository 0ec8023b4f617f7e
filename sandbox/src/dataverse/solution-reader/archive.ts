/**
 * The zip container of a solution, checked the way an importer must before trusting it: entry
 * names that could escape a folder, too many entries, too many bytes once inflated (judged from
 * the central directory through fflate's `filter`, before anything is inflated), duplicates.
 */
import { unzipSync, type UnzipFileInfo } from "fflate";
import { SolutionReadError } from "./types";

export interface ArchiveLimits {
  /** Most entries (files and folders) a zip may hold. */
  readonly maxEntries: number;
  /** Most bytes all entries may take once inflated. */
  readonly maxTotalBytes: number;
}

export const DEFAULT_LIMITS: ArchiveLimits = {
  maxEntries: 10_000,
  // Generous: the largest real fixture (a PCF control with an 800 KB bundle) inflates to under 1 MB.
  maxTotalBytes: 256 * 1024 * 1024,
};

const ZIP = "solution zip";

/** Files of the zip by name, with the case-insensitive lookup Windows-made packages need. */
export class SolutionArchive {
  private readonly byLowerName = new Map<string, string>();

  constructor(readonly files: ReadonlyMap<string, Uint8Array>) {
    for (const name of files.keys()) this.byLowerName.set(name.toLowerCase(), name);
  }

  /** `path` as written in customizations.xml (`/WebResources/x`) or as a zip name. */
  get(path: string): { readonly name: string; readonly bytes: Uint8Array } | undefined {
    const name = this.byLowerName.get(path.replace(/^\/+/, "").toLowerCase());
    const bytes = name === undefined ? undefined : this.files.get(name);
    return name === undefined || bytes === undefined ? undefined : { name, bytes };
  }

  /** Files whose name starts with `folder/` (case-insensitively), in zip order. */
  under(folder: string): Array<{ readonly name: string; readonly bytes: Uint8Array }> {
    const prefix = `${folder.replace(/^\/+|\/+$/g, "").toLowerCase()}/`;
    const found: Array<{ name: string; bytes: Uint8Array }> = [];
    for (const [name, bytes] of this.files) {
      if (name.toLowerCase().startsWith(prefix)) found.push({ name, bytes });
    }
    return found;
  }
}

export function openArchive(zip: Uint8Array, limits: ArchiveLimits): SolutionArchive {
  // First pass over the central directory only (the filter refuses every entry, so nothing is
  // inflated): names, count and declared sizes are all judged before a byte is inflated.
  let entries = 0;
  let totalBytes = 0;
  const lowerNames = new Set<string>();
  unzip(zip, (entry) => {
    entries += 1;
    if (entries > limits.maxEntries) {
      throw new SolutionReadError(`holds more than ${limits.maxEntries} entries`, ZIP);
    }
    checkEntryName(entry.name);
    const lower = entry.name.toLowerCase();
    if (lowerNames.has(lower)) throw new SolutionReadError(`entry '${entry.name}' appears twice`, ZIP);
    lowerNames.add(lower);
    // A stored entry is copied at its compressed size, an inflated one at its declared size.
    totalBytes += Math.max(entry.size, entry.originalSize);
    if (totalBytes > limits.maxTotalBytes) {
      throw new SolutionReadError(
        `inflates to more than ${limits.maxTotalBytes} bytes (limit reached at '${entry.name}')`,
        ZIP,
      );
    }
    return false;
  });
  const raw = unzip(zip, (entry) => !entry.name.endsWith("/"));
  const files = new Map<string, Uint8Array>();
  for (const [name, bytes] of Object.entries(raw)) files.set(name, bytes);
  return new SolutionArchive(files);
}

function unzip(zip: Uint8Array, filter: (entry: UnzipFileInfo) => boolean): Record<string, Uint8Array> {
  try {
    return unzipSync(zip, { filter });
  } catch (cause) {
    if (cause instanceof SolutionReadError) throw cause;
    throw new SolutionReadError("is not a readable zip file", ZIP, { cause });
  }
}

/** Refuses names that would land outside the folder the package is unpacked into. */
function checkEntryName(name: string): void {
  const normalised = name.replace(/\\/g, "/");
  const unsafe =
    name.length === 0 ||
    name.includes("\0") ||
    normalised.startsWith("/") ||
    /^[A-Za-z]:/.test(normalised) ||
    normalised.split("/").some((segment) => segment === "..");
  if (unsafe) throw new SolutionReadError(`entry name '${name}' points outside the package`, ZIP);
}
