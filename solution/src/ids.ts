/**
 * Stable component ids. Dataverse matches a form cell, a web resource or a role across upgrades by
 * its id, so every id we emit is derived from a name (RFC 4122 version 5, SHA-1) rather than
 * random: the same name gives the same id in every build and every version.
 */
import { createHash } from "node:crypto";

/** Our namespace for name-based ids (itself a v5 id of "PartnerCenterCoSell" in the URL namespace). */
const NAMESPACE = "4b0c3c8e-6a3f-5d0e-9f7a-2c1d5e8b9a61";

function namespaceBytes(): Buffer {
  return Buffer.from(NAMESPACE.replace(/-/g, ""), "hex");
}

/** A lower-case UUID without braces, stable for `name`. */
export function stableGuid(name: string): string {
  const hash = createHash("sha1").update(namespaceBytes()).update(name, "utf8").digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `{…}` as forms and customizations.xml write ids. */
export function braced(guid: string): string {
  return `{${guid}}`;
}
