/**
 * The emulator's one metadata model: tables, columns, choices, keys and relationships. The standard
 * tables are declared in this model (standard-tables.ts), the contract provisioning and the solution
 * import extend it, and every request is validated against it.
 */

/** Column kinds, named after Dataverse's AttributeTypeCode (lower case). */
export type AttributeKind =
  | "uniqueidentifier"
  | "string"
  | "memo"
  | "integer"
  | "bigint"
  | "decimal"
  | "double"
  | "money"
  | "boolean"
  | "datetime"
  | "picklist"
  | "multiselectpicklist"
  | "state"
  | "status"
  | "lookup"
  | "customer"
  | "owner"
  | "entityname"
  | "virtual";

export interface OptionMetadata {
  readonly value: number;
  readonly label: string;
  /** For a status reason: the statecode it belongs to. */
  readonly state?: number;
  /** For a state option: its default status reason. */
  readonly defaultStatus?: number;
}

export interface OptionSetMetadata {
  readonly name: string;
  readonly isGlobal: boolean;
  readonly optionSetType: "picklist" | "boolean" | "state" | "status";
  readonly displayName: string;
  readonly metadataId: string;
  options: OptionMetadata[];
}

export type DateTimeBehavior = "UserLocal" | "DateOnly" | "TimeZoneIndependent";

export type RequiredLevel = "None" | "Recommended" | "ApplicationRequired" | "SystemRequired";

export interface AttributeMetadata {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly kind: AttributeKind;
  readonly displayName: string;
  readonly metadataId: string;
  readonly requiredLevel: RequiredLevel;
  readonly isCustom: boolean;
  readonly isPrimaryId?: boolean;
  readonly isPrimaryName?: boolean;
  readonly validForCreate: boolean;
  readonly validForUpdate: boolean;
  readonly validForRead: boolean;
  /** Accepted on write, never returned on read (serviceendpoint.authvalue). */
  readonly writeOnly?: boolean;
  readonly maxLength?: number;
  /** text | textarea | email | url | phone | … (string); date | datetime (datetime). */
  readonly format?: string;
  readonly minValue?: number;
  readonly maxValue?: number;
  readonly precision?: number;
  readonly dateTimeBehavior?: DateTimeBehavior;
  /** Choices, Yes/No, state and status: the resolved option set (shared object for a global one). */
  readonly optionSet?: OptionSetMetadata;
  readonly defaultValue?: number | boolean;
  /** Lookups: target tables, in the order Dataverse lists them. */
  readonly targets?: readonly string[];
  /**
   * Lookups: single-valued navigation property per target, as `@odata.bind` and `$expand` spell it
   * (`customerid_account`, `transactioncurrencyid`, `EnvironmentVariableDefinitionId`).
   */
  readonly navigation?: Readonly<Record<string, string>>;
  /** The `_base` money column this one feeds, or the money column a `_base` column derives from. */
  readonly baseOf?: string;
}

export interface KeyMetadata {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly displayName: string;
  readonly attributes: readonly string[];
  readonly metadataId: string;
}

/** A one-to-many relationship: `referencingEntity.referencingAttribute` → `referencedEntity`. */
export interface RelationshipMetadata {
  readonly schemaName: string;
  readonly referencedEntity: string;
  readonly referencedAttribute: string;
  readonly referencingEntity: string;
  readonly referencingAttribute: string;
  /** Collection-valued navigation property on the referenced (one) side. */
  readonly referencedNavigation: string;
}

export interface EntityMetadata {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly entitySetName: string;
  readonly primaryIdAttribute: string;
  readonly primaryNameAttribute?: string;
  readonly displayName: string;
  readonly displayCollectionName: string;
  readonly isCustom: boolean;
  readonly ownership: "UserOwned" | "OrganizationOwned" | "None";
  readonly objectTypeCode: number;
  readonly metadataId: string;
  readonly attributes: Map<string, AttributeMetadata>;
  readonly keys: Map<string, KeyMetadata>;
}

export const LOOKUP_KINDS: ReadonlySet<AttributeKind> = new Set(["lookup", "customer", "owner"]);

export function isLookup(a: AttributeMetadata): boolean {
  return LOOKUP_KINDS.has(a.kind);
}

/** `_customerid_value` ⇄ `customerid`. */
export const lookupValueProperty = (logicalName: string): string => `_${logicalName}_value`;
export function lookupFromValueProperty(property: string): string | undefined {
  const m = /^_(.+)_value$/.exec(property);
  return m?.[1];
}
