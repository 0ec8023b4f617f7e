/** Reads the control's .resx files the way the platform's context.resources.getString would. */
import * as fs from "fs";
import * as path from "path";

export const STRINGS_DIR = path.resolve(__dirname, "../../PartnerCenterSection/strings");

const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'" };

export function readResx(lcid: number): Map<string, string> {
  const xml = fs.readFileSync(path.join(STRINGS_DIR, `PartnerCenterSection.${lcid}.resx`), "utf8");
  const strings = new Map<string, string>();
  for (const m of xml.matchAll(/<data name="([^"]+)"[^>]*>\s*<value>([\s\S]*?)<\/value>\s*<\/data>/g)) {
    strings.set(m[1] as string, (m[2] as string).replace(/&(amp|lt|gt|quot|apos);/g, (e) => ENTITIES[e] ?? e));
  }
  return strings;
}
