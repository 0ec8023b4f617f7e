/** The HTML of the sandbox form page (pure). */
import type { HostConfig } from "./client/dom";

const escapeForScript = (json: string): string => json.replace(/</g, "\\u003c");

export function formPage(config: HostConfig): string {
  const p = config.prefix;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Partner Center section — sandbox form</title>
<style>
  body { margin: 0; font-family: "Segoe UI", system-ui, sans-serif; background: #faf9f8; color: #242424; }
  header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 12px 20px; background: #fff; border-bottom: 1px solid #e0e0e0; }
  header h1 { font-size: 18px; margin: 0; flex: 1 1 auto; }
  header button { font: inherit; padding: 4px 14px; }
  main { padding: 20px; }
  .form-section { background: #fff; border: 1px solid #e0e0e0; border-radius: 4px; padding: 16px; box-sizing: border-box; max-width: 1100px; }
  .form-section > h2 { font-size: 16px; margin: 0 0 12px; }
</style>
</head>
<body data-state="loading">
<header>
  <h1 id="record-name">Partner Center section (sandbox)</h1>
  <button id="save" type="button" disabled>Save</button>
  <button id="refresh" type="button">Refresh</button>
  <span id="status" role="status">Loading…</span>
</header>
<main>
  <div class="form-section">
    <h2>Microsoft Partner Center</h2>
    <div id="control"></div>
  </div>
</main>
<script>window.__FORM_HOST__ = ${escapeForScript(JSON.stringify(config))};</script>
<script src="${p}/vendor/react.js"></script>
<script src="${p}/vendor/react-dom.js"></script>
<script>window.Reactv16 = window.React;</script>
<script src="${p}/vendor/fluent.js"></script>
<script src="${p}/host.js"></script>
</body>
</html>
`;
}
