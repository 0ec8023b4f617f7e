/**
 * Figure 6: the form. Production bundle sizes of the PCF control and of the form script (built when
 * missing or older than their sources, as the browser tests do), and the time to first render of
 * the control in headless Chromium on the sandbox form page (sandbox/src/form-host) hosting the
 * real bundle on a real opportunity of the emulated Dataverse.
 *
 * Time to first render: from navigation start (performance.timeOrigin) to the moment the control's
 * first section is in the host's #control element, observed in the page by a
 * MutationObserver installed before any script runs. Each run opens a fresh browser context (no
 * HTTP cache); one unmeasured load first lets the emulator build the page's vendor scripts.
 * The platform libraries (React 16.14, Fluent UI v9) are the page's, as on a real form.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import { SANDBOX_SELLER, TokenService, startDataverseEmulator } from "@cosell/sandbox";
import { formHostUrl, mountFormHost } from "@cosell/sandbox/src/form-host";
import { figure, toKB, unmeasured, type Figure, type Switch } from "./lib/figures";
import { spread } from "./lib/stats";
import type { RunContext } from "./lib/world";
import { CHROMIUM, launchChromium, newest } from "../tests/browser/chromium";

export interface FormOptions {
  readonly runs: number;
}

const REPO = path.resolve(__dirname, "..");

/** Runs in the page before its own scripts: notes when the control's first section is in #control. */
const FIRST_RENDER_PROBE = `
  new MutationObserver(function (_m, observer) {
    if (window.__firstRender === undefined && document.querySelector("#control section")) {
      window.__firstRender = performance.now();
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
`;
/** No bridge takes part in the form figures: nothing of it is switched off. */
const OFF: readonly Switch[] = ["none"];

interface Bundle {
  readonly name: string;
  readonly file: string;
  readonly sources: readonly string[];
  readonly workspace: string;
  readonly targetKB: number;
}

const BUNDLES: readonly Bundle[] = [
  {
    name: "form.pcfBundle",
    file: path.join(REPO, "pcf/out/controls/PartnerCenterSection/bundle.js"),
    sources: [path.join(REPO, "pcf/PartnerCenterSection"), path.join(REPO, "contract/src")],
    workspace: "pcf",
    targetKB: 50,
  },
  {
    name: "form.formScript",
    file: path.join(REPO, "webresources/dist/cosell_/opportunityform.js"),
    sources: [path.join(REPO, "webresources/src"), path.join(REPO, "contract/src")],
    workspace: "webresources",
    targetKB: 20,
  },
];

async function ensureBuilt(b: Bundle, log: RunContext["log"]): Promise<void> {
  const sources = Math.max(...b.sources.map(newest));
  if (fs.existsSync(b.file) && fs.statSync(b.file).mtimeMs >= sources) return;
  log(`  building ${b.workspace} (its output is missing or older than its sources)`);
  await promisify(execFile)("npm", ["run", "build", "-w", b.workspace], { cwd: REPO, timeout: 600_000 });
}

async function bundleFigures(log: RunContext["log"]): Promise<Figure[]> {
  const out: Figure[] = [];
  for (const b of BUNDLES) {
    try {
      await ensureBuilt(b, log);
      const bytes = fs.readFileSync(b.file);
      log(`  ${path.relative(REPO, b.file)}: ${bytes.length} bytes (${toKB(bytes.length).toFixed(2)} KB), ${gzipSync(bytes).length} bytes gzipped`);
      out.push(figure(`${b.name}.size`, "KB", toKB(bytes.length), { op: "<=", value: b.targetKB }, `production build, minified, ${bytes.length} bytes`, OFF));
      out.push(figure(`${b.name}.gzipped`, "KB", toKB(gzipSync(bytes).length), null, "what travels over the wire", OFF));
    } catch (err) {
      out.push(unmeasured(`${b.name}.size`, "KB", { op: "<=", value: b.targetKB }, `build failed: ${(err as Error).message.split("\n")[0]}`, OFF));
    }
  }
  return out;
}

async function firstRender(ctx: RunContext, o: FormOptions): Promise<Figure[]> {
  if (!fs.existsSync(CHROMIUM)) return [unmeasured("form.firstRender", "ms", null, `${CHROMIUM} not found`, OFF)];
  const tokens = new TokenService();
  const dataverse = await startDataverseEmulator({
    tokens,
    port: 0,
    extraRoutes: (app) => mountFormHost(app, { accessToken: () => tokens.issueUserAccessToken(SANDBOX_SELLER, dataverse.resourceUrl).accessToken }),
  });
  const browser = await launchChromium();
  try {
    dataverse.provisionContract();
    const token = tokens.issueUserAccessToken(SANDBOX_SELLER, dataverse.resourceUrl).accessToken;
    const res = await fetch(`${dataverse.apiUrl}/${Table.opportunity.entitySetName}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", prefer: "return=representation" },
      body: JSON.stringify({ [SystemColumn.opportunity.name]: "Contoso ERP rollout", [OpportunityColumn.syncWithPartnerCenter]: true, estimatedvalue: 25000 }),
    });
    if (res.status >= 300) throw new Error(`could not create the opportunity: HTTP ${res.status}`);
    const id = String(((await res.json()) as Record<string, unknown>)[Table.opportunity.primaryIdAttribute]);
    const url = formHostUrl(dataverse.url, { entity: "opportunity", id });
    const samples: number[] = [];
    const afterScripts: number[] = [];
    for (let r = 0; r <= o.runs; r++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(60_000);
        // A string, not a function: tsx would wrap named inner functions in a helper the page lacks.
        await page.addInitScript(FIRST_RENDER_PROBE);
        await page.goto(url);
        await page.waitForSelector("body[data-state=ready]");
        await page.getByRole("region", { name: "Microsoft Partner Center" }).waitFor();
        const ms = await page.evaluate(() => (window as unknown as { __firstRender?: number }).__firstRender ?? Number.NaN);
        // When the last script the control needs (its bundle, the platform libraries) had arrived.
        const scriptsAt = await page.evaluate(() =>
          Math.max(0, ...performance.getEntriesByType("resource").filter((e) => /\/(control\/bundle|vendor\/[a-z-]+)\.js/.test(e.name)).map((e) => (e as PerformanceResourceTiming).responseEnd)),
        );
        if (r > 0) {
          // the first load builds the vendor scripts on the server
          samples.push(ms);
          afterScripts.push(ms - scriptsAt);
        }
      } finally {
        await context.close();
      }
    }
    ctx.log(`  first render (ms): ${samples.map((s) => s.toFixed(0)).join(", ")}; of which after the scripts arrived: ${afterScripts.map((s) => s.toFixed(0)).join(", ")}`);
    return [
      figure("form.firstRender", "ms", spread(samples), null, "navigation start → the control's first section in the DOM, fresh browser context", OFF),
      figure("form.firstRenderAfterScripts", "ms", spread(afterScripts), null, "the part after the control's bundle and the platform libraries arrived (host init, data, render)", OFF),
    ];
  } finally {
    await browser.close();
    await dataverse.close();
  }
}

export async function formFigures(ctx: RunContext, o: FormOptions): Promise<Figure[]> {
  ctx.log(`form: bundle sizes, and time to first render in headless Chromium (${o.runs} runs)`);
  const figures = await bundleFigures(ctx.log);
  try {
    figures.push(...(await firstRender(ctx, o)));
  } catch (err) {
    figures.push(unmeasured("form.firstRender", "ms", null, (err as Error).message.split("\n")[0] ?? "failed", OFF));
  }
  return figures;
}
