/**
 * Bundles the form scripts into the one web resource file, `dist/cosell_/opportunityform.js`, and
 * reports its size. `npm run build -w webresources`.
 */
import { build, type Plugin } from "esbuild";
import { mkdirSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { WEB_RESOURCE } from "@cosell/contract";

export const ENTRY_POINT = path.join(__dirname, "src", "bundle.ts");
export const OUTPUT_FILE = path.join(__dirname, "dist", ...WEB_RESOURCE.name.split("/"));
/** What a form should have to download and parse; the build warns above it and a test fails. */
export const SIZE_BUDGET_BYTES = 20 * 1024;

export interface BuildReport {
  readonly outfile: string;
  readonly bytes: number;
  readonly gzipBytes: number;
}

/**
 * Modules of pure data, evaluated here at build time and inlined as object literals. The contract's
 * schema module builds its tables with function calls at the top level, which a bundler must keep
 * (they might have side effects), descriptions and all; as literals, tree-shaking drops what the
 * form does not use. Function exports are left out: importing one from the form fails the build
 * ("No matching export") rather than behaving differently.
 */
export const DATA_MODULES: readonly string[] = [
  realpathSync(require.resolve("@cosell/contract/src/schema.ts")),
  path.join(__dirname, "src", "dataverse-names.ts"),
  path.join(__dirname, "src", "contract-view.ts"),
];

export function dataModulesPlugin(modules: readonly string[] = DATA_MODULES): Plugin {
  return {
    name: "cosell-data-modules",
    setup(b) {
      b.onResolve({ filter: /^\.{1,2}\// }, (args) => {
        const target = path.resolve(args.resolveDir, args.path);
        const module = modules.find((m) => m === target || m === `${target}.ts`);
        return module ? { path: module, namespace: "data-module" } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: "data-module" }, (args) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluated at build time, as Node sees it
        const exports = require(args.path) as Record<string, unknown>;
        const lines = Object.entries(exports)
          .filter(([name, value]) => name !== "__esModule" && typeof value !== "function")
          .map(([name, value]) => `export const ${name} = ${JSON.stringify(value)};`);
        return { contents: lines.join("\n"), loader: "js", resolveDir: path.dirname(args.path) };
      });
    },
  };
}

export async function buildFormScript(outfile: string = OUTPUT_FILE): Promise<BuildReport> {
  const result = await build({
    entryPoints: [ENTRY_POINT],
    bundle: true,
    format: "iife",
    platform: "browser",
    // Browsers the model-driven apps support; no transpiling of modern syntax is needed beyond this.
    target: "es2022",
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "silent",
    plugins: [dataModulesPlugin()],
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error("esbuild produced no output");
  mkdirSync(path.dirname(outfile), { recursive: true });
  // Write then rename, so a reader (the solution packer, a test) never sees half a file.
  const temporary = `${outfile}.${process.pid}.tmp`;
  writeFileSync(temporary, file.contents);
  renameSync(temporary, outfile);
  return { outfile, bytes: file.contents.byteLength, gzipBytes: gzipSync(file.contents).byteLength };
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

if (require.main === module) {
  buildFormScript().then(
    (report) => {
      const rel = path.relative(process.cwd(), report.outfile);
      console.log(`${rel}: ${kb(report.bytes)} minified, ${kb(report.gzipBytes)} gzip (budget ${kb(SIZE_BUDGET_BYTES)})`);
      if (report.bytes > SIZE_BUDGET_BYTES) console.warn(`warning: ${rel} is over its size budget`);
    },
    (error: unknown) => {
      console.error("building the form script failed:", error);
      process.exitCode = 1;
    },
  );
}
