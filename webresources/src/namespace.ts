/**
 * Puts the handlers under a dotted global name (`CoSell.OpportunityForm`) without clobbering what
 * other libraries on the same form already put under `CoSell`.
 */
export function installHandlers(root: Record<string, unknown>, dottedName: string, handlers: Readonly<Record<string, unknown>>): void {
  let node = root;
  for (const part of dottedName.split(".")) {
    const existing = node[part];
    const next = typeof existing === "object" && existing !== null ? (existing as Record<string, unknown>) : {};
    node[part] = next;
    node = next;
  }
  Object.assign(node, handlers);
}
