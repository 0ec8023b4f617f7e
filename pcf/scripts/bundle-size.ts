/**
 * Runs after `npm run build -w pcf`: reports the production bundle's size and fails the build if
 * React or Fluent UI got bundled instead of being taken from the platform (they are hundreds of KB).
 *
 *   npx tsx pcf/scripts/bundle-size.ts
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

export const BUNDLE = path.resolve(__dirname, "../out/controls/PartnerCenterSection/bundle.js");
/** Issue 6's target, 50 KB of 1,000 bytes; above it we warn (the build still passes). */
export const TARGET_BYTES = 50 * 1000;
/** Above this something that should be external was bundled: fail. */
export const CEILING_BYTES = 128 * 1000;
/** The globals pcf-scripts 1.51.1 maps the platform libraries to (PlatformLibraryVersions.json). */
export const PLATFORM_GLOBALS = ["Reactv16", "FluentUIReactv940"] as const;

export interface BundleReport {
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly missingGlobals: string[];
  readonly bundlesReact: boolean;
}

export function inspectBundle(source: Buffer): BundleReport {
  const text = source.toString("utf8");
  return {
    bytes: source.length,
    gzipBytes: zlib.gzipSync(source).length,
    missingGlobals: PLATFORM_GLOBALS.filter((g) => !text.includes(g)),
    // React's own error decoder URL appears only when React itself is in the bundle.
    bundlesReact: text.includes("reactjs.org/docs/error-decoder") || text.includes("react.dev/errors"),
  };
}

function main(): number {
  if (!fs.existsSync(BUNDLE)) {
    console.error(`No bundle at ${BUNDLE}: run npm run build -w pcf first.`);
    return 1;
  }
  const r = inspectBundle(fs.readFileSync(BUNDLE));
  const kb = (n: number) => `${(n / 1000).toFixed(1)} KB`;
  console.log(`bundle.js: ${r.bytes} bytes (${kb(r.bytes)}), ${r.gzipBytes} bytes gzipped (${kb(r.gzipBytes)})`);
  if (r.missingGlobals.length) console.error(`Platform globals not referenced: ${r.missingGlobals.join(", ")}`);
  if (r.bundlesReact) console.error("React is inside the bundle: it must come from the platform.");
  if (r.bytes > TARGET_BYTES) console.warn(`Above the ${kb(TARGET_BYTES)} target (see pcf/README.md, "Bundle size").`);
  return r.missingGlobals.length || r.bundlesReact || r.bytes > CEILING_BYTES ? 1 : 0;
}

if (require.main === module) process.exitCode = main();
