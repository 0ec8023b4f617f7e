/** solution.xml: `ImportExportXml/SolutionManifest`. */
import type { RootComponent, SolutionContents } from "./types";
import { checkSchemaName, labels, optionalInteger, parseGuid, parseInteger, pickLabel, requiredText } from "./values";
import type { XmlElement } from "./xml";

export type SolutionManifest = Pick<
  SolutionContents,
  "uniqueName" | "friendlyName" | "version" | "managed" | "managedFlag" | "publisher" | "rootComponents"
> & {
  /** `languagecode` of the package: the language labels are picked in. */
  readonly languageCode: number;
};

const VERSION = /^\d+(\.\d+){1,3}$/;
/** Publisher prefix rules as the maker UI enforces them: a letter, then letters or digits, 2–8. */
const PREFIX = /^[A-Za-z][A-Za-z0-9]{1,7}$/;

export function readManifest(root: XmlElement): SolutionManifest {
  const languageAttribute = root.attribute("languagecode");
  const languageCode =
    languageAttribute === undefined ? 1033 : parseInteger(root, languageAttribute, "languagecode", { min: 1 });
  const manifest = root.required("SolutionManifest");

  const uniqueName = checkSchemaName(
    manifest.required("UniqueName"),
    requiredText(manifest, "UniqueName"),
    "UniqueName",
  );
  const names = labels(manifest, "LocalizedNames/LocalizedName");
  const friendlyName = pickLabel(names, languageCode) ?? uniqueName;

  const version = requiredText(manifest, "Version");
  if (!VERSION.test(version)) {
    manifest.required("Version").fail(`'${version}' is not a version (major.minor[.build[.revision]])`);
  }

  // 2 ("Both") is what `pac solution init` writes into source; a packed zip says 0 or 1.
  const managedFlag = parseInteger(manifest.required("Managed"), requiredText(manifest, "Managed"), "<Managed>", {
    min: 0,
    max: 2,
  }) as 0 | 1 | 2;

  const publisherElement = manifest.required("Publisher");
  const publisherUniqueName = checkSchemaName(
    publisherElement.required("UniqueName"),
    requiredText(publisherElement, "UniqueName"),
    "publisher UniqueName",
  );
  const customizationPrefix = requiredText(publisherElement, "CustomizationPrefix");
  if (!PREFIX.test(customizationPrefix)) {
    publisherElement
      .required("CustomizationPrefix")
      .fail(`'${customizationPrefix}' is not a prefix (a letter, then letters or digits, 2 to 8 in all)`);
  }
  const optionValuePrefix = optionalInteger(publisherElement, "CustomizationOptionValuePrefix", {
    min: 10_000,
    max: 99_999,
  });

  return {
    uniqueName,
    friendlyName,
    version,
    managed: managedFlag === 1,
    managedFlag,
    languageCode,
    publisher: {
      uniqueName: publisherUniqueName,
      customizationPrefix,
      ...(optionValuePrefix === undefined ? {} : { optionValuePrefix }),
    },
    rootComponents: manifest.list("RootComponents/RootComponent").map(readRootComponent),
  };
}

function readRootComponent(element: XmlElement): RootComponent {
  const type = parseInteger(element, element.requiredAttribute("type"), "type", { min: 1 });
  const schemaName = element.attribute("schemaName")?.trim() || undefined;
  const rawId = element.attribute("id")?.trim() || undefined;
  if (schemaName === undefined && rawId === undefined) element.fail("has neither schemaName nor id");
  // A 2015 export omits behavior: it meant "include subcomponents".
  const rawBehavior = element.attribute("behavior");
  const behavior =
    rawBehavior === undefined ? 0 : parseInteger(element, rawBehavior, "behavior", { min: 0, max: 2 });
  return {
    type,
    ...(schemaName === undefined ? {} : { schemaName }),
    ...(rawId === undefined ? {} : { id: parseGuid(element, rawId, "id") }),
    behavior,
  };
}
