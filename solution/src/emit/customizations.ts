/**
 * customizations.xml, root children in the order of the XSD and of real exports: Entities, Roles,
 * Workflows, FieldSecurityProfiles, Templates, EntityMaps, EntityRelationships, OrganizationSettings,
 * optionsets, WebResources, CustomControls, EntityDataProviders, Languages.
 */
import { ALTERNATE_KEYS, LEAD_COLUMNS, OPPORTUNITY_COLUMNS, Table, type AlternateKeyDefinition, type ColumnDefinition } from "@cosell/contract";
import type { ControlManifest } from "../control-manifest";
import { el, leaf, renderXml, type XmlElement } from "../xml";
import { byPhysicalName, customColumn } from "./attributes";
import { catalogueEntity, catalogueRelationships } from "./catalogue-table";
import { LANGUAGE_CODE } from "./common";
import { customControlXml, globalOptionSets, webResourceXml } from "./components";
import { entityKeys, ribbonDiff } from "./entity-parts";
import { planForm, systemFormXml, type FormKind } from "./forms";
import { ROLES, roleXml } from "./roles";

/**
 * A system table carried as a shell: only our columns, keys and form diff (cdsify export shape:
 * `Name` with an empty OriginalName, `entity` with just `attributes`).
 */
function shellEntity(
  kind: FormKind,
  displayName: string,
  columns: readonly ColumnDefinition[],
  keys: readonly AlternateKeyDefinition[],
  manifest: ControlManifest,
): XmlElement {
  const schema = displayName; // system tables' schema names are the PascalCase display names
  const logical = Table[kind].logicalName;
  return el(
    "Entity",
    undefined,
    leaf("Name", schema, { LocalizedName: displayName, OriginalName: "" }),
    el(
      "EntityInfo",
      undefined,
      el(
        "entity",
        { Name: schema },
        el("attributes", undefined, [...columns].sort(byPhysicalName).map((c) => customColumn(logical, c))),
        entityKeys(keys),
      ),
    ),
    systemFormXml(planForm(kind, manifest, columns)),
    ribbonDiff(),
  );
}

export function customizationsXml(manifest: ControlManifest): string {
  const keysOf = (table: string) => Object.values(ALTERNATE_KEYS).filter((k) => k.table === table);
  return renderXml(
    el(
      "ImportExportXml",
      { "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance" },
      el(
        "Entities",
        undefined,
        // Exports order entities by name: cosell_Solution, Lead, Opportunity.
        catalogueEntity(),
        shellEntity("lead", "Lead", LEAD_COLUMNS, keysOf(Table.lead.logicalName), manifest),
        shellEntity("opportunity", "Opportunity", OPPORTUNITY_COLUMNS, keysOf(Table.opportunity.logicalName), manifest),
      ),
      el("Roles", undefined, ROLES.map(roleXml)),
      el("Workflows"),
      el("FieldSecurityProfiles"),
      el("Templates"),
      el("EntityMaps"),
      el("EntityRelationships", undefined, catalogueRelationships()),
      el("OrganizationSettings"),
      el("optionsets", undefined, globalOptionSets()),
      el("WebResources", undefined, webResourceXml()),
      el("CustomControls", undefined, customControlXml()),
      el("EntityDataProviders"),
      el("Languages", undefined, leaf("Language", LANGUAGE_CODE)),
    ),
  );
}
