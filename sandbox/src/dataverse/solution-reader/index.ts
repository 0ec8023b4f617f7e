/**
 * Reads a Dataverse solution zip (an environment export or pac/msbuild output) into the
 * `SolutionContents` the emulator's ImportSolution applies. Pure and synchronous: bytes in,
 * contents out, or a `SolutionReadError` that names the file and element Dataverse would refuse.
 */
import { DEFAULT_LIMITS, openArchive, type SolutionArchive } from "./archive";
import { readCustomControls, readEnvironmentVariables, readRoles, readWebResources } from "./components";
import { readEntity } from "./entities";
import { readManifest } from "./manifest";
import { readOptionSet } from "./option-sets";
import type { EntityDefinition, FormContents, OptionSetDefinition, SolutionContents } from "./types";
import { SolutionReadError } from "./types";
import { optionalText } from "./values";
import { decodeText, parseXml, type XmlElement } from "./xml";

export * from "./types";

export interface ReadSolutionOptions {
  /** Most entries the zip may hold (default 10,000). */
  readonly maxEntries?: number;
  /** Most bytes the entries may inflate to, judged before inflating (default 256 MiB). */
  readonly maxTotalBytes?: number;
}

const CONTENT_TYPES = "[Content_Types].xml";
const SOLUTION = "solution.xml";
const CUSTOMIZATIONS = "customizations.xml";

export function readSolutionZip(zip: Uint8Array, options: ReadSolutionOptions = {}): SolutionContents {
  const archive = openArchive(zip, {
    maxEntries: options.maxEntries ?? DEFAULT_LIMITS.maxEntries,
    maxTotalBytes: options.maxTotalBytes ?? DEFAULT_LIMITS.maxTotalBytes,
  });
  readXmlFile(archive, CONTENT_TYPES, "Types");
  const manifest = readManifest(readXmlFile(archive, SOLUTION, "ImportExportXml"));
  const customizations = readXmlFile(archive, CUSTOMIZATIONS, "ImportExportXml");

  const optionSets = readGlobalOptionSets(customizations);
  const globalOptionSets = new Map(optionSets.map((o) => [o.name, o]));
  const context = {
    languageCode: manifest.languageCode,
    globalOptionSets,
    lookupTargets: readLookupTargets(customizations),
  };

  const entities: EntityDefinition[] = [];
  const forms: FormContents[] = [];
  const formIds = new Set<string>();
  for (const element of customizations.list("Entities/Entity")) {
    const { entity, forms: entityForms } = readEntity(element, context);
    if (entities.some((e) => e.logicalName === entity.logicalName)) {
      element.fail(`table '${entity.schemaName}' appears twice`);
    }
    entities.push(entity);
    for (const form of entityForms) {
      if (formIds.has(form.formId)) element.fail(`form ${form.formId} appears twice`, { child: "FormXml" });
      formIds.add(form.formId);
      forms.push(form);
    }
  }

  const { languageCode: _languageCode, ...solution } = manifest;
  return {
    ...solution,
    entities,
    optionSets,
    environmentVariables: readEnvironmentVariables(customizations, archive, manifest.languageCode),
    webResources: readWebResources(customizations, archive),
    customControls: readCustomControls(customizations, archive),
    forms,
    roles: readRoles(customizations),
  };
}

function readXmlFile(archive: SolutionArchive, name: string, root: string): XmlElement {
  const file = archive.get(name);
  if (file === undefined) throw new SolutionReadError(`the zip has no ${name}`, name);
  return parseXml(file.name, decodeText(file.name, file.bytes), root);
}

function readGlobalOptionSets(customizations: XmlElement): OptionSetDefinition[] {
  const names = new Set<string>();
  return customizations.list("optionsets/optionset").map((element) => {
    const optionSet = readOptionSet(element, "global");
    if (names.has(optionSet.name)) element.fail(`option set '${optionSet.name}' appears twice`);
    names.add(optionSet.name);
    return optionSet;
  });
}

/** One-to-many relationships say what each lookup column points at. */
function readLookupTargets(customizations: XmlElement): Map<string, string[]> {
  const targets = new Map<string, string[]>();
  for (const relationship of customizations.list("EntityRelationships/EntityRelationship")) {
    const type = optionalText(relationship, "EntityRelationshipType");
    const referencing = optionalText(relationship, "ReferencingEntityName");
    const referenced = optionalText(relationship, "ReferencedEntityName");
    const column = optionalText(relationship, "ReferencingAttributeName");
    if (type !== "OneToMany" || !referencing || !referenced || !column) continue;
    const key = `${referencing.toLowerCase()}/${column.toLowerCase()}`;
    const list = targets.get(key) ?? [];
    if (!list.includes(referenced.toLowerCase())) list.push(referenced.toLowerCase());
    targets.set(key, list);
  }
  return targets;
}
