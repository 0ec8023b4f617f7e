/**
 * `environmentvariabledefinitions/<schema>/environmentvariabledefinition.xml`, one per variable, with
 * the default value first (CoE export order). No `environmentvariablevalues.json`: values differ per
 * environment and are given at import (deploy settings), never shipped in the package.
 */
import { ENVIRONMENT_VARIABLES, type EnvironmentVariableDefinition } from "@cosell/contract";
import { el, leaf, renderXml } from "../xml";
import { INTRODUCED_VERSION, LANGUAGE_CODE, flag } from "./common";

export function environmentVariablePath(v: EnvironmentVariableDefinition): string {
  return `environmentvariabledefinitions/${v.schemaName}/environmentvariabledefinition.xml`;
}

export function environmentVariableXml(v: EnvironmentVariableDefinition): string {
  const label = (name: string, text: string) =>
    el(name, { default: text }, el("label", { description: text, languagecode: LANGUAGE_CODE }));
  return renderXml(
    el(
      "environmentvariabledefinition",
      { schemaname: v.schemaName },
      // An empty default (cosell_BridgeUrl) is left out, as Dataverse exports leave out null columns.
      v.defaultValue !== "" && leaf("defaultvalue", v.defaultValue),
      label("description", v.description),
      label("displayname", v.displayName),
      leaf("introducedversion", INTRODUCED_VERSION),
      flag("iscustomizable", true),
      flag("isrequired", false),
      flag("secretstore", false),
      leaf("type", v.type),
    ),
  );
}

export function environmentVariableFiles(): Array<[string, string]> {
  return ENVIRONMENT_VARIABLES.map((v) => [environmentVariablePath(v), environmentVariableXml(v)]);
}
