/**
 * The sandbox form host: a page on the Dataverse emulator's origin that runs the real, built PCF
 * bundle against a real row of the emulated Dataverse. It serves the platform libraries under the
 * globals pcf-scripts 1.51.1 compiles the bundle against (`Reactv16`, `FluentUIReactv940`; see
 * pcf/README.md), the control's bundle and strings, the host script, and a seller's token.
 *
 *   startDataverseEmulator({ tokens, extraRoutes: (app) => mountFormHost(app, { accessToken }) })
 *   → <emulator url>/form-host/?entity=opportunity&id=<guid>
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { build, type Plugin } from "esbuild";
import type { FastifyInstance, FastifyReply } from "fastify";
import { formPage } from "./page";
import { parseResx } from "./resx";

export const FORM_HOST_PREFIX = "/form-host";
const REPO_ROOT = path.resolve(__dirname, "../../..");
export const DEFAULT_PCF_DIR = path.join(REPO_ROOT, "pcf");
export const DEFAULT_CONTROL_DIR = path.join(DEFAULT_PCF_DIR, "out", "controls", "PartnerCenterSection");
const API_PATH = "/api/data/v9.2";

export interface FormHostOptions {
  /**
   * A seller's access token for this org, handed to the page. Sandbox only: anyone who can reach
   * the emulator's origin gets it, exactly like the emulator's own endpoints.
   */
  readonly accessToken: () => string | Promise<string>;
  /** URL prefix of the page (default `/form-host`). */
  readonly prefix?: string;
  /** The built control: `bundle.js` and `strings/` (default `pcf/out/controls/PartnerCenterSection`). */
  readonly controlDir?: string;
  /** The pcf workspace, for React 16.14 and Fluent UI v9 (default the repository's `pcf/`). */
  readonly pcfDir?: string;
}

export interface FormHostLinkOptions {
  readonly entity?: "opportunity" | "lead";
  readonly id?: string;
  readonly lcid?: 1033 | 1040;
  readonly formFactor?: 1 | 2 | 3;
  /** Width of the control's container in px (phone/tablet layouts). */
  readonly width?: number;
  readonly disabled?: boolean;
  readonly checkmarks?: "environment" | "show" | "hide";
  /** Re-read the row every n ms while nothing is unsaved. */
  readonly poll?: number;
}

/** The page's URL for a record. */
export function formHostUrl(origin: string, options: FormHostLinkOptions = {}, prefix = FORM_HOST_PREFIX): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(options)) if (v !== undefined) q.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  const s = q.toString();
  return `${origin.replace(/\/+$/, "")}${prefix}/${s ? `?${s}` : ""}`;
}

export class FormHostBuildError extends Error {
  public override readonly name = "FormHostBuildError";
  constructor(what: string, cause: unknown) {
    super(`could not build ${what} for the form host`, { cause });
  }
}

/** React and ReactDOM come from the page's globals, as on the platform; Fluent's JSX runtime from React 16.14. */
function platformGlobals(pcfDir: string): Plugin {
  return {
    name: "platform-globals",
    setup(b) {
      b.onResolve({ filter: /^react(-dom)?$/ }, (a) => ({ path: a.path, namespace: "platform-global" }));
      b.onResolve({ filter: /^react\/jsx-runtime$/ }, () => ({ path: require.resolve("react/jsx-runtime", { paths: [pcfDir] }) }));
      b.onLoad({ filter: /.*/, namespace: "platform-global" }, (a) => ({
        contents: `module.exports = window.${a.path === "react" ? "Reactv16" : "ReactDOM"};`,
        loader: "js",
      }));
    },
  };
}

const built = new Map<string, Promise<string>>();

function once(key: string, make: () => Promise<string>): Promise<string> {
  let p = built.get(key);
  if (!p) {
    p = make();
    p.catch(() => built.delete(key));
    built.set(key, p);
  }
  return p;
}

/**
 * `@fluentui/react-components` as the global `FluentUIReactv940`, the way the platform provides it.
 * An ESM re-export (not `require`) so that esbuild drops the icons nobody uses (~16 MB otherwise).
 */
export function fluentBundle(pcfDir: string = DEFAULT_PCF_DIR): Promise<string> {
  return once(`fluent:${pcfDir}`, async () => {
    try {
      const result = await build({
        stdin: { contents: 'export * from "@fluentui/react-components";', resolveDir: pcfDir, loader: "js" },
        bundle: true,
        format: "iife",
        globalName: "FluentUIReactv940",
        platform: "browser",
        target: "es2019",
        minify: true,
        define: { "process.env.NODE_ENV": '"production"' },
        plugins: [platformGlobals(pcfDir)],
        write: false,
        logLevel: "silent",
      });
      return result.outputFiles[0]?.text ?? "";
    } catch (error) {
      throw new FormHostBuildError("Fluent UI v9", error);
    }
  });
}

/** The page script (client/main.ts and what it imports). */
export function hostBundle(): Promise<string> {
  return once("host", async () => {
    try {
      const result = await build({
        entryPoints: [path.join(__dirname, "client", "main.ts")],
        bundle: true,
        format: "iife",
        platform: "browser",
        target: "es2019",
        write: false,
        logLevel: "silent",
      });
      return result.outputFiles[0]?.text ?? "";
    } catch (error) {
      throw new FormHostBuildError("the host script", error);
    }
  });
}

function sendFile(reply: FastifyReply, file: string, type: string, missing: string): FastifyReply {
  if (!fs.existsSync(file)) return reply.code(404).type("text/plain; charset=utf-8").send(missing);
  return reply.type(type).header("cache-control", "no-cache").send(fs.readFileSync(file));
}

export function mountFormHost(app: FastifyInstance, options: FormHostOptions): void {
  const prefix = (options.prefix ?? FORM_HOST_PREFIX).replace(/\/+$/, "");
  const pcfDir = options.pcfDir ?? DEFAULT_PCF_DIR;
  const controlDir = options.controlDir ?? DEFAULT_CONTROL_DIR;
  const js = "application/javascript; charset=utf-8";
  const umd = (pkg: string, file: string) => require.resolve(`${pkg}/umd/${file}`, { paths: [pcfDir] });
  const notBuilt = `The control is not built: run npm run build -w pcf (expected ${controlDir}).`;

  app.get(prefix, async (_req, reply) => reply.redirect(`${prefix}/`));
  app.get(`${prefix}/`, async (_req, reply) =>
    reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(formPage({ prefix, apiPath: API_PATH })),
  );
  app.get(`${prefix}/host.js`, async (_req, reply) => reply.type(js).send(await hostBundle()));
  app.get(`${prefix}/vendor/react.js`, async (_req, reply) =>
    sendFile(reply, umd("react", "react.production.min.js"), js, "React 16.14 UMD not found"),
  );
  app.get(`${prefix}/vendor/react-dom.js`, async (_req, reply) =>
    sendFile(reply, umd("react-dom", "react-dom.production.min.js"), js, "ReactDOM 16.14 UMD not found"),
  );
  app.get(`${prefix}/vendor/fluent.js`, async (_req, reply) => reply.type(js).send(await fluentBundle(pcfDir)));
  app.get(`${prefix}/control/bundle.js`, async (_req, reply) => sendFile(reply, path.join(controlDir, "bundle.js"), js, notBuilt));
  app.get<{ Params: { lcid: string } }>(`${prefix}/strings/:lcid.json`, async (req, reply) => {
    const lcid = /^\d{4}$/.test(req.params.lcid) ? req.params.lcid : "1033";
    const file = [lcid, "1033"]
      .map((l) => path.join(controlDir, "strings", `PartnerCenterSection.${l}.resx`))
      .find((f) => fs.existsSync(f));
    if (!file) return reply.code(404).type("text/plain; charset=utf-8").send(notBuilt);
    return reply.type("application/json; charset=utf-8").send(parseResx(fs.readFileSync(file, "utf8")));
  });
  app.get(`${prefix}/token`, async (_req, reply) =>
    reply.header("cache-control", "no-store").send({ accessToken: await options.accessToken() }),
  );
}
