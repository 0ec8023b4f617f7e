/**
 * Reads a PCF ControlManifest(.Input).xml: the control's identity, version and properties. The form
 * binding is generated from the properties, so the package follows the control's own manifest.
 */
import { XMLParser } from "fast-xml-parser";
import { z } from "zod";

export interface ControlProperty {
  readonly name: string;
  readonly ofType: string;
  readonly usage: "bound" | "input" | "output";
  readonly required: boolean;
  readonly defaultValue?: string;
  /** Enum values, when `of-type="Enum"`. */
  readonly enumValues: readonly string[];
}

export interface ControlManifest {
  readonly namespace: string;
  readonly constructor: string;
  readonly version: string;
  readonly controlType: string;
  readonly properties: readonly ControlProperty[];
  /** Resource paths (`code`, `resx`, `css`) as the manifest lists them. */
  readonly resources: readonly string[];
}

export class ControlManifestError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ControlManifestError";
  }
}

const attrs = z.record(z.string(), z.unknown());
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const PropertySchema = z.object({
  "@_name": z.string().min(1),
  "@_of-type": z.string().optional(),
  "@_of-type-group": z.string().optional(),
  "@_usage": z.enum(["bound", "input", "output"]),
  "@_required": z.enum(["true", "false"]).optional(),
  "@_default-value": z.string().optional(),
  value: z.unknown().optional(),
});

const ControlSchema = z.object({
  "@_namespace": z.string().min(1),
  "@_constructor": z.string().min(1),
  "@_version": z.string().min(1),
  "@_control-type": z.string().optional(),
  property: z.unknown().optional(),
  resources: attrs.optional(),
});

export function parseControlManifest(xml: string, source = "ControlManifest.xml"): ControlManifest {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", parseTagValue: false, parseAttributeValue: false });
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    throw new ControlManifestError(`${source}: not well-formed XML`, { cause: err });
  }
  const control = ControlSchema.safeParse((doc as { manifest?: { control?: unknown } }).manifest?.control);
  if (!control.success)
    throw new ControlManifestError(`${source}: manifest/control is missing namespace, constructor or version`, { cause: control.error });
  const c = control.data;
  const properties: ControlProperty[] = asArray(c.property as unknown[] | undefined).map((raw, i) => {
    const p = PropertySchema.safeParse(raw);
    if (!p.success) throw new ControlManifestError(`${source}: property #${i + 1} is malformed`, { cause: p.error });
    const values = asArray(p.data.value as unknown[] | undefined).map((v) =>
      typeof v === "string" ? v : String((v as Record<string, unknown>)["#text"] ?? ""),
    );
    return {
      name: p.data["@_name"],
      ofType: p.data["@_of-type"] ?? p.data["@_of-type-group"] ?? "",
      usage: p.data["@_usage"],
      required: p.data["@_required"] === "true",
      ...(p.data["@_default-value"] !== undefined ? { defaultValue: p.data["@_default-value"] } : {}),
      enumValues: values,
    };
  });
  const resources: string[] = [];
  for (const [kind, value] of Object.entries(c.resources ?? {})) {
    if (kind.startsWith("@_")) continue;
    for (const r of asArray(value as unknown[])) {
      const path = (r as Record<string, unknown>)["@_path"];
      if (typeof path === "string") resources.push(path);
    }
  }
  return {
    namespace: c["@_namespace"],
    constructor: c["@_constructor"],
    version: c["@_version"],
    controlType: c["@_control-type"] ?? "standard",
    properties,
    resources,
  };
}
