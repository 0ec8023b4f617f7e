/**
 * What the browser suites share: Debian's Chromium through playwright-core, and the control's
 * bundle built when it is missing or older than its sources.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { CHROMIUM_PATH, chromium as chromiumInstalled, describeWith } from "../support/prerequisites";

export const REPO = path.resolve(__dirname, "../..");
const PCF = path.join(REPO, "pcf");
export const BUNDLE = path.join(PCF, "out/controls/PartnerCenterSection/bundle.js");
export const CHROMIUM = CHROMIUM_PATH;

/** `describe` when Chromium is installed; otherwise skipped with a warning, or failed under CI (tests/support/prerequisites.ts). */
export function describeWithChromium(suite: string): ReturnType<typeof describeWith> {
  return describeWith(`tests/browser/${suite}`, [chromiumInstalled]);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Newest modification time under a folder (sources), ignoring generated files and dependencies; 0 when it is missing. */
export function newest(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "generated" || entry.name === "node_modules") continue;
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

/** Builds the control when its bundle is missing or older than its sources (takes a minute here). */
export async function ensureBundle(): Promise<void> {
  const sources = Math.max(newest(path.join(PCF, "PartnerCenterSection")), newest(path.join(REPO, "contract/src")));
  if (fs.existsSync(BUNDLE) && fs.statSync(BUNDLE).mtimeMs >= sources) return;
  await promisify(execFile)("npm", ["run", "build", "-w", "pcf"], { cwd: REPO, timeout: 600_000 });
}
