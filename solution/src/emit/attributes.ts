/**
 * Column XML (`entity/attributes/attribute`) in the element order of modern exports
 * (specs/dataverse.md §7.2): a common head, a type-specific tail, then displaynames and Descriptions.
 */
import { GLOBAL_CHOICES, type ColumnDefinition } from "@cosell/contract";
import { el, leaf, type XmlElement } from "../xml";
import { INTRODUCED_VERSION, descriptions, displaynames, flag, labels } from "./common";

interface AttributeHead {
  readonly type: string;
  readonly physicalName: string;
  readonly logicalName: string;
  readonly requiredLevel: "none" | "systemrequired" | "applicationrequired";
  readonly displayMask: string;
  readonly imeMode: "auto" | "disabled" | "inactive";
  readonly validForUpdate: boolean;
  readonly validForRead: boolean;
  readonly validForCreate: boolean;
  readonly isCustomField: boolean;
  readonly isAuditEnabled: boolean;
  readonly canModifyRequirementLevel: boolean;
  readonly isSearchable: boolean;
  readonly isFilterable: boolean;
  readonly isRetrievable: boolean;
}

export interface AttributeXml {
  readonly head: AttributeHead;
  readonly tail: readonly XmlElement[];
  readonly displayName: string;
  readonly description: string;
}

export function renderAttribute(a: AttributeXml): XmlElement {
  const h = a.head;
  return el(
    "attribute",
    { PhysicalName: h.physicalName },
    leaf("Type", h.type),
    leaf("Name", h.logicalName),
    leaf("LogicalName", h.logicalName),
    leaf("RequiredLevel", h.requiredLevel),
    leaf("DisplayMask", h.displayMask),
    leaf("ImeMode", h.imeMode),
    flag("ValidForUpdateApi", h.validForUpdate),
    flag("ValidForReadApi", h.validForRead),
    flag("ValidForCreateApi", h.validForCreate),
    flag("IsCustomField", h.isCustomField),
    flag("IsAuditEnabled", h.isAuditEnabled),
    flag("IsSecured", false),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    flag("IsCustomizable", true),
    flag("IsRenameable", true),
    flag("CanModifySearchSettings", true),
    flag("CanModifyRequirementLevelSettings", h.canModifyRequirementLevel),
    flag("CanModifyAdditionalSettings", true),
    leaf("SourceType", 0),
    flag("IsGlobalFilterEnabled", false),
    flag("IsSortableEnabled", false),
    flag("CanModifyGlobalFilterSettings", true),
    flag("CanModifyIsSortableSettings", true),
    flag("IsDataSourceSecret", false),
    leaf("AutoNumberFormat", ""),
    flag("IsSearchable", h.isSearchable),
    flag("IsFilterable", h.isFilterable),
    flag("IsRetrievable", h.isRetrievable),
    flag("IsLocalizable", false),
    a.tail,
    displaynames(a.displayName),
    descriptions(a.description),
  );
}

const CUSTOM_DISPLAY_MASK = "ValidForAdvancedFind|ValidForForm|ValidForGrid";

/** Local Yes/No option set of a boolean column; exports name it `<entity>_<column>`. */
function booleanOptionSet(entity: string, column: ColumnDefinition, trueLabel: string, falseLabel: string): XmlElement {
  const option = (value: number, label: string) => el("option", { value }, labels(label));
  return el(
    "optionset",
    { Name: `${entity}_${column.logicalName}` },
    leaf("OptionSetType", "bit"),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    flag("IsCustomizable", true),
    displaynames(column.displayName),
    descriptions(column.description),
    el("options", undefined, option(1, trueLabel), option(0, falseLabel)),
  );
}

function typeTail(entity: string, column: ColumnDefinition): { type: string; tail: XmlElement[] } {
  const t = column.type;
  switch (t.kind) {
    case "text":
      return {
        type: "nvarchar",
        tail: [leaf("Format", t.format), leaf("MaxLength", t.maxLength), leaf("Length", t.maxLength * 2)],
      };
    case "memo":
      return { type: "ntext", tail: [leaf("Format", "text"), leaf("MaxLength", t.maxLength)] };
    case "boolean":
      return {
        type: "bit",
        tail: [leaf("AppDefaultValue", t.default ? 1 : 0), booleanOptionSet(entity, column, t.trueLabel, t.falseLabel)],
      };
    case "choice":
      return {
        type: "picklist",
        tail: [leaf("AppDefaultValue", -1), leaf("OptionSetName", GLOBAL_CHOICES[t.globalChoice].name)],
      };
    case "datetime":
      // Date and time, user-local behaviour (1): the bridge writes UTC and each seller sees local time.
      return {
        type: "datetime",
        tail: [leaf("Format", "datetime"), flag("CanChangeDateTimeBehavior", true), leaf("Behavior", 1)],
      };
  }
}

/** A column of ours, on a system table (shell) or on our own table. */
export function customColumn(entity: string, column: ColumnDefinition, options: { primaryName?: boolean } = {}): XmlElement {
  const { type, tail } = typeTail(entity, column);
  return renderAttribute({
    head: {
      type,
      physicalName: column.schemaName,
      logicalName: column.logicalName,
      requiredLevel: options.primaryName ? "applicationrequired" : "none",
      displayMask: options.primaryName ? `PrimaryName|${CUSTOM_DISPLAY_MASK}|RequiredForForm` : CUSTOM_DISPLAY_MASK,
      imeMode: type === "datetime" ? "inactive" : "auto",
      validForUpdate: true,
      validForRead: true,
      validForCreate: true,
      isCustomField: true,
      isAuditEnabled: true,
      canModifyRequirementLevel: true,
      isSearchable: options.primaryName === true,
      isFilterable: type !== "ntext",
      isRetrievable: true,
    },
    tail,
    displayName: column.displayName,
    description: column.description,
  });
}

/** Case-insensitive order by physical name, as exports list attributes. */
export function byPhysicalName(a: { schemaName: string }, b: { schemaName: string }): number {
  const x = a.schemaName.toLowerCase();
  const y = b.schemaName.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}
