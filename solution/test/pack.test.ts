/** Managed vs unmanaged, determinism, the inputs from other parts, and the form binding rules. */
import { readFileSync, mkdtempSync, rmSync, cpSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { unzipSync } from "fflate";
import { buildPackages } from "../src/build";
import { parseControlManifest } from "../src/control-manifest";
import { planForm, FormBindingError } from "../src/emit/forms";
import { MissingBuildOutputError } from "../src/inputs";
import { OPPORTUNITY_COLUMNS, LEAD_COLUMNS } from "@cosell/contract";
import { CONTROL_SOURCE_MANIFEST, unpackedDrift } from "../src/unpacked";
import { existsSync } from "node:fs";
import { prerequisitesMet, type Prerequisite } from "../../tests/support/prerequisites";
import { FIXTURE_INPUTS, buildFixture, text, type BuiltFixture } from "./helpers";

let fx: BuiltFixture;
beforeAll(() => {
  fx = buildFixture();
});
afterAll(() => fx.cleanup());

test("managed and unmanaged differ only in solution.xml's Managed flag", () => {
  expect([...fx.managed.keys()]).toEqual([...fx.unmanaged.keys()]);
  for (const [name, bytes] of fx.managed) {
    if (name === "solution.xml") continue;
    expect(Buffer.from(bytes).equals(Buffer.from(fx.unmanaged.get(name)!))).toBe(true);
  }
  expect(text(fx.managed, "solution.xml")).toContain("<Managed>1</Managed>");
  expect(text(fx.unmanaged, "solution.xml")).toContain("<Managed>0</Managed>");
  expect(text(fx.managed, "solution.xml").replace("<Managed>1</Managed>", "<Managed>0</Managed>")).toBe(text(fx.unmanaged, "solution.xml"));
});

test("both zips land under the output folder with the documented names", () => {
  expect(fx.built.map((b) => path.basename(b.file))).toEqual(["PartnerCenterCoSell.zip", "PartnerCenterCoSell_managed.zip"]);
  for (const b of fx.built) expect(readFileSync(b.file).equals(Buffer.from(b.bytes))).toBe(true);
});

test("a rebuild is byte-identical (fixed entry order and timestamps)", () => {
  const again = buildFixture();
  try {
    for (const b of fx.built) {
      const twin = again.built.find((x) => x.kind === b.kind)!;
      expect(twin.sha256).toBe(b.sha256);
    }
  } finally {
    again.cleanup();
  }
});

test("zip entries: the export's order, first customizations.xml, [Content_Types].xml, solution.xml", () => {
  const names = Object.keys(unzipSync(fx.built[1]!.bytes));
  expect(names.slice(0, 3)).toEqual(["customizations.xml", "[Content_Types].xml", "solution.xml"]);
});

describe("inputs from the other parts", () => {
  test("a missing control build names the command that builds it", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "cosell-missing-"));
    try {
      expect(() => buildPackages({ inputs: { ...FIXTURE_INPUTS, controlDir: path.join(out, "nope") }, outDir: out, repoRoot: false })).toThrow(
        MissingBuildOutputError,
      );
      expect(() => buildPackages({ inputs: { ...FIXTURE_INPUTS, controlDir: path.join(out, "nope") }, outDir: out, repoRoot: false })).toThrow(
        /npm run build -w pcf/,
      );
      expect(() => buildPackages({ inputs: { ...FIXTURE_INPUTS, formScript: path.join(out, "x.js") }, outDir: out, repoRoot: false })).toThrow(
        /npm run build -w webresources/,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test("a resource the manifest lists but the build did not produce is refused", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "cosell-partial-"));
    try {
      const control = path.join(out, "control");
      cpSync(FIXTURE_INPUTS.controlDir, control, { recursive: true });
      rmSync(path.join(control, "bundle.js"));
      expect(() => buildPackages({ inputs: { ...FIXTURE_INPUTS, controlDir: control }, outDir: out, repoRoot: false })).toThrow(/bundle\.js \(listed in the control's manifest\)/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("form binding follows the control's manifest", () => {
  const fixtureManifest = () => parseControlManifest(readFileSync(path.join(FIXTURE_INPUTS.controlDir, "ControlManifest.xml"), "utf8"));

  test("a bound property that names no column fails with the property's name", () => {
    const m = fixtureManifest();
    const extra = { ...m, properties: [...m.properties, { name: "dealSize", ofType: "Currency", usage: "bound" as const, required: false, enumValues: [] }] };
    expect(() => planForm("opportunity", extra, OPPORTUNITY_COLUMNS)).toThrow(FormBindingError);
    expect(() => planForm("opportunity", extra, OPPORTUNITY_COLUMNS)).toThrow(/"dealSize"/);
    // on the lead form an opportunity-only optional property stays unbound
    expect(planForm("lead", extra, LEAD_COLUMNS).bindings.some((b) => b.property === "dealSize")).toBe(false);
  });

  test("a property whose type cannot hold the column fails", () => {
    const m = fixtureManifest();
    const wrong = { ...m, properties: m.properties.map((p) => (p.name === "products" ? { ...p, ofType: "TwoOptions" } : p)) };
    expect(() => planForm("opportunity", wrong, OPPORTUNITY_COLUMNS)).toThrow(/"products" is TwoOptions, which cannot bind column cosell_products/);
  });

  test("the source manifest and the built one bind the same way", () => {
    const sourceManifest: Prerequisite = {
      name: `the control's source manifest (${path.relative(path.resolve(__dirname, "../.."), CONTROL_SOURCE_MANIFEST)})`,
      present: () => existsSync(CONTROL_SOURCE_MANIFEST),
      provided: "it is part of the checkout (pcf/), which .ci/run tests as it is",
    };
    if (!prerequisitesMet("solution/test/pack (source manifest)", [sourceManifest])) return;
    const source = parseControlManifest(readFileSync(CONTROL_SOURCE_MANIFEST, "utf8"));
    expect(planForm("opportunity", source, OPPORTUNITY_COLUMNS).bindings).toEqual(planForm("opportunity", fixtureManifest(), OPPORTUNITY_COLUMNS).bindings);
  });
});

test("the committed solution/src/unpacked/ copy is what the generator writes (run `npm run generate -w solution`)", () => {
  expect(unpackedDrift()).toEqual([]);
});

test("a changed contract or manifest shows up as drift", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cosell-drift-"));
  try {
    const files = new Map([["solution.xml", "<a />\n"]]);
    writeFileSync(path.join(dir, "solution.xml"), "<b />\n");
    writeFileSync(path.join(dir, "old.xml"), "");
    expect(unpackedDrift(dir, files)).toEqual(["solution.xml (differs)", "old.xml (no longer generated)"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
