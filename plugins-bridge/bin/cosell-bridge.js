#!/usr/bin/env node
// cosell-bridge. In a checkout (development, tests) it runs the TypeScript sources through tsx; in a
// production install it runs the esbuild bundle (npm run build -w plugins-bridge → dist/).
// COSELL_BRIDGE_DIST=1 forces the bundle.
//
// Node runs the bridge with V8's old space capped (heap.js: 192 MB) unless NODE_OPTIONS or node's
// own arguments set --max-old-space-size: the flag only takes effect at start, so this launcher
// starts the bridge as a child with it, passes signals on and exits as the child did.
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS launcher */
const fs = require("node:fs");
const path = require("node:path");
const { heapCapFlag } = require("./heap");

/** Set by the launcher for its child: the child's own launcher is alive while this is. */
const LAUNCHED = "COSELL_BRIDGE_LAUNCHED";
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

function launch(flag) {
  const { spawn } = require("node:child_process");
  const child = spawn(process.execPath, [...process.execArgv, flag, __filename, ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: { ...process.env, [LAUNCHED]: "1" },
  });
  const forward = (signal) => () => child.kill(signal);
  const handlers = SIGNALS.map((signal) => [signal, forward(signal)]);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  child.once("error", (err) => {
    process.stderr.write(`cosell-bridge: cannot start node: ${err.message}\n`);
    process.exit(2);
  });
  child.once("exit", (code, signal) => {
    for (const [s, handler] of handlers) process.off(s, handler);
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

/**
 * In the launcher's child. When the launcher is killed outright (SIGKILL, OOM killer) the IPC channel
 * closes: the bridge dies the same way, so killing the launcher still kills the bridge. A terminal's
 * Ctrl-C or a service manager's SIGTERM reaches the whole process group, and the launcher passes it
 * on as well: the copy within a second of the first is dropped, so it does not cut short the
 * graceful stop the first one started. A later one ends the process as Node's default would.
 */
function underLauncher() {
  delete process.env[LAUNCHED];
  process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
  if (process.channel) process.channel.unref();
  for (const signal of SIGNALS) {
    let last = 0;
    const dedupe = () => {
      const now = Date.now();
      const copy = now - last < 1_000;
      last = now;
      if (copy || process.listenerCount(signal) > 1) return;
      process.off(signal, dedupe);
      process.kill(process.pid, signal);
    };
    process.on(signal, dedupe);
  }
}

function run() {
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
}

const flag = process.env[LAUNCHED] === "1" ? undefined : heapCapFlag(process.env.NODE_OPTIONS, process.execArgv);
if (flag) {
  launch(flag);
} else {
  if (process.env[LAUNCHED] === "1") underLauncher();
  run();
}
