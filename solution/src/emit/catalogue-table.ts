/**
 * The `cosell_solution` catalogue table as a new table in the export: its system columns (those every
 * organization-owned table has), our columns, the alternate key, the table properties, a main form,
 * the active view and the quick find view, and the system relationships Dataverse gives such a table.
 *
 * Organization-owned: the catalogue is reference data that admins keep and every seller reads, so
 * there is no record owner and read access is all-or-nothing (privilege depth Global).
 */
import { ALTERNATE_KEYS, SOLUTION_CATALOG_TABLE, SolutionCatalogColumn, type ColumnDefinition } from "@cosell/contract";
import { braced, stableGuid } from "../ids";
import { el, leaf, type XmlElement } from "../xml";
import { byPhysicalName, customColumn, renderAttribute, type AttributeXml } from "./attributes";
import { INTRODUCED_VERSION, LANGUAGE_CODE, descriptions, displaynames, flag, labels, localizedNames } from "./common";
import { entityKeys, ribbonDiff } from "./entity-parts";
import { classIdFor } from "./forms";

const T = SOLUTION_CATALOG_TABLE;
const entity = T.logicalName;

type Head = AttributeXml["head"];
const systemHead = (type: string, physicalName: string, over: Partial<Head> = {}): Head => ({
  type,
  physicalName,
  logicalName: physicalName.toLowerCase(),
  requiredLevel: "none",
  displayMask: "ValidForAdvancedFind|ValidForForm|ValidForGrid",
  imeMode: "auto",
  validForUpdate: false,
  validForRead: true,
  validForCreate: false,
  isCustomField: false,
  isAuditEnabled: false,
  canModifyRequirementLevel: true,
  isSearchable: false,
  isFilterable: false,
  isRetrievable: false,
  ...over,
});

const lookupTail = [leaf("LookupStyle", "single"), el("LookupTypes")];
const intTail = (min: number) => [leaf("Format", ""), leaf("MinValue", min), leaf("MaxValue", 2147483647)];
const dateTail = (format: "datetime" | "date") => [leaf("Format", format), flag("CanChangeDateTimeBehavior", false), leaf("Behavior", 1)];

function stateOptionSet(): XmlElement {
  const state = (value: number, status: number, name: string) =>
    el("state", { value, defaultstatus: status, invariantname: name }, labels(name));
  return el(
    "optionset",
    { Name: `${entity}_statecode` },
    leaf("OptionSetType", "state"),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    flag("IsCustomizable", true),
    displaynames("Status"),
    descriptions(`Status of the ${T.displayName}`),
    el("states", undefined, state(0, 1, "Active"), state(1, 2, "Inactive")),
  );
}

function statusOptionSet(): XmlElement {
  const status = (value: number, state: number, label: string) => el("status", { value, state }, labels(label));
  return el(
    "optionset",
    { Name: `${entity}_statuscode` },
    leaf("OptionSetType", "status"),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    flag("IsCustomizable", true),
    displaynames("Status Reason"),
    descriptions(`Reason for the status of the ${T.displayName}`),
    el("statuses", undefined, status(1, 0, "Active"), status(2, 1, "Inactive")),
  );
}

interface SystemAttribute extends AttributeXml {
  readonly schemaName: string;
}

function systemAttributes(): SystemAttribute[] {
  const sys = (head: Head, tail: XmlElement[], displayName: string, description: string): SystemAttribute => ({
    schemaName: head.physicalName,
    head,
    tail,
    displayName,
    description,
  });
  return [
    sys(systemHead("lookup", "CreatedBy"), lookupTail, "Created By", "Unique identifier of the user who created the record."),
    sys(systemHead("datetime", "CreatedOn", { imeMode: "inactive", isFilterable: true, isRetrievable: true }), dateTail("datetime"), "Created On", "Date and time when the record was created."),
    sys(systemHead("lookup", "CreatedOnBehalfBy"), lookupTail, "Created By (Delegate)", "Unique identifier of the delegate user who created the record."),
    sys(systemHead("int", "ImportSequenceNumber", { displayMask: "ValidForAdvancedFind", imeMode: "disabled", validForCreate: true }), intTail(-2147483648), "Import Sequence Number", "Sequence number of the import that created this record."),
    sys(systemHead("lookup", "ModifiedBy"), lookupTail, "Modified By", "Unique identifier of the user who modified the record."),
    sys(systemHead("datetime", "ModifiedOn", { imeMode: "inactive", isFilterable: true, isRetrievable: true }), dateTail("datetime"), "Modified On", "Date and time when the record was modified."),
    sys(systemHead("lookup", "ModifiedOnBehalfBy"), lookupTail, "Modified By (Delegate)", "Unique identifier of the delegate user who modified the record."),
    sys(systemHead("lookup", "OrganizationId", { displayMask: "ValidForAdvancedFind" }), lookupTail, "Organization Id", "Unique identifier for the organization"),
    sys(systemHead("datetime", "OverriddenCreatedOn", { displayMask: "ValidForAdvancedFind|ValidForGrid", imeMode: "inactive", validForCreate: true }), dateTail("date"), "Record Created On", "Date and time that the record was migrated."),
    // The primary key: `<table>id`, as Dataverse names it (schema name `<Table schema name>Id`).
    sys(
      systemHead("primarykey", `${T.schemaName}Id`, {
        requiredLevel: "systemrequired",
        displayMask: "ValidForAdvancedFind|RequiredForGrid",
        validForCreate: true,
        canModifyRequirementLevel: false,
        isFilterable: true,
        isRetrievable: true,
      }),
      [],
      T.displayName,
      "Unique identifier for entity instances",
    ),
    sys(systemHead("state", "statecode", { requiredLevel: "systemrequired", validForUpdate: true, isAuditEnabled: true, isFilterable: true }), [stateOptionSet()], "Status", `Status of the ${T.displayName}`),
    sys(systemHead("status", "statuscode", { validForUpdate: true, validForCreate: true, isAuditEnabled: true }), [statusOptionSet()], "Status Reason", `Reason for the status of the ${T.displayName}`),
    sys(systemHead("int", "TimeZoneRuleVersionNumber", { displayMask: "", validForUpdate: true, validForCreate: true }), intTail(-1), "Time Zone Rule Version Number", "For internal use only."),
    sys(systemHead("int", "UTCConversionTimeZoneCode", { displayMask: "", validForUpdate: true, validForCreate: true }), intTail(-1), "UTC Conversion Time Zone Code", "Time zone code that was in use when the record was created."),
  ];
}

/** Attributes of the table, system and ours, in export order. */
export function catalogueAttributes(): XmlElement[] {
  type Item = { schemaName: string; render: () => XmlElement };
  const items: Item[] = [
    ...systemAttributes().map((a) => ({ schemaName: a.schemaName, render: () => renderAttribute(a) })),
    { schemaName: T.primaryName.schemaName, render: () => customColumn(entity, T.primaryName, { primaryName: true }) },
    ...T.columns.map((c: ColumnDefinition) => ({ schemaName: c.schemaName, render: () => customColumn(entity, c) })),
  ];
  return items.sort(byPhysicalName).map((i) => i.render());
}

/** Table properties after `</attributes>`, in the order of a 2025 export (ColumnLevelSecurity sample). */
function tableProperties(): XmlElement[] {
  const f = flag;
  return [
    leaf("EntitySetName", T.entitySetName),
    f("IsDuplicateCheckSupported", false),
    f("IsBusinessProcessEnabled", false),
    f("IsRequiredOffline", false),
    f("IsInteractionCentricEnabled", false),
    f("IsCollaboration", false),
    f("AutoRouteToOwnerQueue", false),
    f("IsConnectionsEnabled", false),
    f("IsDocumentManagementEnabled", false),
    f("AutoCreateAccessTeams", false),
    f("IsOneNoteIntegrationEnabled", false),
    f("IsKnowledgeManagementEnabled", false),
    f("IsSLAEnabled", false),
    f("IsDocumentRecommendationsEnabled", false),
    f("IsBPFEntity", false),
    leaf("OwnershipTypeMask", "OrganizationOwned"),
    f("IsAuditEnabled", true),
    f("IsRetrieveAuditEnabled", false),
    f("IsRetrieveMultipleAuditEnabled", false),
    f("IsActivity", false),
    leaf("ActivityTypeMask", ""),
    f("IsActivityParty", false),
    f("IsReplicated", false),
    f("IsReplicationUserFiltered", false),
    f("IsMailMergeEnabled", false),
    f("IsVisibleInMobile", false),
    f("IsVisibleInMobileClient", false),
    f("IsReadOnlyInMobileClient", false),
    f("IsOfflineInMobileClient", false),
    leaf("DaysSinceRecordLastModified", 0),
    leaf("MobileOfflineFilters", ""),
    f("IsMapiGridEnabled", true),
    f("IsReadingPaneEnabled", true),
    f("IsQuickCreateEnabled", false),
    f("SyncToExternalSearchIndex", false),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    f("IsCustomizable", true),
    f("IsRenameable", true),
    f("IsMappable", true),
    f("CanModifyAuditSettings", true),
    f("CanModifyMobileVisibility", true),
    f("CanModifyMobileClientVisibility", true),
    f("CanModifyMobileClientReadOnly", true),
    f("CanModifyMobileClientOffline", true),
    f("CanModifyConnectionSettings", true),
    f("CanModifyDuplicateDetectionSettings", true),
    f("CanModifyMailMergeSettings", true),
    f("CanModifyQueueSettings", true),
    f("CanCreateAttributes", true),
    f("CanCreateForms", true),
    f("CanCreateCharts", true),
    f("CanCreateViews", true),
    f("CanModifyAdditionalSettings", true),
    f("CanEnableSyncToExternalSearchIndex", true),
    f("EnforceStateTransitions", false),
    f("CanChangeHierarchicalRelationship", true),
    f("EntityHelpUrlEnabled", false),
    // The bridge's reconcile sweep may use change tracking on the catalogue too.
    f("ChangeTrackingEnabled", true),
    f("CanChangeTrackingBeEnabled", true),
    f("IsEnabledForExternalChannels", false),
    f("IsMSTeamsIntegrationEnabled", false),
    f("IsSolutionAware", false),
  ];
}


function mainForm(): XmlElement {
  const fields: ColumnDefinition[] = [T.primaryName, ...T.columns];
  const cell = (c: ColumnDefinition) =>
    el(
      "row",
      undefined,
      el(
        "cell",
        { id: braced(stableGuid(`${entity}/form/main/cell/${c.logicalName}`)) },
        labels(c.displayName),
        el("control", {
          id: c.logicalName,
          classid: classIdFor(c),
          datafieldname: c.logicalName,
        }),
      ),
    );
  return el(
    "forms",
    { type: "main" },
    el(
      "systemform",
      undefined,
      leaf("formid", braced(stableGuid(`${entity}/form/main`))),
      leaf("IntroducedVersion", INTRODUCED_VERSION),
      leaf("FormPresentation", 1),
      leaf("FormActivationState", 1),
      el(
        "form",
        undefined,
        el(
          "tabs",
          undefined,
          el(
            "tab",
            { verticallayout: "true", id: braced(stableGuid(`${entity}/form/main/tab/general`)), IsUserDefined: "1" },
            labels("General"),
            el(
              "columns",
              undefined,
              el(
                "column",
                { width: "100%" },
                el(
                  "sections",
                  undefined,
                  el(
                    "section",
                    { showlabel: "false", showbar: "false", IsUserDefined: "0", id: braced(stableGuid(`${entity}/form/main/section/general`)) },
                    labels("General"),
                    el("rows", undefined, fields.map(cell)),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
      flag("IsCustomizable", true),
      flag("CanBeDeleted", true),
      localizedNames("Information"),
      descriptions(`The form admins use to keep the ${T.displayCollectionName.toLowerCase()}.`),
    ),
  );
}

function savedQuery(kind: "active" | "quickfind"): XmlElement {
  const pk = T.primaryIdAttribute;
  const cols = [SolutionCatalogColumn.name, SolutionCatalogColumn.solutionCode, SolutionCatalogColumn.solutionType, SolutionCatalogColumn.publisher];
  const quick = kind === "quickfind";
  return el(
    "savedquery",
    undefined,
    flag("IsCustomizable", true),
    flag("CanBeDeleted", false),
    flag("isquickfindquery", quick),
    flag("isprivate", false),
    flag("isdefault", true),
    leaf("savedqueryid", braced(stableGuid(`${entity}/savedquery/${kind}`))),
    el(
      "layoutxml",
      undefined,
      el(
        "grid",
        { name: "resultset", jump: SolutionCatalogColumn.name, select: "1", icon: "1", preview: "1" },
        el("row", { name: "result", id: pk }, cols.map((c) => el("cell", { name: c, width: c === SolutionCatalogColumn.name ? 300 : 150 }))),
      ),
    ),
    leaf("querytype", quick ? 4 : 0),
    el(
      "fetchxml",
      undefined,
      el(
        "fetch",
        { version: "1.0", mapping: "logical" },
        el(
          "entity",
          { name: entity },
          el("attribute", { name: pk }),
          cols.map((c) => el("attribute", { name: c })),
          el("order", { attribute: SolutionCatalogColumn.name, descending: "false" }),
          el(
            "filter",
            { type: "and" },
            el("condition", { attribute: "statecode", operator: "eq", value: "0" }),
            quick && el("condition", { attribute: SolutionCatalogColumn.isActive, operator: "eq", value: "1" }),
          ),
          quick &&
            el(
              "filter",
              { type: "or", isquickfindfields: "1" },
              el("condition", { attribute: SolutionCatalogColumn.name, operator: "like", value: "{0}" }),
              el("condition", { attribute: SolutionCatalogColumn.solutionCode, operator: "like", value: "{0}" }),
            ),
        ),
      ),
    ),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    localizedNames(quick ? `Quick Find Active ${T.displayCollectionName}` : `Active ${T.displayCollectionName}`),
  );
}

export function catalogueEntity(): XmlElement {
  return el(
    "Entity",
    undefined,
    leaf("Name", T.schemaName, { LocalizedName: T.displayName, OriginalName: T.displayName }),
    el(
      "EntityInfo",
      undefined,
      el(
        "entity",
        { Name: T.schemaName },
        localizedNames(T.displayName),
        el("LocalizedCollectionNames", undefined, el("LocalizedCollectionName", { description: T.displayCollectionName, languagecode: LANGUAGE_CODE })),
        descriptions(T.description),
        el("attributes", undefined, catalogueAttributes()),
        entityKeys([ALTERNATE_KEYS.solutionCode]),
        tableProperties(),
      ),
    ),
    el("FormXml", undefined, mainForm()),
    el("SavedQueries", undefined, el("savedqueries", undefined, savedQuery("active"), savedQuery("quickfind"))),
    ribbonDiff(),
  );
}

/** The relationships Dataverse creates with an organization-owned table (root `EntityRelationships`). */
export function catalogueRelationships(): XmlElement[] {
  const rel = (name: string, referenced: string, attribute: string, description: string) =>
    el(
      "EntityRelationship",
      { Name: name },
      leaf("EntityRelationshipType", "OneToMany"),
      flag("IsCustomizable", true),
      leaf("IntroducedVersion", INTRODUCED_VERSION),
      flag("IsHierarchical", false),
      leaf("ReferencingEntityName", T.schemaName),
      leaf("ReferencedEntityName", referenced),
      leaf("CascadeAssign", "NoCascade"),
      leaf("CascadeDelete", "NoCascade"),
      leaf("CascadeArchive", "NoCascade"),
      leaf("CascadeReparent", "NoCascade"),
      leaf("CascadeShare", "NoCascade"),
      leaf("CascadeUnshare", "NoCascade"),
      leaf("ReferencingAttributeName", attribute),
      el("RelationshipDescription", undefined, descriptions(description)),
    );
  return [
    rel(`lk_${entity}_createdby`, "SystemUser", "CreatedBy", "Unique identifier of the user who created the record."),
    rel(`lk_${entity}_createdonbehalfby`, "SystemUser", "CreatedOnBehalfBy", "Unique identifier of the delegate user who created the record."),
    rel(`lk_${entity}_modifiedby`, "SystemUser", "ModifiedBy", "Unique identifier of the user who modified the record."),
    rel(`lk_${entity}_modifiedonbehalfby`, "SystemUser", "ModifiedOnBehalfBy", "Unique identifier of the delegate user who modified the record."),
    rel(`organization_${entity}`, "Organization", "OrganizationId", "Unique identifier for the organization"),
  ];
}
