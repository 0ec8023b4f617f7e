/**
 * The manifest is what the solution binds the form to: names, types and version must hold still.
 */
import * as fs from "fs";
import * as path from "path";
import { OPPORTUNITY_COLUMNS, PCF_CONTROL, PRODUCT_VERSION, LeadColumn } from "@cosell/contract";
import { LEAD_PROPERTIES, PROPERTY_COLUMNS } from "../PartnerCenterSection/ManifestConstants";
import { BOUND_PROPERTIES } from "../PartnerCenterSection/inputsFromContext";
import { readResx } from "./support/resx";

const CONTROL_DIR = path.resolve(__dirname, "../PartnerCenterSection");
const manifest = fs.readFileSync(path.join(CONTROL_DIR, "ControlManifest.Input.xml"), "utf8");

interface ManifestProperty {
  name: string;
  ofType: string;
  usage: string;
  displayNameKey: string;
  descriptionKey: string | undefined;
}

const attr = (tag: string, name: string): string | undefined => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
const properties: ManifestProperty[] = Array.from(manifest.matchAll(/<property\s[^>]*>/g), (m) => ({
  name: attr(m[0], "name") as string,
  ofType: attr(m[0], "of-type") as string,
  usage: attr(m[0], "usage") as string,
  displayNameKey: attr(m[0], "display-name-key") as string,
  descriptionKey: attr(m[0], "description-key"),
}));
const control = /<control\s[^>]*>/.exec(manifest)?.[0] ?? "";

test("namespace, constructor and version come from the contract", () => {
  expect(attr(control, "namespace")).toBe(PCF_CONTROL.namespace);
  expect(attr(control, "constructor")).toBe(PCF_CONTROL.constructor);
  expect(attr(control, "version")).toBe(PRODUCT_VERSION);
  expect(attr(control, "control-type")).toBe("virtual");
});

test("platform libraries: React 16.14.0 and Fluent 9.46.2; WebAPI declared", () => {
  expect(manifest).toMatch(/<platform-library name="React" version="16.14.0"\s*\/>/);
  expect(manifest).toMatch(/<platform-library name="Fluent" version="9.46.2"\s*\/>/);
  expect(manifest).toMatch(/<uses-feature name="WebAPI" required="true"\s*\/>/);
});

test("the bound properties are exactly the ones the control reads, in the same order", () => {
  expect(properties.filter((p) => p.usage === "bound").map((p) => p.name)).toEqual(BOUND_PROPERTIES);
  expect(properties.filter((p) => p.usage === "input").map((p) => p.name)).toEqual(["formKind", "checkmarks"]);
});

test("each bound property's type fits its contract column", () => {
  const columns = new Map(OPPORTUNITY_COLUMNS.map((c) => [c.logicalName, c]));
  const expected = (kind: string, format?: string): string[] => {
    switch (kind) {
      case "boolean":
        return ["TwoOptions"];
      case "choice":
        return ["OptionSet"];
      case "datetime":
        return ["DateAndTime.DateAndTime"];
      case "memo":
        return ["Multiple"];
      default:
        return format === "url" ? ["SingleLine.URL"] : ["SingleLine.Text", "SingleLine.TextArea"];
    }
  };
  for (const p of properties.filter((x) => x.usage === "bound")) {
    const column = columns.get(PROPERTY_COLUMNS[p.name as keyof typeof PROPERTY_COLUMNS]);
    expect(column).toBeDefined();
    const type = column?.type;
    expect(expected(type?.kind ?? "", type?.kind === "text" ? type.format : undefined)).toContain(p.ofType);
  }
});

test("the lead properties are the contract's lead columns", () => {
  expect(LEAD_PROPERTIES.map((p) => PROPERTY_COLUMNS[p]).sort()).toEqual(Object.values(LeadColumn).sort());
});

describe("strings", () => {
  const english = readResx(1033);
  const italian = readResx(1040);

  test("1033 and 1040 have the same keys", () => {
    expect([...italian.keys()].sort()).toEqual([...english.keys()].sort());
  });

  test("every key the manifest uses exists", () => {
    const keys = [
      ...properties.flatMap((p) => [p.displayNameKey, p.descriptionKey]),
      attr(control, "display-name-key"),
      attr(control, "description-key"),
      ...Array.from(manifest.matchAll(/<value\s[^>]*display-name-key="([^"]+)"/g), (m) => m[1]),
    ].filter((k): k is string => Boolean(k));
    for (const key of keys) expect(english.has(key) ? key : `missing: ${key}`).toBe(key);
  });

  test("every key the views use exists, translated", () => {
    // StringKey is a const enum (inlined in the bundle), so its members are read from the source.
    const source = fs.readFileSync(path.join(CONTROL_DIR, "Strings.ts"), "utf8");
    const used = Array.from(source.matchAll(/^\s+\w+ = "(\w+)",$/gm), (m) => m[1] as string);
    expect(used.length).toBeGreaterThan(50);
    for (const key of used) {
      expect(english.has(key) ? key : `missing: ${key}`).toBe(key);
      expect(italian.get(key)).toBeTruthy();
    }
  });

  test("placeholders match between languages", () => {
    for (const [key, value] of english) {
      const holes = (s: string | undefined) => (s?.match(/\{\d+\}/g) ?? []).sort();
      expect([key, holes(italian.get(key))]).toEqual([key, holes(value)]);
    }
  });
});

test("the resx files the manifest lists exist", () => {
  for (const m of manifest.matchAll(/<resx path="([^"]+)"/g)) {
    expect(fs.existsSync(path.join(CONTROL_DIR, m[1] as string))).toBe(true);
  }
});
