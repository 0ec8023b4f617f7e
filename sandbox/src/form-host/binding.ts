/**
 * How the sandbox form binds the control, as the solution's FormXml does on a real form: one
 * column per bound property (property names are the contract's column keys), plus the two static
 * inputs. Pure: a Web API row in, PCF-shaped parameters out; control outputs in, a PATCH body out.
 */
import {
  GLOBAL_CHOICES,
  LEAD_COLUMNS,
  LeadColumn,
  OPPORTUNITY_COLUMNS,
  OpportunityColumn,
  SystemColumn,
  Table,
  type ColumnDefinition,
} from "@cosell/contract";

export type FormKind = "opportunity" | "lead";

/** PCF `of-type` of a bound property, from the column's type. */
export type PropertyType =
  | "TwoOptions"
  | "OptionSet"
  | "Multiple"
  | "SingleLine.Text"
  | "SingleLine.URL"
  | "DateAndTime.DateAndTime";

export interface BoundProperty {
  /** The manifest property name (= the contract's key for the column). */
  readonly name: string;
  readonly column: string;
  readonly type: PropertyType;
  /** The control may write it (the bridge owns the read-only ones). */
  readonly writable: boolean;
}

export interface FormBinding {
  readonly kind: FormKind;
  readonly entitySetName: string;
  readonly primaryIdAttribute: string;
  /** The column shown as the record's title above the form. */
  readonly titleColumn: string;
  readonly properties: readonly BoundProperty[];
}

function propertyType(c: ColumnDefinition): PropertyType {
  switch (c.type.kind) {
    case "boolean":
      return "TwoOptions";
    case "choice":
      return "OptionSet";
    case "memo":
      return "Multiple";
    case "datetime":
      return "DateAndTime.DateAndTime";
    default:
      return c.type.format === "url" ? "SingleLine.URL" : "SingleLine.Text";
  }
}

function properties(names: Readonly<Record<string, string>>, columns: readonly ColumnDefinition[]): BoundProperty[] {
  const byColumn = new Map(columns.map((c) => [c.logicalName, c]));
  return Object.entries(names).map(([name, column]) => {
    const definition = byColumn.get(column);
    if (!definition) throw new Error(`contract column ${column} has no definition`);
    return { name, column, type: propertyType(definition), writable: !definition.readOnlyOnForm };
  });
}

export function bindingFor(kind: FormKind): FormBinding {
  return kind === "lead"
    ? {
        kind,
        entitySetName: Table.lead.entitySetName,
        primaryIdAttribute: Table.lead.primaryIdAttribute,
        titleColumn: SystemColumn.lead.subject,
        properties: properties(LeadColumn, LEAD_COLUMNS),
      }
    : {
        kind,
        entitySetName: Table.opportunity.entitySetName,
        primaryIdAttribute: Table.opportunity.primaryIdAttribute,
        titleColumn: SystemColumn.opportunity.name,
        properties: properties(OpportunityColumn, OPPORTUNITY_COLUMNS),
      };
}

/** `$select` of everything the form shows. */
export function selectFor(binding: FormBinding): string {
  return [binding.primaryIdAttribute, binding.titleColumn, ...binding.properties.map((p) => p.column)].join(",");
}

export type Row = Readonly<Record<string, unknown>>;

/** What `context.parameters.<name>` holds for a bound property (ComponentFramework.PropertyTypes.Property). */
export interface PropertyValue {
  raw: unknown;
  formatted: string;
  type: string;
  error: boolean;
  errorMessage: string;
  attributes?: { LogicalName: string; Options?: { Value: number; Label: string }[] };
}

const FORMATTED = "@OData.Community.Display.V1.FormattedValue";

function rawValue(p: BoundProperty, value: unknown): unknown {
  switch (p.type) {
    case "TwoOptions":
      return value === true; // a Yes/No column is never null on a form
    case "OptionSet":
      return typeof value === "number" ? value : null;
    case "DateAndTime.DateAndTime":
      return typeof value === "string" && value ? new Date(value) : null;
    default:
      return typeof value === "string" && value ? value : null;
  }
}

/** Options of "How can Microsoft help?" as the platform passes them: from metadata when read, else the contract's. */
export const DEFAULT_HELP_OPTIONS = GLOBAL_CHOICES.helpNeeded.options.map((o) => ({ Value: o.value, Label: o.label }));

export interface StaticInputs {
  readonly checkmarks?: "environment" | "show" | "hide";
  readonly helpOptions?: readonly { Value: number; Label: string }[];
}

/** `context.parameters` for a row. */
export function parametersFor(binding: FormBinding, row: Row, inputs: StaticInputs = {}): Record<string, unknown> {
  const parameters: Record<string, unknown> = {
    formKind: { raw: binding.kind, type: "Enum" },
    checkmarks: { raw: inputs.checkmarks ?? "environment", type: "Enum" },
  };
  for (const p of binding.properties) {
    const raw = rawValue(p, row[p.column]);
    const formatted = row[`${p.column}${FORMATTED}`];
    const value: PropertyValue = {
      raw,
      formatted: typeof formatted === "string" ? formatted : raw === null ? "" : String(raw),
      type: p.type,
      error: false,
      errorMessage: "",
      attributes: { LogicalName: p.column },
    };
    if (p.column === OpportunityColumn.microsoftHelp) {
      value.attributes = { LogicalName: p.column, Options: [...(inputs.helpOptions ?? DEFAULT_HELP_OPTIONS)] };
    }
    parameters[p.name] = value;
  }
  return parameters;
}

/**
 * The PATCH body for the control's outputs: writable bound properties only; `undefined` (a cleared
 * value) becomes null; dates go as ISO strings.
 */
export function patchFor(binding: FormBinding, outputs: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const p of binding.properties) {
    if (!p.writable || !(p.name in outputs)) continue;
    const value = outputs[p.name];
    body[p.column] = value === undefined ? null : value instanceof Date ? value.toISOString() : value;
  }
  return body;
}

/** Bound properties whose column differs between two reads of the row (the `updatedProperties`). */
export function changedProperties(binding: FormBinding, before: Row, after: Row): string[] {
  return binding.properties.filter((p) => before[p.column] !== after[p.column]).map((p) => p.name);
}
