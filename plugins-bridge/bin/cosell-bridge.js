#!/usr/bin/env node
// cosell-bridge. In a checkout (development, tests) it runs the TypeScript sources through tsx; in a
// production install it runs the esbuild bundle (npm run build -w plugins-bridge → dist/).
// COSELL_BRIDGE_DIST=1 forces the bundle.
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS launcher */
const fs = require("node:fs");
const path = require("node:path");

const bundle = path.join(__dirname, "..", "dist", "cosell-bridge.js");
let fromSource = process.env.COSELL_BRIDGE_DIST !== "1";
if (fromSource) {
  try {
    require.resolve("tsx/cjs");
  } catch {
    fromSource = false;
  }
}
if (fromSource) {
  require("tsx/cjs");
  require(path.join(__dirname, "..", "src", "cli", "main.ts"));
} else if (fs.existsSync(bundle)) {
  require(bundle);
} else {
  process.stderr.write("cosell-bridge: neither tsx (development) nor dist/cosell-bridge.js (npm run build -w plugins-bridge) is available\n");
  process.exit(2);
}
