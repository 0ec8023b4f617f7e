/** `.resx` → key/value, what the platform's `context.resources.getString` serves. */
const ENTITIES: Readonly<Record<string, string>> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'" };

export function parseResx(xml: string): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const m of xml.matchAll(/<data\s+name="([^"]+)"[^>]*>\s*<value>([\s\S]*?)<\/value>/g)) {
    strings[m[1] as string] = (m[2] as string).replace(/&(amp|lt|gt|quot|apos);/g, (e) => ENTITIES[e] ?? e);
  }
  return strings;
}
