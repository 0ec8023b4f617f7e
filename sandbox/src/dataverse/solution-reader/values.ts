/**
 * Strict readers of the values the emulator uses. Elements we do not use are never read, so an
 * export with new elements still imports; a value we do use that is malformed names itself.
 */
import type { LocalizedLabel } from "./types";
import type { XmlElement } from "./xml";

const INTEGER = /^[-+]?\d+$/;
/** xs:double as exports write it (`1E-10`, `922337203685477`, `-1.5`). */
const DOUBLE = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const GUID = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;
/** Schema and logical names of tables, columns, keys, option sets: letters, digits, underscore. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Trimmed text of child `name`, or undefined when the element is absent or empty. */
export function optionalText(parent: XmlElement, name: string): string | undefined {
  const text = parent.one(name)?.text.trim();
  return text === undefined || text === "" ? undefined : text;
}

export function requiredText(parent: XmlElement, name: string): string {
  const element = parent.required(name);
  const text = element.text.trim();
  if (text === "") element.fail("is empty");
  return text;
}

export function parseInteger(
  element: XmlElement,
  raw: string,
  what: string,
  range?: { min?: number; max?: number },
): number {
  const text = raw.trim();
  const value = INTEGER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) element.fail(`${what} '${raw}' is not an integer`);
  if (range?.min !== undefined && value < range.min) element.fail(`${what} ${value} is below ${range.min}`);
  if (range?.max !== undefined && value > range.max) element.fail(`${what} ${value} is above ${range.max}`);
  return value;
}

export function optionalInteger(
  parent: XmlElement,
  name: string,
  range?: { min?: number; max?: number },
): number | undefined {
  const element = parent.one(name);
  const text = element?.text.trim();
  if (element === undefined || text === undefined || text === "") return undefined;
  return parseInteger(element, text, `<${name}>`, range);
}

export function requiredInteger(parent: XmlElement, name: string, range?: { min?: number; max?: number }): number {
  const value = optionalInteger(parent, name, range);
  return value ?? parent.fail(`<${name}> is missing or empty`, { child: name });
}

export function optionalDouble(parent: XmlElement, name: string): number | undefined {
  const element = parent.one(name);
  const text = element?.text.trim();
  if (element === undefined || text === undefined || text === "") return undefined;
  if (!DOUBLE.test(text) || !Number.isFinite(Number(text))) element.fail(`<${name}> '${text}' is not a number`);
  return Number(text);
}

/** `0`/`1` flags (TrueFalse01Type); absent means `fallback`. */
export function optionalFlag(parent: XmlElement, name: string, fallback: boolean): boolean {
  const element = parent.one(name);
  const text = element?.text.trim();
  if (element === undefined || text === undefined || text === "") return fallback;
  if (text !== "0" && text !== "1") element.fail(`<${name}> '${text}' must be 0 or 1`);
  return text === "1";
}

/** A GUID as the Web API writes it (lower case, no braces), or undefined when it is not one. */
export function normaliseGuid(raw: string): string | undefined {
  return GUID.exec(raw.trim())?.[1]?.toLowerCase();
}

export function parseGuid(element: XmlElement, raw: string, what: string): string {
  return normaliseGuid(raw) ?? element.fail(`${what} '${raw}' is not a GUID`);
}

export function checkSchemaName(element: XmlElement, name: string, what: string): string {
  if (!SCHEMA_NAME.test(name)) element.fail(`${what} '${name}' is not a valid name (letters, digits, underscore)`);
  return name;
}

/**
 * Labels of a `<displaynames><displayname description languagecode/>` style list. A label
 * without a language is malformed; one language twice is too.
 */
export function labels(parent: XmlElement, path: string): LocalizedLabel[] {
  const result: LocalizedLabel[] = [];
  for (const element of parent.list(path)) {
    const description = element.attribute("description") ?? "";
    const languageCode = parseInteger(element, element.requiredAttribute("languagecode"), "languagecode", {
      min: 1,
    });
    if (result.some((l) => l.languageCode === languageCode)) {
      element.fail(`language ${languageCode} is labelled twice`);
    }
    result.push({ label: description, languageCode });
  }
  return result;
}

/** The label in `languageCode`, else the first one. */
export function pickLabel(list: readonly LocalizedLabel[], languageCode: number): string | undefined {
  return (list.find((l) => l.languageCode === languageCode) ?? list[0])?.label;
}
