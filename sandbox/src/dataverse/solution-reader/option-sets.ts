/**
 * Option sets, inline on a column (`attribute/optionset`) or global (root `<optionsets>`).
 * Choices and Yes/No keep `options/option`; statecode keeps `states/state`, statuscode
 * `statuses/status` (each status reason names its state).
 */
import type { OptionDefinition, OptionSetDefinition } from "./types";
import { checkSchemaName, labels, optionalFlag, parseInteger, requiredText } from "./values";
import type { XmlElement } from "./xml";

const OPTION_SET_TYPES = new Set(["picklist", "bit", "state", "status"]);

export function readOptionSet(element: XmlElement, where: "inline" | "global"): OptionSetDefinition {
  const name = checkSchemaName(element, element.requiredAttribute("Name"), "option set Name");
  const optionSetType = requiredText(element, "OptionSetType");
  if (!OPTION_SET_TYPES.has(optionSetType)) {
    element.required("OptionSetType").fail(`unknown option set type '${optionSetType}'`);
  }
  const isGlobal = optionalFlag(element, "IsGlobal", where === "global");
  if (where === "global" && !isGlobal) element.fail("an option set under <optionsets> must be global (IsGlobal 1)");

  let options: OptionDefinition[];
  if (optionSetType === "state") {
    options = element.list("states/state").map((state) => ({
      ...readOption(state),
      ...optionalAttributeInteger(state, "defaultstatus", "defaultStatus"),
    }));
  } else if (optionSetType === "status") {
    options = element.list("statuses/status").map((status) => ({
      ...readOption(status),
      state: parseInteger(status, status.requiredAttribute("state"), "state", { min: 0 }),
    }));
  } else {
    options = element.list("options/option").map(readOption);
  }

  const seen = new Set<number>();
  options.forEach((option, index) => {
    if (seen.has(option.value)) element.fail(`option value ${option.value} appears twice (option ${index + 1})`);
    seen.add(option.value);
  });
  if (optionSetType === "bit") {
    const values = options.map((o) => o.value).sort();
    if (values.length !== 2 || values[0] !== 0 || values[1] !== 1) {
      element.fail(`a Yes/No option set has exactly the options 0 and 1, found [${values.join(", ")}]`);
    }
  }

  return {
    name,
    optionSetType,
    isGlobal,
    displayNames: labels(element, "displaynames/displayname"),
    options,
  };
}

function readOption(element: XmlElement): OptionDefinition {
  return {
    value: parseInteger(element, element.requiredAttribute("value"), "value"),
    labels: labels(element, "labels/label"),
  };
}

function optionalAttributeInteger<K extends string>(
  element: XmlElement,
  attribute: string,
  key: K,
): Partial<Record<K, number>> {
  const raw = element.attribute(attribute);
  if (raw === undefined || raw.trim() === "") return {};
  return { [key]: parseInteger(element, raw, attribute) } as Partial<Record<K, number>>;
}
