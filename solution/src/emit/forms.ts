/**
 * FormXml diffs for the system main forms of opportunity and lead: a "Microsoft Partner Center" tab
 * and section hosting the PCF control, the read-only columns, and (opportunity) the form library with
 * its handlers. System forms are managed, so an export carries only what we change, marked
 * `solutionaction="Added"` (specs/dataverse.md §7.5, SecondaryRecordSource export); the form's
 * existing tabs are untouched and our tab is appended after them.
 */
import {
  FORM_SECTION,
  LeadColumn,
  OpportunityColumn,
  PCF_CONTROL,
  type ColumnDefinition,
} from "@cosell/contract";
import { FORM_EVENT_HANDLERS, FORM_LIBRARY } from "@cosell/webresources";
import type { ControlManifest, ControlProperty } from "../control-manifest";
import { braced, stableGuid } from "../ids";
import { el, leaf, type XmlElement } from "../xml";
import { INTRODUCED_VERSION, descriptions, labels, localizedNames } from "./common";

/**
 * The Dynamics 365 Sales main forms named "Opportunity" and "Lead". Their ids are the same in every
 * environment (they ship with the Sales app); confirmed in several public exports and scripts.
 * An environment that uses a copy of these forms needs the section added to the copy by hand
 * (solution/README.md, "Which forms").
 */
export const SYSTEM_MAIN_FORMS = {
  opportunity: { formId: "a837e4a7-01b8-4f82-a475-be9abd67e667", name: "Opportunity" },
  lead: { formId: "e3b6ddb7-8df0-4410-ac7b-fd32e5053d38", name: "Lead" },
} as const;

/** Form control classids by column kind (specs/dataverse.md §7.5). */
export const CLASSID = {
  text: "{4273EDBD-AC1D-40d3-9FB2-095C621B552D}",
  url: "{71716B6C-711E-476C-8AB8-5D11542BFB47}",
  memo: "{E0DECE4B-6FC8-4a8f-A065-082708572369}",
  choice: "{3EF39988-22BB-4F0B-BBBE-64B5A3748AEE}",
  boolean: "{67FAC785-CD58-4f9f-ABB3-4B7DDC6ED5ED}",
  datetime: "{5B773807-9FB2-42db-97C3-7A91EFF8ADFF}",
} as const;

export function classIdFor(column: ColumnDefinition): string {
  const t = column.type;
  switch (t.kind) {
    case "text":
      return t.format === "url" ? CLASSID.url : CLASSID.text;
    case "memo":
      return CLASSID.memo;
    case "choice":
      return CLASSID.choice;
    case "boolean":
      return CLASSID.boolean;
    case "datetime":
      return CLASSID.datetime;
  }
}

/** PCF property types a column kind can be bound to (manifest `of-type`). */
function compatibleTypes(column: ColumnDefinition): readonly string[] {
  const t = column.type;
  switch (t.kind) {
    case "text":
      return t.format === "url" ? ["SingleLine.URL", "SingleLine.Text"] : ["SingleLine.Text", "SingleLine.TextArea", "Multiple"];
    case "memo":
      return ["Multiple", "SingleLine.TextArea"];
    case "choice":
      return ["OptionSet"];
    case "boolean":
      return ["TwoOptions"];
    case "datetime":
      return ["DateAndTime.DateAndTime", "DateAndTime.DateOnly"];
  }
}

export class FormBindingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FormBindingError";
  }
}

export type FormKind = "opportunity" | "lead";

export interface FormPlan {
  readonly kind: FormKind;
  readonly entity: FormKind;
  /** The column hosting the control (its cell carries the control's uniqueid). */
  readonly host: ColumnDefinition;
  /** Every column of ours on the table, in contract order. */
  readonly columns: readonly ColumnDefinition[];
  /** Bound manifest property → column logical name. */
  readonly bindings: ReadonlyArray<{ readonly property: string; readonly column: string }>;
  /** Static inputs written on the form. */
  readonly staticInputs: ReadonlyArray<{ readonly property: string; readonly type: string; readonly value: string }>;
  /** Handlers, on the opportunity form only. */
  readonly library?: {
    readonly name: string;
    readonly handlers: ReadonlyArray<{ readonly event: string; readonly functionName: string; readonly column?: string }>;
  };
}

/**
 * The handlers come from the form scripts' own list (`@cosell/webresources` FORM_EVENT_HANDLERS), so
 * the registration and the bundle cannot disagree about a function or a column.
 */
export const FORM_HANDLERS = FORM_EVENT_HANDLERS;

/**
 * Binds the control's properties to columns: a bound property named after a contract key
 * (OpportunityColumn / LeadColumn) is bound to that column. On the opportunity form every bound
 * property must find its column; on the lead form the opportunity-only ones stay unbound, as the
 * manifest allows. Static inputs: `formKind` tells the control which form hosts it.
 */
export function planForm(
  kind: FormKind,
  manifest: ControlManifest,
  columns: readonly ColumnDefinition[],
): FormPlan {
  const keys: Record<string, string> = kind === "opportunity" ? OpportunityColumn : LeadColumn;
  const byLogical = new Map(columns.map((c) => [c.logicalName, c]));
  const bindings: Array<{ property: string; column: string }> = [];
  for (const p of manifest.properties.filter((x: ControlProperty) => x.usage === "bound")) {
    const logical = keys[p.name];
    const column = logical === undefined ? undefined : byLogical.get(logical);
    if (!column) {
      if (kind === "opportunity" || p.required)
        throw new FormBindingError(
          `${kind} form: control property "${p.name}" names no ${kind} column of the contract (expected one of ${Object.keys(keys).join(", ")})`,
        );
      continue;
    }
    if (!compatibleTypes(column).includes(p.ofType))
      throw new FormBindingError(
        `${kind} form: control property "${p.name}" is ${p.ofType}, which cannot bind column ${column.logicalName} (${column.type.kind})`,
      );
    bindings.push({ property: p.name, column: column.logicalName });
  }
  const hostLogical = kind === "opportunity" ? OpportunityColumn.syncWithPartnerCenter : LeadColumn.referralId;
  const host = byLogical.get(hostLogical);
  if (!host) throw new FormBindingError(`${kind} form: host column ${hostLogical} is not a ${kind} column`);
  if (!bindings.some((b) => b.column === host.logicalName))
    throw new FormBindingError(`${kind} form: no control property binds the host column ${host.logicalName}`);

  const staticInputs: Array<{ property: string; type: string; value: string }> = [];
  const formKind = manifest.properties.find((p) => p.name === "formKind" && p.usage === "input");
  if (formKind) {
    if (formKind.enumValues.length > 0 && !formKind.enumValues.includes(kind))
      throw new FormBindingError(`${kind} form: control property formKind has no value "${kind}"`);
    staticInputs.push({ property: formKind.name, type: formKind.ofType, value: kind });
  }
  for (const p of manifest.properties.filter((x) => x.usage === "input" && x.required && x.name !== "formKind")) {
    if (p.defaultValue === undefined)
      throw new FormBindingError(`${kind} form: required control input "${p.name}" has no value to put on the form`);
    staticInputs.push({ property: p.name, type: p.ofType, value: p.defaultValue });
  }

  return {
    kind,
    entity: kind,
    host,
    columns,
    bindings,
    staticInputs,
    ...(kind === "opportunity"
      ? {
          library: {
            name: FORM_LIBRARY,
            handlers: FORM_HANDLERS.map((h) => ({ event: h.event, functionName: h.functionName, ...("column" in h ? { column: h.column } : {}) })),
          },
        }
      : {}),
  };
}

const id = (kind: FormKind, what: string) => braced(stableGuid(`${kind}/form/main/${what}`));

function controlDescription(plan: FormPlan, uniqueId: string): XmlElement {
  const pcf = (formFactor: number) =>
    el(
      "customControl",
      { formFactor, name: PCF_CONTROL.fullName },
      el(
        "parameters",
        undefined,
        plan.bindings.map((b) => leaf(b.property, b.column)),
        plan.staticInputs.map((s) => leaf(s.property, s.value, { type: s.type, static: "true" })),
      ),
    );
  return el(
    "controlDescriptions",
    undefined,
    el(
      "controlDescription",
      { forControl: uniqueId, solutionaction: "Added" },
      el("customControl", { id: classIdFor(plan.host) }, el("parameters", undefined, leaf("datafieldname", plan.host.logicalName))),
      [0, 1, 2].map(pcf),
    ),
  );
}

function section(plan: FormPlan, hostUniqueId: string): XmlElement {
  const cell = (c: ColumnDefinition) => {
    const isHost = c.logicalName === plan.host.logicalName;
    // The control is the seller's editor: the columns it edits stay on the form, hidden, so the form
    // script can read them and react to their changes; the columns only the bridge writes are shown
    // read-only.
    const hidden = !isHost && !c.readOnlyOnForm;
    return el(
      "row",
      undefined,
      el(
        "cell",
        {
          id: id(plan.kind, `cell/${c.logicalName}`),
          showlabel: isHost ? "false" : "true",
          colspan: "1",
          rowspan: "1",
          locklevel: "0",
          visible: hidden ? "false" : undefined,
        },
        labels(c.displayName),
        el("control", {
          id: c.logicalName,
          classid: classIdFor(c),
          datafieldname: c.logicalName,
          disabled: c.readOnlyOnForm ? "true" : "false",
          uniqueid: isHost ? hostUniqueId : undefined,
        }),
      ),
    );
  };
  const host = plan.columns.find((c) => c.logicalName === plan.host.logicalName)!;
  const rest = plan.columns.filter((c) => c !== host);
  const names = FORM_SECTION[plan.kind];
  return el(
    "tab",
    {
      name: `${names.name}_tab`,
      id: id(plan.kind, "tab"),
      IsUserDefined: "0",
      locklevel: "0",
      showlabel: "true",
      expanded: "true",
      solutionaction: "Added",
    },
    labels(names.label),
    el(
      "columns",
      undefined,
      el(
        "column",
        { width: "100%" },
        el(
          "sections",
          undefined,
          el(
            "section",
            {
              name: names.name,
              showlabel: "true",
              showbar: "false",
              locklevel: "0",
              id: id(plan.kind, "section"),
              IsUserDefined: "0",
              layout: "varwidth",
              columns: "1",
              labelwidth: "115",
              celllabelalignment: "Left",
              celllabelposition: "Left",
            },
            labels(names.label),
            el("rows", undefined, cell(host), rest.map(cell)),
          ),
        ),
      ),
    ),
  );
}

function events(plan: FormPlan): XmlElement | undefined {
  const lib = plan.library;
  if (!lib) return undefined;
  const handler = (functionName: string, key: string) =>
    el("Handler", {
      functionName,
      libraryName: lib.name,
      handlerUniqueId: id(plan.kind, `handler/${key}`),
      enabled: "true",
      parameters: "",
      passExecutionContext: "true",
    });
  const key = (h: { event: string; column?: string }) => (h.column ? `${h.event}/${h.column}` : h.event);
  return el(
    "events",
    undefined,
    lib.handlers.map((h) =>
      el(
        "event",
        { name: h.event, application: "false", active: "false", attribute: h.column, solutionaction: "Added" },
        el("Handlers", undefined, handler(h.functionName, key(h))),
      ),
    ),
  );
}

/** The `<FormXml>` of a system table: one main form, as a diff. */
export function systemFormXml(plan: FormPlan): XmlElement {
  const form = SYSTEM_MAIN_FORMS[plan.kind];
  const hostUniqueId = id(plan.kind, `control/${plan.host.logicalName}`);
  return el(
    "FormXml",
    undefined,
    el(
      "forms",
      { type: "main" },
      el(
        "systemform",
        undefined,
        leaf("formid", braced(form.formId)),
        leaf("IntroducedVersion", INTRODUCED_VERSION),
        leaf("FormPresentation", 1),
        leaf("FormActivationState", 1),
        el(
          "form",
          undefined,
          el("tabs", undefined, section(plan, hostUniqueId)),
          controlDescription(plan, hostUniqueId),
          events(plan),
          plan.library &&
            el(
              "formLibraries",
              { solutionaction: "Added" },
              el("Library", { name: plan.library.name, libraryUniqueId: id(plan.kind, "library") }),
            ),
        ),
        localizedNames(form.name),
        descriptions(`The ${form.name} main form of Dynamics 365 Sales, with the Microsoft Partner Center section.`),
      ),
    ),
  );
}
