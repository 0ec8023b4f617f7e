import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PRODUCT_VERSION } from "@cosell/contract";

// The bundle admins run (`npm run build -w plugins-bridge`, part of the root `npm run build`).
const bundle = path.resolve(__dirname, "../dist/cosell-bridge.js");

describe("the production bundle of cosell-bridge", () => {
  beforeAll(() => {
    if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build (npm test does it first)`);
  });

  it("runs under plain node and reports the product version", () => {
    const r = spawnSync(process.execPath, [bundle, "--version"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(PRODUCT_VERSION);
  });

  it("refuses to serve without configuration, listing what is missing", () => {
    const r = spawnSync(process.execPath, [bundle, "serve"], { encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH ?? "" } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("DATAVERSE_URL is required");
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});
