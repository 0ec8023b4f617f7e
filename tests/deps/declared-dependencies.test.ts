/**
 * Each workspace's package.json says what its code uses (issue 14): every declared dependency is
 * imported (or its binary run by a script) somewhere in that workspace, and every bare package the
 * workspace imports is declared. Code that ships (`runtime` below) needs its packages in
 * `dependencies`; tests, build and bench scripts may also lean on the root's shared devDependencies.
 * A declared package counts as used when it is a peer dependency of one imported (react-dom).
 */
import { builtinModules } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "../..");
const SKIP_DIRS = new Set(["node_modules", "dist", "out", "generated", "coverage"]);
const SOURCE = /\.(ts|tsx|js|cjs|mjs)$/;

/** The folders whose code ships, per workspace. */
const RUNTIME: Record<string, readonly string[]> = {
  contract: ["src"],
  sandbox: ["src"],
  "plugins-bridge": ["src", "bin"],
  webresources: ["src"],
  pcf: ["PartnerCenterSection"],
  solution: ["src"],
};

/** A runtime import that the root provides on purpose, with the reason. */
const PROVIDED_BY_CHECKOUT: Record<string, readonly string[]> = {
  // bin/cosell-bridge.js runs the TypeScript sources through tsx only in a checkout; the built dist does not.
  "plugins-bridge": ["tsx"],
};

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  workspaces?: string[];
}

const readJson = (file: string): Manifest => JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
const root = readJson(path.join(ROOT, "package.json"));
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return SKIP_DIRS.has(e.name) ? [] : files(full);
    return SOURCE.test(e.name) && !e.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** The package an import names: `@scope/name` or `name`, without a subpath. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("/") || builtins.has(specifier) || builtins.has(specifier.split("/")[0] as string)) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map((f) => packageOf(f.fileName)).filter((p): p is string => p !== undefined);
}

/** Packages whose binary a script runs (`pcf-scripts build`, `esbuild src/…`). */
function scriptBinaries(m: Manifest): Set<string> {
  return new Set(Object.values(m.scripts ?? {}).flatMap((s) => s.split(/&&|\|\||;/).map((c) => c.trim().split(/\s+/)[0] as string)));
}

/** The peer dependencies of the packages imported: declared for them (react-dom for @testing-library/react). */
function peersOf(packages: Iterable<string>, from: string): string[] {
  return [...packages].flatMap((p) => {
    try {
      const file = require.resolve(`${p}/package.json`, { paths: [from] });
      return Object.keys((JSON.parse(fs.readFileSync(file, "utf8")) as { peerDependencies?: Record<string, string> }).peerDependencies ?? {});
    } catch {
      return []; // a package that does not export its package.json has no peer we rely on
    }
  });
}

describe.each(root.workspaces ?? [])("workspace %s", (workspace) => {
  const dir = path.join(ROOT, workspace);
  const m = readJson(path.join(dir, "package.json"));
  const deps = Object.keys(m.dependencies ?? {});
  const devDeps = Object.keys(m.devDependencies ?? {});
  const runtimeDirs = (RUNTIME[workspace] ?? []).map((d) => path.join(dir, d));
  const all = files(dir);
  const isRuntime = (f: string) => runtimeDirs.some((d) => f.startsWith(d + path.sep));
  const runtimeImports = new Set(all.filter(isRuntime).flatMap(importsOf));
  const otherImports = new Set(all.filter((f) => !isRuntime(f)).flatMap(importsOf));

  it("imports (or runs) every package it declares", () => {
    const imported = new Set([...runtimeImports, ...otherImports]);
    const used = new Set([...imported, ...peersOf(imported, dir), ...scriptBinaries(m)]);
    // @types/* packages are used by the compiler, not imported.
    const unused = [...deps, ...devDeps].filter((d) => !d.startsWith("@types/") && !used.has(d));
    expect(unused).toEqual([]);
  });

  it("declares in dependencies every package its shipped code imports", () => {
    const provided = new Set(PROVIDED_BY_CHECKOUT[workspace] ?? []);
    // Workspace links (@cosell/*) too: npm links them only because they are declared.
    const undeclared = [...runtimeImports].filter((p) => p !== m.name && !deps.includes(p) && !provided.has(p));
    expect(undeclared).toEqual([]);
  });

  it("declares, here or in the root's devDependencies, every package its tests and scripts import", () => {
    const available = new Set([...deps, ...devDeps, ...Object.keys(root.devDependencies ?? {})]);
    const undeclared = [...otherImports].filter((p) => p !== m.name && !available.has(p) && !runtimeImports.has(p));
    expect(undeclared).toEqual([]);
  });
});

describe("packages the root resolves", () => {
  it("hoists @azure/msal-node 7.x, the one the bridge and the solution use, with dataverse-ify's 1.x nested under it", () => {
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
    expect(lock.packages["node_modules/@azure/msal-node"]?.version).toMatch(/^7\./);
    const nested = Object.entries(lock.packages).filter(([p]) => p.endsWith("/node_modules/@azure/msal-node"));
    for (const [, v] of nested) expect(v.version).not.toMatch(/^7\./);
    const bridge = require.resolve("@azure/msal-node/package.json", { paths: [path.join(ROOT, "plugins-bridge")] });
    expect((JSON.parse(fs.readFileSync(bridge, "utf8")) as { version: string }).version).toMatch(/^7\./);
  });

  it("type-checks the PCF control's tests and scripts in `npm run typecheck`", () => {
    const config = ts.readConfigFile(path.join(ROOT, "pcf/tsconfig.test.json"), ts.sys.readFile).config as { include: string[] };
    expect(config.include).toEqual(expect.arrayContaining(["test/**/*", "scripts/**/*"]));
    expect(root.scripts?.typecheck).toContain("tsc -p pcf/tsconfig.test.json");
  });
});
