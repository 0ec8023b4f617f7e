/** Pieces every `<Entity>` of the export carries: alternate keys and the (empty) ribbon diff. */
import type { AlternateKeyDefinition } from "@cosell/contract";
import { el, leaf, type XmlElement } from "../xml";
import { INTRODUCED_VERSION, displaynames, flag } from "./common";

/** `EntityKeys`, right after `</attributes>` (UpsertSample export). */
export function entityKeys(keys: readonly AlternateKeyDefinition[]): XmlElement | undefined {
  if (keys.length === 0) return undefined;
  return el(
    "EntityKeys",
    undefined,
    keys.map((k) =>
      el(
        "EntityKey",
        undefined,
        leaf("Name", k.logicalName),
        leaf("LogicalName", k.logicalName),
        leaf("IntroducedVersion", INTRODUCED_VERSION),
        flag("IsCustomizable", true),
        el("EntityKeyAttributes", undefined, k.attributes.map((a) => leaf("AttributeName", a))),
        displaynames(k.displayName),
      ),
    ),
  );
}

/** The ribbon diff every exported entity carries, empty when the solution changes no command. */
export function ribbonDiff(): XmlElement {
  return el(
    "RibbonDiffXml",
    undefined,
    el("CustomActions"),
    el("Templates", undefined, leaf("RibbonTemplates", "", { Id: "Mscrm.Templates" })),
    el("CommandDefinitions"),
    el("RuleDefinitions", undefined, el("TabDisplayRules"), el("DisplayRules"), el("EnableRules")),
    el("LocLabels"),
  );
}
