/**
 * solution.xml: identity, version, managed flag, publisher and root components.
 *
 * Root components (componenttype, rootcomponentbehavior):
 *  - opportunity, lead: type 1, behavior 2 "shell": we add columns, keys and a form diff to tables we
 *    do not own; a shell carries only those (cdsify export; behavior 1 is for forms only).
 *  - cosell_solution: type 1, behavior 0: the whole table is ours.
 *  - global choices: type 9; the web resource: 61; the PCF control: 66; roles: 20 by id.
 *  - environment variable definitions: no root component. Both Microsoft exports we have (Contoso
 *    sample, CoE starter kit, 65 definitions) list none; the definitions travel as their own folder.
 *  - forms: no type 60 root; a form of a table in the solution is a subcomponent of that table.
 */
import { GLOBAL_CHOICES, PCF_CONTROL, PUBLISHER, SOLUTION, SOLUTION_CATALOG_TABLE, Table, WEB_RESOURCE, solutionVersion } from "@cosell/contract";
import { braced } from "../ids";
import { el, leaf, renderXml, type XmlElement } from "../xml";
import { LANGUAGE_CODE, localizedNames } from "./common";
import { ROLES, roleId } from "./roles";

export interface RootComponentSpec {
  readonly type: number;
  readonly schemaName?: string;
  readonly id?: string;
  readonly behavior: 0 | 1 | 2;
}

export const ComponentTypeCode = { Entity: 1, OptionSet: 9, Role: 20, WebResource: 61, CustomControl: 66 } as const;

export function rootComponents(): RootComponentSpec[] {
  const list: RootComponentSpec[] = [
    { type: ComponentTypeCode.Entity, schemaName: SOLUTION_CATALOG_TABLE.logicalName, behavior: 0 },
    { type: ComponentTypeCode.Entity, schemaName: Table.lead.logicalName, behavior: 2 },
    { type: ComponentTypeCode.Entity, schemaName: Table.opportunity.logicalName, behavior: 2 },
    ...Object.values(GLOBAL_CHOICES).map((c) => ({ type: ComponentTypeCode.OptionSet, schemaName: c.name, behavior: 0 as const })),
    ...ROLES.map((r) => ({ type: ComponentTypeCode.Role, id: braced(roleId(r)), behavior: 0 as const })),
    { type: ComponentTypeCode.WebResource, schemaName: WEB_RESOURCE.name, behavior: 0 },
    { type: ComponentTypeCode.CustomControl, schemaName: PCF_CONTROL.fullName, behavior: 0 },
  ];
  const key = (r: RootComponentSpec) => `${String(r.type).padStart(4, "0")}|${r.schemaName ?? ""}|${r.id ?? ""}`;
  return list.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The header of the newest export we learned from (2025); Dataverse accepts older and newer ones. */
export const EXPORT_HEADER = { version: "9.2.25063.198", SolutionPackageVersion: "9.2" } as const;

const nil = (name: string): XmlElement => leaf(name, "", { "xsi:nil": "true" });

function address(n: number): XmlElement {
  const nils = [
    "AddressTypeCode", "City", "County", "Country", "Fax", "FreightTermsCode", "ImportSequenceNumber", "Latitude",
    "Line1", "Line2", "Line3", "Longitude", "Name", "PostalCode", "PostOfficeBox", "PrimaryContactName",
    "ShippingMethodCode", "StateOrProvince", "Telephone1", "Telephone2", "Telephone3", "TimeZoneRuleVersionNumber",
    "UPSZone", "UTCOffset", "UTCConversionTimeZoneCode",
  ];
  return el("Address", undefined, leaf("AddressNumber", n), nils.map(nil));
}

export function solutionManifestXml(options: { managed: boolean; version?: string }): string {
  return renderXml(
    el(
      "ImportExportXml",
      {
        version: EXPORT_HEADER.version,
        SolutionPackageVersion: EXPORT_HEADER.SolutionPackageVersion,
        languagecode: LANGUAGE_CODE,
        generatedBy: "CrmLive",
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
      },
      el(
        "SolutionManifest",
        undefined,
        leaf("UniqueName", SOLUTION.uniqueName),
        localizedNames(SOLUTION.friendlyName),
        el("Descriptions", undefined, el("Description", { description: SOLUTION.description, languagecode: LANGUAGE_CODE })),
        leaf("Version", options.version ?? solutionVersion()),
        leaf("Managed", options.managed ? 1 : 0),
        el(
          "Publisher",
          undefined,
          leaf("UniqueName", PUBLISHER.uniqueName),
          localizedNames(PUBLISHER.friendlyName),
          el("Descriptions", undefined, el("Description", { description: PUBLISHER.friendlyName, languagecode: LANGUAGE_CODE })),
          nil("EMailAddress"),
          nil("SupportingWebsiteUrl"),
          leaf("CustomizationPrefix", PUBLISHER.customizationPrefix),
          leaf("CustomizationOptionValuePrefix", PUBLISHER.optionValuePrefix),
          el("Addresses", undefined, address(1), address(2)),
        ),
        el(
          "RootComponents",
          undefined,
          rootComponents().map((r) => el("RootComponent", { type: r.type, schemaName: r.schemaName, id: r.id, behavior: r.behavior })),
        ),
        el("MissingDependencies"),
      ),
    ),
  );
}
