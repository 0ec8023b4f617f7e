/**
 * Tables of customizations.xml (`Entities/Entity`): the table itself when the solution defines it,
 * its columns (`EntityInfo/entity/attributes/attribute`), alternate keys (`EntityKeys`) and forms
 * (`FormXml/forms/systemform`). A system table the solution only touches arrives as a shell:
 * `Name` plus whatever it changes (new columns, forms, ribbon).
 */
import type {
  AttributeDefinition,
  EntityDefinition,
  EntityKeyDefinition,
  FormContents,
  OptionSetDefinition,
} from "./types";
import { readOptionSet } from "./option-sets";
import {
  checkSchemaName,
  labels,
  optionalDouble,
  optionalFlag,
  optionalInteger,
  optionalText,
  parseGuid,
  pickLabel,
  requiredText,
} from "./values";
import type { XmlElement } from "./xml";

/** CrmDataType of CustomizationsSolution.xsd, plus `file`, which newer exports use. */
const ATTRIBUTE_TYPES = new Set([
  "virtual", "primarykey", "uniqueidentifier", "char", "nchar", "varchar", "nvarchar", "ntext", "text",
  "numeric", "int", "smallint", "tinyint", "bigint", "binary", "varbinary", "image", "float", "decimal",
  "real", "money", "smallmoney", "bit", "timezone", "datetime", "smalldatetime", "timestamp", "lookup",
  "picklist", "multiselectpicklist", "partylist", "customer", "owner", "state", "status", "sql_variant",
  "phoneticguide", "HierarchyId", "managedproperty", "file",
]);

/** `required` is what a 2015 export and CodeInterpreterSample write for business-required. */
const REQUIRED_LEVELS = new Set(["none", "systemrequired", "applicationrequired", "required", "recommended"]);
const CHOICE_TYPES = new Set(["picklist", "multiselectpicklist"]);
const LOOKUP_TYPES = new Set(["lookup", "customer", "owner"]);
const TEXT_MAX_LENGTH: Record<string, number> = { nvarchar: 4000, ntext: 1_048_576 };
/** 1 UserLocal, 2 DateOnly, 3 TimeZoneIndependent. */
const DATE_TIME_BEHAVIORS = { min: 1, max: 3 };
/** Exports write up to 12 (exchangerate); 18 is as far as a SQL decimal goes. */
const PRECISION = { min: 0, max: 18 };

/**
 * `<LookupTypes><LookupType>8</LookupType>` names targets by object type code; these are the
 * fixed codes of the system tables a lookup in our solutions can point at. Targets of other
 * lookups come from the root `<EntityRelationships>`.
 */
const SYSTEM_OBJECT_TYPE_CODES: Record<string, string> = {
  "1": "account",
  "2": "contact",
  "3": "opportunity",
  "4": "lead",
  "8": "systemuser",
  "9": "team",
  "10": "businessunit",
};

export interface EntityContext {
  /** Package language, for picking a form name among its labels. */
  readonly languageCode: number;
  /** Global option sets by name (root `<optionsets>`). */
  readonly globalOptionSets: ReadonlyMap<string, OptionSetDefinition>;
  /** `entity/column` (lower case) → referenced tables, from the root `<EntityRelationships>`. */
  readonly lookupTargets: ReadonlyMap<string, readonly string[]>;
}

export function readEntity(
  element: XmlElement,
  context: EntityContext,
): { entity: EntityDefinition; forms: FormContents[] } {
  const nameElement = element.required("Name");
  const schemaName = checkSchemaName(nameElement, requiredText(element, "Name"), "table name");
  const logicalName = schemaName.toLowerCase();
  const info = element.at("EntityInfo/entity");
  if (info !== undefined) {
    const infoName = info.requiredAttribute("Name");
    if (infoName.toLowerCase() !== logicalName) {
      info.fail(`names table '${infoName}' inside <Entity> '${schemaName}'`);
    }
  }

  const attributes: AttributeDefinition[] = [];
  const seen = new Set<string>();
  for (const attributeElement of info?.list("attributes/attribute") ?? []) {
    const attribute = readAttribute(attributeElement, logicalName, context);
    if (attribute === undefined) continue;
    if (seen.has(attribute.logicalName)) attributeElement.fail(`column '${attribute.logicalName}' is defined twice`);
    seen.add(attribute.logicalName);
    attributes.push(attribute);
  }

  const primaryKeys = attributes.filter((a) => a.type === "primarykey");
  if (primaryKeys.length > 1) info?.fail(`has ${primaryKeys.length} primary key columns`);
  const primaryIdAttribute = primaryKeys[0]?.logicalName;
  const primaryNameAttribute = info
    ?.list("attributes/attribute")
    .find((a) => (optionalText(a, "DisplayMask") ?? "").split("|").includes("PrimaryName"));
  const primaryName = attributes.find(
    (a) => a.schemaName === primaryNameAttribute?.attribute("PhysicalName"),
  );
  // A table the solution creates is exported whole (its primary key included) and its primary
  // name column is a custom one; a system table exported whole has a system primary name.
  const isCustomEntity = primaryIdAttribute !== undefined && primaryName?.isCustomField === true;

  const keyNames = new Set<string>();
  const keys = (info?.list("EntityKeys/EntityKey") ?? []).map((keyElement) => {
    const key = readEntityKey(keyElement, isCustomEntity ? seen : undefined);
    if (keyNames.has(key.logicalName)) keyElement.fail(`key '${key.logicalName}' is defined twice`);
    keyNames.add(key.logicalName);
    return key;
  });

  const entitySetName = info === undefined ? undefined : optionalText(info, "EntitySetName");
  const ownershipType = info === undefined ? undefined : optionalText(info, "OwnershipTypeMask");
  const entity: EntityDefinition = {
    logicalName,
    schemaName,
    isCustomEntity,
    ...(entitySetName === undefined ? {} : { entitySetName }),
    ...(primaryIdAttribute === undefined ? {} : { primaryIdAttribute }),
    ...(primaryName === undefined ? {} : { primaryNameAttribute: primaryName.logicalName }),
    ...(ownershipType === undefined ? {} : { ownershipType }),
    displayNames: info === undefined ? [] : labels(info, "LocalizedNames/LocalizedName"),
    displayCollectionNames: info === undefined ? [] : labels(info, "LocalizedCollectionNames/LocalizedCollectionName"),
    attributes,
    keys,
  };

  const forms: FormContents[] = [];
  for (const formsElement of element.list("FormXml/forms")) {
    const formType = formsElement.requiredAttribute("type");
    for (const systemForm of formsElement.all("systemform")) {
      forms.push(readForm(systemForm, logicalName, formType, context.languageCode));
    }
  }
  return { entity, forms };
}

/** Undefined for an `unmodified` system column exported without its type (nothing to apply). */
function readAttribute(element: XmlElement, entity: string, context: EntityContext): AttributeDefinition | undefined {
  const schemaName = checkSchemaName(element, element.requiredAttribute("PhysicalName"), "PhysicalName");
  if (element.one("Type") === undefined && element.attribute("unmodified") === "1") return undefined;
  const type = requiredText(element, "Type");
  if (!ATTRIBUTE_TYPES.has(type)) element.required("Type").fail(`unknown column type '${type}'`);

  const logicalName = optionalText(element, "LogicalName") ?? schemaName.toLowerCase();
  if (logicalName !== schemaName.toLowerCase()) {
    element.required("LogicalName").fail(`'${logicalName}' is not the lower-case PhysicalName '${schemaName}'`);
  }
  const isCustomField = optionalFlag(element, "IsCustomField", false);
  const requiredLevel = optionalText(element, "RequiredLevel");
  if (requiredLevel !== undefined && !REQUIRED_LEVELS.has(requiredLevel)) {
    element.required("RequiredLevel").fail(`unknown requirement level '${requiredLevel}'`);
  }
  const format = optionalText(element, "Format");
  const lookupTargets = LOOKUP_TYPES.has(type) ? readLookupTargets(element, `${entity}/${logicalName}`, context) : [];

  return {
    logicalName,
    schemaName,
    type,
    isCustomField,
    ...(requiredLevel === undefined ? {} : { requiredLevel }),
    ...(format === undefined ? {} : { format }),
    ...readSizes(element, type, isCustomField),
    ...(type === "datetime" ? readDateTimeBehavior(element, format) : {}),
    ...readChoice(element, type, isCustomField, context),
    ...(lookupTargets.length === 0 ? {} : { lookupTargets }),
    displayNames: labels(element, "displaynames/displayname"),
  };
}

type Sizes = Pick<AttributeDefinition, "maxLength" | "minValue" | "maxValue" | "precision">;

function readSizes(element: XmlElement, type: string, isCustomField: boolean): Sizes {
  const lengthLimit = TEXT_MAX_LENGTH[type];
  const maxLength = optionalInteger(element, "MaxLength", { min: 1, max: lengthLimit });
  if (lengthLimit !== undefined && isCustomField && maxLength === undefined) {
    element.fail("a text column needs <MaxLength>", { child: "MaxLength" });
  }
  const minValue = optionalDouble(element, "MinValue");
  const maxValue = optionalDouble(element, "MaxValue");
  if (minValue !== undefined && maxValue !== undefined && minValue > maxValue) {
    element.required("MinValue").fail(`${minValue} is above <MaxValue> ${maxValue}`);
  }
  // Exports write a decimal's or money's precision as <Accuracy>.
  const precision =
    optionalInteger(element, "Precision", PRECISION) ?? optionalInteger(element, "Accuracy", PRECISION);
  return {
    ...(maxLength === undefined ? {} : { maxLength }),
    ...(minValue === undefined ? {} : { minValue }),
    ...(maxValue === undefined ? {} : { maxValue }),
    ...(precision === undefined ? {} : { precision }),
  };
}

function readDateTimeBehavior(
  element: XmlElement,
  format: string | undefined,
): Pick<AttributeDefinition, "dateTimeBehavior"> {
  // Dataverse refuses other formats: "The format dateonly is not valid for the datetime type column".
  if (format !== undefined && format !== "date" && format !== "datetime") {
    element.required("Format").fail(`the format ${format} is not valid for a date and time column (date or datetime)`);
  }
  const dateTimeBehavior = optionalInteger(element, "Behavior", DATE_TIME_BEHAVIORS);
  if (dateTimeBehavior === 2 && format === "datetime") {
    element.required("Behavior").fail("a date-only column (Behavior 2) must have the format date");
  }
  return dateTimeBehavior === undefined ? {} : { dateTimeBehavior };
}

type Choice = Pick<AttributeDefinition, "optionSet" | "globalOptionSetName" | "defaultValue">;

/** Inline option set or global one by name, and AppDefaultValue (-1 = no default). */
function readChoice(element: XmlElement, type: string, isCustomField: boolean, context: EntityContext): Choice {
  const hasOptions = CHOICE_TYPES.has(type) || type === "bit";
  const inlineElement = element.one("optionset");
  const inline = inlineElement === undefined ? undefined : readOptionSet(inlineElement, "inline");
  if (inlineElement !== undefined && inline !== undefined) checkOptionSetType(inlineElement, type, inline);
  const globalOptionSetName = optionalText(element, "OptionSetName");
  if (isCustomField && hasOptions && inline === undefined && globalOptionSetName === undefined) {
    element.fail(`a ${type} column needs an inline <optionset> or an <OptionSetName>`);
  }
  const optionSet =
    inline ?? (globalOptionSetName === undefined ? undefined : context.globalOptionSets.get(globalOptionSetName));

  const defaultValue = optionalInteger(element, "AppDefaultValue");
  const defaultIsOption = optionSet?.options.some((o) => o.value === defaultValue) ?? true;
  if (hasOptions && defaultValue !== undefined && defaultValue !== -1 && !defaultIsOption) {
    element.required("AppDefaultValue").fail(`${defaultValue} is not an option of '${optionSet?.name ?? ""}'`);
  }
  return {
    ...(optionSet === undefined ? {} : { optionSet }),
    ...(globalOptionSetName === undefined ? {} : { globalOptionSetName }),
    ...(defaultValue === undefined ? {} : { defaultValue }),
  };
}

function readLookupTargets(element: XmlElement, column: string, context: EntityContext): string[] {
  const fromRelationships = context.lookupTargets.get(column) ?? [];
  const fromTypeCodes = element
    .list("LookupTypes/LookupType")
    .map((t) => SYSTEM_OBJECT_TYPE_CODES[t.text.trim()])
    .filter((t): t is string => t !== undefined);
  return [...new Set([...fromRelationships, ...fromTypeCodes])];
}

/** The option set kind a column type carries inline. */
function checkOptionSetType(element: XmlElement, type: string, optionSet: OptionSetDefinition): void {
  const expected: Record<string, string> = {
    bit: "bit",
    state: "state",
    status: "status",
    picklist: "picklist",
    multiselectpicklist: "picklist",
  };
  const wanted = expected[type];
  if (wanted === undefined) element.fail(`a ${type} column carries no option set`);
  if (optionSet.optionSetType !== wanted) {
    element.fail(`a ${type} column needs an option set of type ${wanted}, not ${optionSet.optionSetType}`);
  }
}

function readEntityKey(element: XmlElement, columns: ReadonlySet<string> | undefined): EntityKeyDefinition {
  const logicalName = checkSchemaName(
    element,
    optionalText(element, "LogicalName") ?? requiredText(element, "Name").toLowerCase(),
    "key LogicalName",
  );
  const keyColumns = element.list("EntityKeyAttributes/AttributeName");
  if (keyColumns.length === 0) element.fail("a key needs at least one <EntityKeyAttributes/AttributeName>");
  const attributes = keyColumns.map((column) => {
    const name = checkSchemaName(column, column.text.trim(), "key column").toLowerCase();
    // On a table the solution defines, every column is in the export; on a shell, only new ones.
    if (columns !== undefined && !columns.has(name)) column.fail(`key column '${name}' is not a column of the table`);
    return name;
  });
  if (new Set(attributes).size !== attributes.length) element.fail("a key names the same column twice");
  return { logicalName, attributes, displayNames: labels(element, "displaynames/displayname") };
}

function readForm(element: XmlElement, entity: string, formType: string, languageCode: number): FormContents {
  const formId = parseGuid(element.required("formid"), requiredText(element, "formid"), "formid");
  const form = element.required("form");
  const name = pickLabel(labels(element, "LocalizedNames/LocalizedName"), languageCode);
  return { entity, formId, formType, ...(name === undefined ? {} : { name }), formXml: form.toXml() };
}
