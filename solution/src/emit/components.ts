/** Global choices, the web resource and the custom control entries of customizations.xml. */
import { GLOBAL_CHOICES, PCF_CONTROL, WEB_RESOURCE, type GlobalChoice } from "@cosell/contract";
import { braced, stableGuid } from "../ids";
import { el, leaf, renderInline, type XmlElement } from "../xml";
import { INTRODUCED_VERSION, descriptions, displaynames, flag, labels } from "./common";

export function globalOptionSet(choice: GlobalChoice): XmlElement {
  return el(
    "optionset",
    { Name: choice.name, localizedName: choice.displayName },
    leaf("OptionSetType", "picklist"),
    flag("IsGlobal", true),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    flag("IsCustomizable", true),
    leaf("ExternalTypeName", ""),
    displaynames(choice.displayName),
    descriptions(choice.description),
    el(
      "options",
      undefined,
      choice.options.map((o) => el("option", { value: o.value, ExternalValue: o.api ?? "" }, labels(o.label), descriptions(""))),
    ),
  );
}

export function globalOptionSets(): XmlElement[] {
  return Object.values(GLOBAL_CHOICES).map((c) => globalOptionSet(c));
}

/** 3 = JScript (webresourcetype). */
export const JSCRIPT = 3;

export function webResourceId(): string {
  return stableGuid(`webresource/${WEB_RESOURCE.name}`);
}

/**
 * Exports store a web resource as `WebResources/<name without "/" and ".">` + its id in upper case
 * without braces, no extension (cdsify and SecondaryRecordSource exports).
 */
export function webResourceFileName(): string {
  return `/WebResources/${WEB_RESOURCE.name.replace(/[/.]/g, "")}${webResourceId().toUpperCase()}`;
}

export function webResourceXml(): XmlElement {
  const dependencies = renderInline(el("Dependencies", undefined, el("Dependency", { componentType: "WebResource" })));
  return el(
    "WebResource",
    undefined,
    leaf("WebResourceId", braced(webResourceId())),
    leaf("Name", WEB_RESOURCE.name),
    leaf("DisplayName", WEB_RESOURCE.displayName),
    leaf("WebResourceType", JSCRIPT),
    leaf("IntroducedVersion", INTRODUCED_VERSION),
    flag("IsEnabledForMobileClient", false),
    flag("IsAvailableForMobileOffline", false),
    leaf("DependencyXml", dependencies),
    flag("IsCustomizable", true),
    flag("CanBeDeleted", true),
    flag("IsHidden", false),
    leaf("FileName", webResourceFileName()),
  );
}

export function controlFolder(): string {
  return `Controls/${PCF_CONTROL.fullName}`;
}

export function customControlXml(): XmlElement {
  return el(
    "CustomControl",
    undefined,
    leaf("Name", PCF_CONTROL.fullName),
    leaf("FileName", `/${controlFolder()}/ControlManifest.xml`),
  );
}
