/**
 * Small constructors for column and table metadata, so that the standard tables, the contract
 * provisioning and the solution import describe columns the same way.
 */
import { metadataId } from "./schema";
import type {
  AttributeMetadata,
  DateTimeBehavior,
  EntityMetadata,
  KeyMetadata,
  OptionMetadata,
  OptionSetMetadata,
  RequiredLevel,
} from "./types";

export interface ColumnOptions {
  readonly required?: RequiredLevel;
  readonly create?: boolean;
  readonly update?: boolean;
  readonly display?: string;
  readonly schemaName?: string;
  readonly custom?: boolean;
  readonly writeOnly?: boolean;
}

/** The owning table is filled in by `table()` (metadata ids depend on it). */
type Draft = Omit<AttributeMetadata, "metadataId"> & { metadataId?: string };

function base(logicalName: string, kind: AttributeMetadata["kind"], o: ColumnOptions = {}): Draft {
  return {
    logicalName,
    schemaName: o.schemaName ?? logicalName,
    kind,
    displayName: o.display ?? logicalName,
    requiredLevel: o.required ?? "None",
    isCustom: o.custom ?? false,
    validForCreate: o.create ?? true,
    validForUpdate: o.update ?? true,
    validForRead: true,
    ...(o.writeOnly ? { writeOnly: true } : {}),
  };
}

export const MONEY_MIN = -922337203685477;
export const MONEY_MAX = 922337203685477;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

export function optionSet(
  name: string,
  optionSetType: OptionSetMetadata["optionSetType"],
  options: OptionMetadata[],
  isGlobal = false,
  displayName = name,
): OptionSetMetadata {
  return { name, isGlobal, optionSetType, displayName, metadataId: metadataId("optionset", name), options };
}

const localChoice = (entity: string, column: string, type: OptionSetMetadata["optionSetType"], options: OptionMetadata[]) =>
  optionSet(`${entity}_${column}`, type, options);

export const col = {
  string: (name: string, maxLength: number, o: ColumnOptions & { format?: string } = {}): Draft => ({
    ...base(name, "string", o),
    maxLength,
    format: o.format ?? "text",
  }),
  memo: (name: string, maxLength: number, o: ColumnOptions = {}): Draft => ({
    ...base(name, "memo", o),
    maxLength,
    format: "textarea",
  }),
  int: (name: string, o: ColumnOptions & { min?: number; max?: number } = {}): Draft => ({
    ...base(name, "integer", o),
    minValue: o.min ?? INT_MIN,
    maxValue: o.max ?? INT_MAX,
  }),
  bigint: (name: string, o: ColumnOptions = {}): Draft => ({
    ...base(name, "bigint", o),
    minValue: Number.MIN_SAFE_INTEGER,
    maxValue: Number.MAX_SAFE_INTEGER,
  }),
  decimal: (name: string, o: ColumnOptions & { min?: number; max?: number; precision?: number } = {}): Draft => ({
    ...base(name, "decimal", o),
    minValue: o.min ?? -100000000000,
    maxValue: o.max ?? 100000000000,
    precision: o.precision ?? 2,
  }),
  double: (name: string, o: ColumnOptions & { min?: number; max?: number; precision?: number } = {}): Draft => ({
    ...base(name, "double", o),
    minValue: o.min ?? -100000000000,
    maxValue: o.max ?? 100000000000,
    precision: o.precision ?? 2,
  }),
  money: (name: string, o: ColumnOptions & { min?: number; max?: number } = {}): Draft => ({
    ...base(name, "money", o),
    minValue: o.min ?? MONEY_MIN,
    maxValue: o.max ?? MONEY_MAX,
    precision: 2,
  }),
  /** The read-only `<money>_base` column, in the organization's base currency. */
  moneyBase: (of: string): Draft => ({
    ...base(`${of}_base`, "money", { create: false, update: false }),
    minValue: MONEY_MIN,
    maxValue: MONEY_MAX,
    precision: 4,
    baseOf: of,
  }),
  uniqueidentifier: (name: string, o: ColumnOptions = {}): Draft => base(name, "uniqueidentifier", o),
  entityname: (name: string, o: ColumnOptions = {}): Draft => base(name, "entityname", o),
  datetime: (name: string, behavior: DateTimeBehavior = "UserLocal", o: ColumnOptions = {}): Draft => ({
    ...base(name, "datetime", o),
    dateTimeBehavior: behavior,
    format: behavior === "DateOnly" ? "date" : "datetime",
  }),
  /** A Yes/No column; `entity` names its local option set. */
  bool: (entity: string, name: string, defaultValue = false, labels: [string, string] = ["Yes", "No"], o: ColumnOptions = {}): Draft => ({
    ...base(name, "boolean", o),
    defaultValue,
    optionSet: localChoice(entity, name, "boolean", [
      { value: 1, label: labels[0] },
      { value: 0, label: labels[1] },
    ]),
  }),
  choice: (entity: string, name: string, options: Array<[number, string]>, o: ColumnOptions & { defaultValue?: number } = {}): Draft => ({
    ...base(name, "picklist", o),
    optionSet: localChoice(
      entity,
      name,
      "picklist",
      options.map(([value, label]) => ({ value, label })),
    ),
    ...(o.defaultValue !== undefined ? { defaultValue: o.defaultValue } : {}),
  }),
  globalChoice: (name: string, set: OptionSetMetadata, o: ColumnOptions = {}): Draft => ({
    ...base(name, "picklist", o),
    optionSet: set,
  }),
  lookup: (name: string, target: string, o: ColumnOptions & { navigation?: string } = {}): Draft => ({
    ...base(name, "lookup", o),
    targets: [target],
    navigation: { [target]: o.navigation ?? name },
  }),
  /** A lookup to more than one table: navigation `<name>_<target>` unless given. */
  polymorphic: (name: string, targets: string[], o: ColumnOptions & { navigation?: Record<string, string> } = {}): Draft => ({
    ...base(name, "lookup", o),
    targets,
    navigation: o.navigation ?? Object.fromEntries(targets.map((t) => [t, `${name}_${t}`])),
  }),
  customer: (name: string, o: ColumnOptions = {}): Draft => ({
    ...base(name, "customer", o),
    targets: ["account", "contact"],
    navigation: { account: `${name}_account`, contact: `${name}_contact` },
  }),
  owner: (): Draft => ({
    ...base("ownerid", "owner", { required: "SystemRequired" }),
    targets: ["systemuser", "team"],
    navigation: { systemuser: "ownerid", team: "ownerid" },
  }),
  virtual: (name: string): Draft => base(name, "virtual", { create: false, update: false }),
};

export interface TableSpec {
  readonly logicalName: string;
  readonly entitySetName: string;
  readonly displayName: string;
  readonly displayCollectionName: string;
  readonly objectTypeCode: number;
  readonly primaryIdAttribute?: string;
  readonly primaryName?: Draft;
  readonly ownership?: EntityMetadata["ownership"];
  readonly isCustom?: boolean;
  readonly schemaName?: string;
  /** [value, label, defaultStatus]; default Active(0)/Inactive(1). `false` for a table without state. */
  readonly states?: Array<[number, string, number]> | false;
  /** [value, label, state]. */
  readonly statuses?: Array<[number, string, number]>;
  readonly columns: Draft[];
  readonly keys?: Array<{ name: string; attributes: string[]; display?: string }>;
  /** Omit createdon/modifiedon/createdby/modifiedby/versionnumber (never for real tables). */
  readonly noAudit?: boolean;
}

export function finishAttribute(entity: string, d: Draft): AttributeMetadata {
  return { ...d, metadataId: d.metadataId ?? metadataId("attribute", entity, d.logicalName) };
}

export function key(entity: string, name: string, attributes: readonly string[], display = name, schemaName = name): KeyMetadata {
  return { logicalName: name, schemaName, displayName: display, attributes, metadataId: metadataId("key", entity, name) };
}

/** Builds a table with its system columns: primary key, audit columns, owner and state/status. */
export function table(spec: TableSpec): EntityMetadata {
  const e = spec.logicalName;
  const pk = spec.primaryIdAttribute ?? `${e}id`;
  const drafts: Draft[] = [];
  drafts.push({ ...col.uniqueidentifier(pk, { update: false }), kind: "uniqueidentifier", isPrimaryId: true });
  if (spec.primaryName) drafts.push({ ...spec.primaryName, isPrimaryName: true });
  drafts.push(...spec.columns);
  if (!spec.noAudit) {
    drafts.push(
      col.datetime("createdon", "UserLocal", { create: false, update: false }),
      col.datetime("modifiedon", "UserLocal", { create: false, update: false }),
      col.lookup("createdby", "systemuser", { create: false, update: false }),
      col.lookup("modifiedby", "systemuser", { create: false, update: false }),
      col.lookup("createdonbehalfby", "systemuser", { create: false, update: false }),
      col.lookup("modifiedonbehalfby", "systemuser", { create: false, update: false }),
      col.bigint("versionnumber", { create: false, update: false }),
      col.datetime("overriddencreatedon", "UserLocal", { update: false }),
    );
  }
  const ownership = spec.ownership ?? "UserOwned";
  if (ownership === "UserOwned") {
    drafts.push(col.owner(), col.lookup("owningbusinessunit", "businessunit", { create: false, update: false }));
    drafts.push(col.lookup("owninguser", "systemuser", { create: false, update: false }));
  }
  if (spec.states !== false) {
    const states = spec.states ?? [
      [0, "Active", 1],
      [1, "Inactive", 2],
    ];
    const statuses = spec.statuses ?? [
      [1, "Active", 0],
      [2, "Inactive", 1],
    ];
    drafts.push({
      ...base("statecode", "state", { required: "SystemRequired" }),
      optionSet: localChoice(
        e,
        "statecode",
        "state",
        states.map(([value, label, defaultStatus]) => ({ value, label, defaultStatus })),
      ),
    });
    drafts.push({
      ...base("statuscode", "status"),
      optionSet: localChoice(
        e,
        "statuscode",
        "status",
        statuses.map(([value, label, state]) => ({ value, label, state })),
      ),
    });
  }
  const attributes = new Map<string, AttributeMetadata>();
  for (const d of drafts) attributes.set(d.logicalName, finishAttribute(e, d));
  const keys = new Map<string, KeyMetadata>();
  for (const k of spec.keys ?? []) keys.set(k.name, key(e, k.name, k.attributes, k.display));
  return {
    logicalName: e,
    schemaName: spec.schemaName ?? e,
    entitySetName: spec.entitySetName,
    primaryIdAttribute: pk,
    ...(spec.primaryName ? { primaryNameAttribute: spec.primaryName.logicalName } : {}),
    displayName: spec.displayName,
    displayCollectionName: spec.displayCollectionName,
    isCustom: spec.isCustom ?? false,
    ownership,
    objectTypeCode: spec.objectTypeCode,
    metadataId: metadataId("entity", e),
    attributes,
    keys,
  };
}
