/**
 * The emulated environment's schema: tables by logical and entity-set name, global choices and
 * one-to-many relationships. Mutated only by the table declarations, contract provisioning and
 * solution import; listeners (the record store's key indexes, the sdkmessagefilter rows) hear of
 * every new table and key.
 */
import { createHash } from "node:crypto";
import type {
  AttributeMetadata,
  EntityMetadata,
  KeyMetadata,
  OptionSetMetadata,
  RelationshipMetadata,
} from "./types";

/** Stable GUID-shaped metadata id from a name, so metadata ids survive a reset. */
export function metadataId(...parts: string[]): string {
  const h = createHash("sha1").update(parts.join("|")).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface SchemaListener {
  entityAdded?(entity: EntityMetadata): void;
  keyAdded?(entity: EntityMetadata, key: KeyMetadata): void;
}

/** `EntityKeyMetadata.EntityKeyIndexStatus`: an imported key's index is built by a system job. */
export type KeyIndexStatus = "Pending" | "InProgress" | "Active" | "Failed";

export class Schema {
  /** Keys whose index is not (yet) Active; absent means Active. */
  private readonly keyStatuses = new Map<string, KeyIndexStatus>();
  private readonly byLogicalName = new Map<string, EntityMetadata>();
  private readonly bySetName = new Map<string, EntityMetadata>();
  readonly globalOptionSets = new Map<string, OptionSetMetadata>();
  private readonly relationships = new Map<string, RelationshipMetadata>();
  private readonly listeners: SchemaListener[] = [];
  private nextObjectTypeCode = 10_000;

  listen(listener: SchemaListener): void {
    this.listeners.push(listener);
  }

  entities(): IterableIterator<EntityMetadata> {
    return this.byLogicalName.values();
  }

  entity(logicalName: string): EntityMetadata | undefined {
    return this.byLogicalName.get(logicalName.toLowerCase());
  }

  /** Entity set names are case-sensitive in the Web API. */
  entityBySet(entitySetName: string): EntityMetadata | undefined {
    return this.bySetName.get(entitySetName);
  }

  requireEntity(logicalName: string): EntityMetadata {
    const e = this.entity(logicalName);
    if (!e) throw new Error(`table '${logicalName}' is not defined in the emulated schema`);
    return e;
  }

  allocateObjectTypeCode(): number {
    return this.nextObjectTypeCode++;
  }

  addEntity(entity: EntityMetadata): EntityMetadata {
    const existing = this.byLogicalName.get(entity.logicalName);
    if (existing) return existing;
    this.byLogicalName.set(entity.logicalName, entity);
    this.bySetName.set(entity.entitySetName, entity);
    for (const l of this.listeners) l.entityAdded?.(entity);
    for (const key of entity.keys.values()) for (const l of this.listeners) l.keyAdded?.(entity, key);
    return entity;
  }

  /** Adds or replaces a column (an upgrade may widen a text column or add options). */
  putAttribute(entityName: string, attribute: AttributeMetadata): void {
    const entity = this.requireEntity(entityName);
    entity.attributes.set(attribute.logicalName, attribute);
  }

  addKey(entityName: string, key: KeyMetadata): void {
    const entity = this.requireEntity(entityName);
    if (entity.keys.has(key.logicalName)) return;
    for (const a of key.attributes)
      if (!entity.attributes.has(a))
        throw new Error(`key ${key.logicalName}: column '${a}' does not exist on table '${entityName}'`);
    entity.keys.set(key.logicalName, key);
    for (const l of this.listeners) l.keyAdded?.(entity, key);
  }

  keyIndexStatus(entityName: string, keyName: string): KeyIndexStatus {
    return this.keyStatuses.get(`${entityName.toLowerCase()}|${keyName.toLowerCase()}`) ?? "Active";
  }

  setKeyIndexStatus(entityName: string, keyName: string, status: KeyIndexStatus): void {
    const id = `${entityName.toLowerCase()}|${keyName.toLowerCase()}`;
    if (status === "Active") this.keyStatuses.delete(id);
    else this.keyStatuses.set(id, status);
  }

  /** Adds a global choice, or merges new options into an existing one (keeping the same object). */
  putGlobalOptionSet(optionSet: OptionSetMetadata): OptionSetMetadata {
    const existing = this.globalOptionSets.get(optionSet.name.toLowerCase());
    if (!existing) {
      this.globalOptionSets.set(optionSet.name.toLowerCase(), optionSet);
      return optionSet;
    }
    for (const o of optionSet.options) {
      const i = existing.options.findIndex((x) => x.value === o.value);
      if (i >= 0) existing.options[i] = o;
      else existing.options.push(o);
    }
    return existing;
  }

  globalOptionSet(name: string): OptionSetMetadata | undefined {
    return this.globalOptionSets.get(name.toLowerCase());
  }

  addRelationship(rel: RelationshipMetadata): void {
    this.relationships.set(rel.schemaName, rel);
  }

  /** The one-to-many relationship whose collection navigation property on `entity` is `navigation`. */
  collectionNavigation(entity: string, navigation: string): RelationshipMetadata | undefined {
    for (const r of this.relationships.values())
      if (r.referencedEntity === entity && r.referencedNavigation === navigation) return r;
    return undefined;
  }

}

/** The column and target a `<nav>@odata.bind` or `$expand=<nav>` names on `entity`. */
export function findNavigation(
  entity: EntityMetadata,
  navigation: string,
): { attribute: AttributeMetadata; target: string } | undefined {
  for (const a of entity.attributes.values()) {
    if (!a.navigation) continue;
    for (const [target, nav] of Object.entries(a.navigation)) if (nav === navigation) return { attribute: a, target };
  }
  return undefined;
}
