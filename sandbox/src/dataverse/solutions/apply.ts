/**
 * Applies what a solution zip carries (`SolutionContents`, from the solution reader) to the emulated
 * environment: tables, columns, choices, keys, environment variables, web resources, custom
 * controls, forms, roles, and the solution and publisher rows. Managed/unmanaged mismatches and
 * managed downgrades fail as Dataverse fails them; a higher version upgrades in place (components
 * are added or updated, none removed).
 */
import { DataverseError } from "../errors";
import { createRecord, updateRecord, type WriteScope } from "../data/operations";
import type { Row, StoredValue } from "../data/store";
import { col, finishAttribute, key as makeKey, optionSet, table } from "../metadata/columns";
import { metadataId } from "../metadata/schema";
import type { AttributeMetadata, DateTimeBehavior, EntityMetadata, OptionMetadata, OptionSetMetadata, RequiredLevel } from "../metadata/types";
import type { Organization } from "../org";
import type {
  AttributeDefinition,
  EntityDefinition,
  LocalizedLabel,
  OptionSetDefinition,
  SolutionContents,
} from "../solution-reader/types";

export class SolutionImportError extends DataverseError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(400, code, message, {}, options);
    this.name = "SolutionImportError";
  }
}

export interface EnvironmentVariableParameter {
  readonly schemaname: string;
  readonly value: string;
  readonly environmentvariablevalueid?: string;
}

export interface ImportSummary {
  readonly solutionId: string;
  readonly action: "install" | "upgrade" | "update";
  readonly entities: string[];
  readonly attributes: number;
  readonly optionSets: string[];
  readonly environmentVariables: string[];
  readonly webResources: string[];
  readonly customControls: string[];
  readonly forms: number;
  readonly roles: string[];
  readonly warnings: string[];
}

const pick = (labels: readonly LocalizedLabel[], fallback: string): string =>
  labels.find((l) => l.languageCode === 1033)?.label ?? labels[0]?.label ?? fallback;

export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number(x) || 0);
  const pb = b.split(".").map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** English plural as Dataverse derives an entity set name: `sample_product` → `sample_products`. */
export function pluralise(name: string): string {
  if (/[^aeiou]y$/.test(name)) return `${name.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(name)) return `${name}es`;
  return `${name}s`;
}

function convertOptionSet(def: OptionSetDefinition, fallbackType: OptionSetMetadata["optionSetType"]): OptionSetMetadata {
  const type: OptionSetMetadata["optionSetType"] =
    def.optionSetType === "bit" ? "boolean" : def.optionSetType === "state" ? "state" : def.optionSetType === "status" ? "status" : fallbackType;
  const options: OptionMetadata[] = def.options.map((o) => ({
    value: o.value,
    label: pick(o.labels, String(o.value)),
    ...(o.state !== undefined ? { state: o.state } : {}),
  }));
  return optionSet(def.name, type, options, def.isGlobal, pick(def.displayNames, def.name));
}

const REQUIRED: Record<string, RequiredLevel> = {
  none: "None",
  recommended: "Recommended",
  applicationrequired: "ApplicationRequired",
  systemrequired: "SystemRequired",
};

const BEHAVIOR: Record<number, DateTimeBehavior> = { 1: "UserLocal", 2: "DateOnly", 3: "TimeZoneIndependent" };

/** One exported column as emulator metadata, or undefined for kinds the emulator does not store. */
function convertAttribute(org: Organization, entity: EntityDefinition, def: AttributeDefinition, exists: (name: string) => boolean): AttributeMetadata | undefined {
  const e = entity.logicalName;
  const common = {
    schemaName: def.schemaName,
    display: pick(def.displayNames, def.logicalName),
    required: REQUIRED[(def.requiredLevel ?? "none").toLowerCase()] ?? "None",
    custom: def.isCustomField,
  };
  let draft: Parameters<typeof finishAttribute>[1] | undefined;
  const range = { ...(def.minValue !== undefined ? { min: def.minValue } : {}), ...(def.maxValue !== undefined ? { max: def.maxValue } : {}) };
  switch (def.type) {
    case "nvarchar":
      draft = col.string(def.logicalName, def.maxLength ?? 100, { ...common, format: def.format ?? "text" });
      break;
    case "ntext":
      draft = col.memo(def.logicalName, def.maxLength ?? 2000, common);
      break;
    case "bit": {
      const os = def.optionSet ? convertOptionSet(def.optionSet, "boolean") : undefined;
      const yes = os?.options.find((o) => o.value === 1)?.label ?? "Yes";
      const no = os?.options.find((o) => o.value === 0)?.label ?? "No";
      draft = col.bool(e, def.logicalName, def.defaultValue === 1, [yes, no], common);
      break;
    }
    case "picklist":
    case "multiselectpicklist": {
      const global = def.globalOptionSetName ? org.schema.globalOptionSet(def.globalOptionSetName) : undefined;
      const os = global ?? (def.optionSet ? convertOptionSet(def.optionSet, "picklist") : undefined);
      if (!os) {
        // A column on a system global choice not in the package: values are not checked.
        draft = col.int(def.logicalName, common);
        break;
      }
      draft = { ...col.globalChoice(def.logicalName, os, common), kind: def.type === "picklist" ? "picklist" : "multiselectpicklist" };
      if (def.defaultValue !== undefined && def.defaultValue !== -1) draft = { ...draft, defaultValue: def.defaultValue };
      break;
    }
    case "state":
    case "status":
      return undefined; // table() builds them; replaced below from the export's option sets
    case "datetime": {
      const behavior = BEHAVIOR[def.dateTimeBehavior ?? 1] ?? "UserLocal";
      draft = col.datetime(def.logicalName, behavior, common);
      break;
    }
    case "money":
      if (def.logicalName.endsWith("_base") && exists(def.logicalName.slice(0, -5))) draft = { ...col.moneyBase(def.logicalName.slice(0, -5)), schemaName: def.schemaName };
      else draft = col.money(def.logicalName, { ...common, ...range });
      break;
    case "decimal":
      draft = col.decimal(def.logicalName, { ...common, ...range, ...(def.precision !== undefined ? { precision: def.precision } : {}) });
      break;
    case "float":
      draft = col.double(def.logicalName, { ...common, ...range, ...(def.precision !== undefined ? { precision: def.precision } : {}) });
      break;
    case "int":
      draft = col.int(def.logicalName, { ...common, ...range });
      break;
    case "bigint":
      draft = col.bigint(def.logicalName, common);
      break;
    case "uniqueidentifier":
      draft = col.uniqueidentifier(def.logicalName, common);
      break;
    case "lookup": {
      const targets = def.lookupTargets && def.lookupTargets.length > 0 ? [...def.lookupTargets] : guessTarget(org, def.logicalName);
      if (targets.length === 0) return undefined;
      const nav = def.isCustomField ? def.schemaName : def.logicalName;
      draft =
        targets.length === 1
          ? col.lookup(def.logicalName, targets[0]!, { ...common, navigation: nav })
          : col.polymorphic(def.logicalName, targets, common);
      break;
    }
    case "customer":
      draft = col.customer(def.logicalName, common);
      break;
    case "owner":
      draft = col.owner();
      break;
    default:
      return undefined; // primarykey (table() makes it), image, file, …
  }
  return finishAttribute(e, draft);
}

function guessTarget(org: Organization, logicalName: string): string[] {
  const base = logicalName.replace(/id$/, "");
  return org.schema.entity(base) ? [base] : [];
}

/** `owneridname`, `owneridtype`, `owneridyominame`: logical helper columns of a lookup, not stored. */
function isLookupHelper(name: string, entity: EntityDefinition): boolean {
  const m = /^(.+)(name|yominame|type)$/.exec(name);
  if (!m) return false;
  const lookup = entity.attributes.find((a) => a.logicalName === m[1]);
  return lookup !== undefined && ["lookup", "owner", "customer"].includes(lookup.type);
}

function stateOptions(def: EntityDefinition): { states?: Array<[number, string, number]>; statuses?: Array<[number, string, number]> } {
  const state = def.attributes.find((a) => a.type === "state")?.optionSet;
  const status = def.attributes.find((a) => a.type === "status")?.optionSet;
  if (!state || !status || state.options.length === 0 || status.options.length === 0) return {};
  const statuses: Array<[number, string, number]> = status.options.map((o) => [o.value, pick(o.labels, String(o.value)), o.state ?? 0]);
  const states: Array<[number, string, number]> = state.options.map((o) => [
    o.value,
    pick(o.labels, String(o.value)),
    statuses.find((s) => s[2] === o.value)?.[0] ?? o.value + 1,
  ]);
  return { states, statuses };
}

function applyEntity(org: Organization, def: EntityDefinition, summary: { attributes: number; warnings: string[] }): EntityMetadata {
  let entity = org.schema.entity(def.logicalName);
  if (!entity) {
    if (!def.isCustomEntity) {
      summary.warnings.push(`table '${def.logicalName}' is carried as a shell but is not part of the emulated system tables; it was created.`);
    }
    const primaryName = def.attributes.find((a) => a.logicalName === def.primaryNameAttribute);
    const ownership = (def.ownershipType ?? "UserOwned").toLowerCase().startsWith("org") ? "OrganizationOwned" : (def.ownershipType ?? "UserOwned").toLowerCase() === "none" ? "None" : "UserOwned";
    entity = table({
      logicalName: def.logicalName,
      schemaName: def.schemaName,
      entitySetName: def.entitySetName ?? pluralise(def.logicalName),
      displayName: pick(def.displayNames, def.schemaName),
      displayCollectionName: pick(def.displayCollectionNames, pluralise(def.schemaName)),
      objectTypeCode: org.schema.allocateObjectTypeCode(),
      primaryIdAttribute: def.primaryIdAttribute ?? `${def.logicalName}id`,
      ...(primaryName
        ? {
            primaryName: col.string(primaryName.logicalName, primaryName.maxLength ?? 100, {
              schemaName: primaryName.schemaName,
              display: pick(primaryName.displayNames, primaryName.logicalName),
              required: "ApplicationRequired",
              custom: true,
            }),
          }
        : {}),
      ownership,
      isCustom: def.isCustomEntity,
      ...stateOptions(def),
      columns: [],
    });
    org.schema.addEntity(entity);
  }
  const target = entity;
  for (const a of def.attributes) {
    if (isLookupHelper(a.logicalName, def)) continue;
    const existing = target.attributes.get(a.logicalName);
    // System columns the emulator already models keep the emulator's metadata.
    if (existing && !existing.isCustom && !a.isCustomField) continue;
    const converted = convertAttribute(org, def, a, (n) => target.attributes.has(n) || def.attributes.some((x) => x.logicalName === n));
    if (!converted) continue;
    org.schema.putAttribute(target.logicalName, converted);
    summary.attributes++;
  }
  if (target.attributes.has("transactioncurrencyid") && !target.attributes.has("exchangerate"))
    org.schema.putAttribute(target.logicalName, finishAttribute(target.logicalName, col.decimal("exchangerate", { create: false, update: false, precision: 10 })));
  for (const k of def.keys) {
    const missing = k.attributes.filter((a) => !target.attributes.has(a));
    if (missing.length > 0) {
      summary.warnings.push(`key '${k.logicalName}' on '${target.logicalName}' names unknown columns ${missing.join(", ")}; skipped.`);
      continue;
    }
    if (target.keys.has(k.logicalName)) continue;
    org.schema.addKey(target.logicalName, makeKey(target.logicalName, k.logicalName, k.attributes, pick(k.displayNames, k.logicalName)));
    org.startKeyIndexJob(target.logicalName, k.logicalName);
  }
  return target;
}

/** Finds a row by one column value (case-insensitive for text), or undefined. */
function findBy(org: Organization, entity: string, column: string, value: string): Row | undefined {
  for (const id of org.store.idsWhereEquals(entity, column, value)) {
    const row = org.row(entity, id);
    if (row) return row;
  }
  return undefined;
}

function upsert(org: Organization, scope: WriteScope, entityName: string, existing: Row | undefined, values: Record<string, StoredValue>): string {
  const entity = org.entity(entityName);
  if (existing) {
    const id = existing[entity.primaryIdAttribute] as string;
    updateRecord(org, scope, entity, id, values, { record: false });
    return id;
  }
  return createRecord(org, scope, entity, values, { record: false }).id;
}

/**
 * Dataverse gives every table it creates the primary key `<table>id`; a column of the package that
 * takes that name cannot be created beside it, and the import fails before anything is applied
 * (the code and wording are our reading; see docs/decisions.md, "catalogue primary key").
 */
function refuseColumnsNamedLikeThePrimaryKey(contents: SolutionContents): void {
  for (const e of contents.entities) {
    const primaryKey = `${e.logicalName}id`;
    const clash = e.attributes.find((a) => a.type !== "primarykey" && a.logicalName === primaryKey && (e.isCustomEntity || a.isCustomField));
    if (clash)
      throw new SolutionImportError(
        "0x80044363",
        `Solution manifest import: FAILURE: The column '${clash.logicalName}' cannot be created on table '${e.logicalName}': an attribute with this name already exists, the table's primary key '${primaryKey}'. Rename the column in the solution and import it again.`,
      );
  }
}

const FORM_TYPES: Record<string, number> = { main: 2, mobile: 5, quick: 6, quickcreate: 7, card: 11, dashboard: 0 };

export function applySolution(
  org: Organization,
  scope: WriteScope,
  contents: SolutionContents,
  options: { environmentVariableValues?: readonly EnvironmentVariableParameter[] } = {},
): ImportSummary {
  const existing = findBy(org, "solution", "uniquename", contents.uniqueName);
  let action: ImportSummary["action"] = "install";
  if (existing) {
    const wasManaged = existing.ismanaged === true;
    if (!wasManaged && contents.managed)
      throw new SolutionImportError(
        "0x80048040",
        "Solution manifest import: FAILURE: The solution is already installed on this system as an unmanaged solution and the package supplied is attempting to install it in managed mode. Import can only update solutions when the modes match. Uninstall the current solution and try again.",
      );
    if (wasManaged && !contents.managed)
      throw new SolutionImportError(
        "0x80048041",
        "Solution manifest import: FAILURE: The solution is already installed on this system as a managed solution and the package supplied is attempting to install it in unmanaged mode. Import can only update solutions when the modes match. Uninstall the current solution and try again.",
      );
    const installed = typeof existing.version === "string" ? existing.version : "0.0.0.0";
    const cmp = compareVersions(contents.version, installed);
    if (wasManaged && cmp < 0)
      throw new SolutionImportError(
        "0x80048033",
        `Solution manifest import: FAILURE: The solution '${contents.uniqueName}' version ${contents.version} is older than the installed version ${installed}. Import a version equal to or higher than the installed one.`,
      );
    action = cmp > 0 ? "upgrade" : "update";
  }

  refuseColumnsNamedLikeThePrimaryKey(contents);

  const summary = { attributes: 0, warnings: [] as string[] };
  const publisherRow = findBy(org, "publisher", "uniquename", contents.publisher.uniqueName);
  const publisherId = upsert(org, scope, "publisher", publisherRow, {
    uniquename: contents.publisher.uniqueName,
    friendlyname: contents.publisher.uniqueName,
    customizationprefix: contents.publisher.customizationPrefix,
    ...(contents.publisher.optionValuePrefix !== undefined ? { customizationoptionvalueprefix: contents.publisher.optionValuePrefix } : {}),
  });

  for (const os of contents.optionSets) org.schema.putGlobalOptionSet(convertOptionSet(os, "picklist"));
  // Custom tables first, so that lookups between them resolve their targets.
  const ordered = [...contents.entities].sort((a, b) => Number(b.isCustomEntity) - Number(a.isCustomEntity));
  const entities = ordered.map((e) => applyEntity(org, e, summary).logicalName);

  const valueParams = new Map((options.environmentVariableValues ?? []).map((p) => [p.schemaname.toLowerCase(), p]));
  for (const v of contents.environmentVariables) {
    const defRow = findBy(org, "environmentvariabledefinition", "schemaname", v.schemaName);
    const defId = upsert(org, scope, "environmentvariabledefinition", defRow, {
      schemaname: v.schemaName,
      displayname: v.displayName.slice(0, 100),
      description: v.description ?? null,
      type: v.type,
      defaultvalue: v.defaultValue ?? null,
      isrequired: v.isRequired,
    });
    const param = valueParams.get(v.schemaName.toLowerCase());
    const value = param?.value ?? v.value?.value;
    if (value === undefined) continue;
    const valueRow = findBy(org, "environmentvariablevalue", "schemaname", v.schemaName);
    upsert(org, scope, "environmentvariablevalue", valueRow, {
      ...(valueRow ? {} : { environmentvariablevalueid: (param?.environmentvariablevalueid ?? v.value?.id ?? metadataId("envvalue", v.schemaName)).toLowerCase() }),
      schemaname: v.schemaName,
      value,
      environmentvariabledefinitionid: { entity: "environmentvariabledefinition", id: defId },
    });
  }
  // A ComponentParameters value for a variable defined earlier (not in this package) still applies.
  for (const [schemaName, p] of valueParams) {
    if (contents.environmentVariables.some((v) => v.schemaName.toLowerCase() === schemaName)) continue;
    const defRow = findBy(org, "environmentvariabledefinition", "schemaname", p.schemaname);
    if (!defRow) {
      summary.warnings.push(`ComponentParameters names environment variable '${p.schemaname}', which is not defined.`);
      continue;
    }
    const valueRow = findBy(org, "environmentvariablevalue", "schemaname", p.schemaname);
    upsert(org, scope, "environmentvariablevalue", valueRow, {
      schemaname: p.schemaname,
      value: p.value,
      environmentvariabledefinitionid: { entity: "environmentvariabledefinition", id: defRow.environmentvariabledefinitionid as string },
    });
  }

  for (const w of contents.webResources) {
    const row = findBy(org, "webresource", "name", w.name);
    upsert(org, scope, "webresource", row, {
      ...(row ? {} : { webresourceid: w.id.replace(/[{}]/g, "").toLowerCase() }),
      name: w.name,
      displayname: (w.displayName ?? w.name).slice(0, 200),
      webresourcetype: w.webResourceType,
      content: w.content ? Buffer.from(w.content).toString("base64") : null,
    });
  }
  for (const c of contents.customControls) {
    const row = findBy(org, "customcontrol", "name", c.name);
    const version = /\bversion="([^"]+)"/.exec(c.manifestXml)?.[1] ?? null;
    upsert(org, scope, "customcontrol", row, { name: c.name, manifest: c.manifestXml, version });
  }
  for (const f of contents.forms) {
    const id = f.formId.replace(/[{}]/g, "").toLowerCase();
    const row = org.row("systemform", id);
    upsert(org, scope, "systemform", row, {
      ...(row ? {} : { formid: id }),
      name: (f.name ?? f.formType).slice(0, 100),
      objecttypecode: f.entity,
      type: FORM_TYPES[f.formType.toLowerCase()] ?? 2,
      formxml: f.formXml,
    });
  }
  for (const r of contents.roles) {
    const row = findBy(org, "role", "name", r.name);
    const roleId = upsert(org, scope, "role", row, { ...(row || !r.id ? {} : { roleid: r.id }), name: r.name.slice(0, 100) });
    // The role holds exactly the privileges its XML lists (a managed upgrade replaces them).
    org.security.defineRole(roleId, r.name, r.privileges.map((p) => ({ name: p.name, depth: p.level })));
  }

  const solutionValues: Record<string, StoredValue> = {
    uniquename: contents.uniqueName,
    friendlyname: contents.friendlyName,
    version: contents.version,
    ismanaged: contents.managed,
    publisherid: { entity: "publisher", id: publisherId },
  };
  const solutionId = upsert(org, scope, "solution", existing, solutionValues);
  const solutionRow = org.row("solution", solutionId);
  if (solutionRow) {
    // installedon/updatedon are platform-set: written directly, not through the API's rules.
    const stamp = new Date(org.now()).toISOString().slice(0, 19) + "Z";
    org.store.put(scope.tx, org.entity("solution"), solutionId, Object.freeze({ ...solutionRow, installedon: solutionRow.installedon ?? stamp, updatedon: stamp }));
  }
  return {
    solutionId,
    action,
    entities,
    attributes: summary.attributes,
    optionSets: contents.optionSets.map((o) => o.name),
    environmentVariables: contents.environmentVariables.map((v) => v.schemaName),
    webResources: contents.webResources.map((w) => w.name),
    customControls: contents.customControls.map((c) => c.name),
    forms: contents.forms.length,
    roles: contents.roles.map((r) => r.name),
    warnings: summary.warnings,
  };
}
