/** The page's routes on the emulator's origin (real HTTP on port 0). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TokenService, startDataverseEmulator, type DataverseEmulator } from "@cosell/sandbox";
import { FORM_HOST_PREFIX, formHostUrl, mountFormHost } from "../../src/form-host";
import { parseResx } from "../../src/form-host/resx";

let dataverse: DataverseEmulator;
let controlDir: string;

beforeAll(async () => {
  // A stand-in for pcf/out/controls/PartnerCenterSection so these tests need no build.
  controlDir = fs.mkdtempSync(path.join(os.tmpdir(), "form-host-"));
  fs.mkdirSync(path.join(controlDir, "strings"));
  fs.writeFileSync(path.join(controlDir, "bundle.js"), "/* control */");
  fs.writeFileSync(
    path.join(controlDir, "strings", "PartnerCenterSection.1033.resx"),
    '<root><data name="Sync_Label" xml:space="preserve"><value>Sync &amp; share</value></data></root>',
  );
  dataverse = await startDataverseEmulator({
    tokens: new TokenService(),
    port: 0,
    extraRoutes: (app) => mountFormHost(app, { accessToken: () => "seller-token", controlDir }),
  });
});
afterAll(async () => {
  await dataverse.close();
  fs.rmSync(controlDir, { recursive: true, force: true });
});

const get = (p: string) => fetch(`${dataverse.url}${FORM_HOST_PREFIX}${p}`);

test("the page loads the platform libraries before the host script", async () => {
  const res = await get("/");
  const html = await res.text();
  expect(res.headers.get("content-type")).toContain("text/html");
  const order = ["vendor/react.js", "vendor/react-dom.js", "window.Reactv16 = window.React", "vendor/fluent.js", "host.js"].map((s) => html.indexOf(s));
  expect(order.every((i) => i > 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
});

test("React 16.14 comes from the pcf workspace", async () => {
  const react = await (await get("/vendor/react.js")).text();
  expect(react).toContain("16.14.0");
});

test("the control's bundle and strings are served; strings as JSON", async () => {
  expect(await (await get("/control/bundle.js")).text()).toBe("/* control */");
  expect(await (await get("/strings/1033.json")).json()).toEqual({ Sync_Label: "Sync & share" });
  // An unknown language falls back to 1033, as the platform does.
  expect(await (await get("/strings/1040.json")).json()).toEqual({ Sync_Label: "Sync & share" });
});

test("the seller's token, never cached", async () => {
  const res = await get("/token");
  expect(await res.json()).toEqual({ accessToken: "seller-token" });
  expect(res.headers.get("cache-control")).toBe("no-store");
});

test("a missing build says how to make it", async () => {
  fs.renameSync(path.join(controlDir, "bundle.js"), path.join(controlDir, "bundle.off"));
  try {
    const res = await get("/control/bundle.js");
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("npm run build -w pcf");
  } finally {
    fs.renameSync(path.join(controlDir, "bundle.off"), path.join(controlDir, "bundle.js"));
  }
});

test("formHostUrl", () => {
  expect(formHostUrl("http://127.0.0.1:7072/", { entity: "lead", id: "abc", disabled: true, width: 360 })).toBe(
    "http://127.0.0.1:7072/form-host/?entity=lead&id=abc&disabled=1&width=360",
  );
  expect(formHostUrl("http://x")).toBe("http://x/form-host/");
});

test("parseResx decodes entities", () => {
  expect(parseResx('<data name="a"><value>x &lt;y&gt; &quot;z&quot;</value></data>')).toEqual({ a: 'x <y> "z"' });
});
