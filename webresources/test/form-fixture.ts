/**
 * An opportunity form in xrm-mock, wired the way the solution registers the handlers (from
 * FORM_EVENT_HANDLERS), with Xrm.WebApi stubbed. Shared by the form and bundle tests.
 */
import { OpportunityColumn } from "@cosell/contract";
import { SaveEventContextMock, XrmMockGenerator, type StandardControlMock } from "xrm-mock";
import { StandardOpportunityColumn } from "../src/dataverse-names";
import { FORM_EVENT_HANDLERS } from "../src/handlers";

export type Handlers = Readonly<Record<string, (context: Xrm.Events.EventContext) => void>>;

export const ACCOUNT: Xrm.LookupValue = { id: "{A0000000-0000-0000-0000-000000000001}", name: "Contoso", entityType: "account" };
export const OTHER_ACCOUNT: Xrm.LookupValue = { id: "{A0000000-0000-0000-0000-000000000002}", name: "Fabrikam", entityType: "account" };
export const CONTACT: Xrm.LookupValue = { id: "{C0000000-0000-0000-0000-000000000001}", name: "Ada Lovelace", entityType: "contact" };

export interface OpportunitySetup {
  sync?: boolean;
  help?: number | null;
  share?: boolean;
  products?: string | null;
  referralId?: string | null;
  syncState?: number | null;
  syncError?: string | null;
  customer?: Xrm.LookupValue | null;
  contact?: Xrm.LookupValue | null;
  /** The deal value column; `null` leaves it off the form. */
  dealValueColumn?: string | null;
  dealValue?: number | null;
  closeDate?: Date | null;
  /** Control options per column (hidden, PCF …), for the first control of that column. */
  controls?: Readonly<Record<string, { visible?: boolean; controlType?: string }>>;
}

/** Complete: an opportunity Partner Center would accept. */
export const COMPLETE: Required<Omit<OpportunitySetup, "controls">> = {
  sync: true,
  help: null,
  share: false,
  products: "SOL-15974-MQF",
  referralId: null,
  syncState: null,
  syncError: null,
  customer: ACCOUNT,
  contact: null,
  dealValueColumn: "estimatedvalue",
  dealValue: 50_000,
  closeDate: new Date("2030-01-31T00:00:00Z"),
};

const READ_ONLY_TEXT = [
  OpportunityColumn.engagementId,
  OpportunityColumn.referralLink,
  OpportunityColumn.referralStatus,
  OpportunityColumn.referralSubstatus,
  OpportunityColumn.microsoftCrmId,
  OpportunityColumn.audit,
];

/** Creates the form; with no argument, one with sync off and nothing filled in. */
export function createOpportunityForm(setup: OpportunitySetup = {}): void {
  XrmMockGenerator.initialise({ entity: { entityName: "opportunity", id: "{0A000000-0000-0000-0000-0000000000AA}" } });
  const A = XrmMockGenerator.Attribute;
  const control = (name: string) => {
    const c = setup.controls?.[name];
    return c ? [{ name, visible: c.visible, controlType: c.controlType as Xrm.Controls.ControlType | undefined }] : [{ name }];
  };
  A.createBoolean({ name: OpportunityColumn.syncWithPartnerCenter, value: setup.sync ?? false }, control(OpportunityColumn.syncWithPartnerCenter));
  A.createOptionSet({ name: OpportunityColumn.microsoftHelp, value: setup.help ?? null }, control(OpportunityColumn.microsoftHelp));
  A.createBoolean({ name: OpportunityColumn.shareWithMicrosoft, value: setup.share ?? false }, control(OpportunityColumn.shareWithMicrosoft));
  A.createString({ name: OpportunityColumn.products, value: setup.products ?? null }, control(OpportunityColumn.products));
  A.createString({ name: OpportunityColumn.referralId, value: setup.referralId ?? null }, control(OpportunityColumn.referralId));
  for (const name of READ_ONLY_TEXT) A.createString({ name, value: null }, control(name));
  A.createOptionSet({ name: OpportunityColumn.syncState, value: setup.syncState ?? null }, control(OpportunityColumn.syncState));
  A.createDate({ name: OpportunityColumn.lastSyncedOn, value: null }, control(OpportunityColumn.lastSyncedOn));
  A.createString({ name: OpportunityColumn.syncError, value: setup.syncError ?? null }, control(OpportunityColumn.syncError));
  A.createOptionSet({ name: OpportunityColumn.referralAction, value: null }, control(OpportunityColumn.referralAction));
  A.createString({ name: OpportunityColumn.declineReason, value: null }, control(OpportunityColumn.declineReason));
  const lookup = (name: string, value: Xrm.LookupValue | null | undefined) =>
    A.createLookup({ name, value: value ? [value] : null }, control(name));
  lookup(StandardOpportunityColumn.customer, setup.customer);
  lookup(StandardOpportunityColumn.customerContact, setup.contact);
  A.createDate({ name: StandardOpportunityColumn.estimatedCloseDate, value: setup.closeDate ?? null }, control(StandardOpportunityColumn.estimatedCloseDate));
  const dealValueColumn = setup.dealValueColumn === undefined ? "estimatedvalue" : setup.dealValueColumn;
  if (dealValueColumn !== null) A.createNumber({ name: dealValueColumn, value: setup.dealValue ?? null }, control(dealValueColumn));
}

/** Registers every OnChange handler on its column, as the solution's FormXml does. */
export function wireOnChange(handlers: Handlers): void {
  for (const h of FORM_EVENT_HANDLERS) {
    if (h.event !== "onchange" || h.column === undefined) continue;
    const handler = handlers[h.handler];
    if (!handler) throw new Error(`no handler ${h.handler}`);
    form().getAttribute(h.column)?.addOnChange(handler);
  }
}

export const form = (): Xrm.FormContext => XrmMockGenerator.getFormContext();
export const eventContext = (): Xrm.Events.EventContext => XrmMockGenerator.getEventContext();

/** The seller edits a column: the value changes and the platform fires OnChange. */
export function change(column: string, value: unknown): void {
  const attribute = form().getAttribute(column);
  if (!attribute) throw new Error(`no attribute ${column} on the form`);
  (attribute as Xrm.Attributes.Attribute & { setValue(v: unknown): void }).setValue(value);
  attribute.fireOnChange();
}

/** Runs OnSave as the platform would; returns whether the save was let through. */
export function save(handlers: Handlers, saveMode = 1): boolean {
  const context = new SaveEventContextMock({
    context: XrmMockGenerator.context,
    formContext: form(),
    saveMode: saveMode as XrmEnum.SaveMode,
  });
  const onSave = handlers["onSave"];
  if (!onSave) throw new Error("no onSave handler");
  onSave(context);
  return !context.getEventArgs().isDefaultPrevented();
}

export function controlOf(column: string): StandardControlMock<never, never, never> {
  const c = form().getControl(column);
  if (!c) throw new Error(`no control ${column}`);
  return c as unknown as StandardControlMock<never, never, never>;
}

/** The messages a column's control shows. */
export function fieldMessages(column: string): string[] {
  return controlOf(column)
    .getNotifications()
    .flatMap((n) => n.messages);
}

export interface ShownFormNotification {
  readonly message: string;
  readonly level: Xrm.FormNotificationLevel;
  readonly uniqueId: string;
}

export function formNotifications(): ShownFormNotification[] {
  return [...((form().ui as unknown as { formNotifications?: ShownFormNotification[] }).formNotifications ?? [])];
}

export function formNotification(uniqueId: string): ShownFormNotification | undefined {
  return formNotifications().find((n) => n.uniqueId === uniqueId);
}

function definition(schemaname: string, value: string) {
  return { schemaname, defaultvalue: null, environmentvariabledefinition_environmentvariablevalue: [{ value }] };
}

/** Stubs the environment variable query; `values` are current values by schema name. */
export function stubEnvironment(values: Partial<Record<string, string>> = {}): jest.SpyInstance {
  const entities = Object.entries(values).map(([name, value]) => definition(name, value ?? ""));
  return jest.spyOn(Xrm.WebApi, "retrieveMultipleRecords").mockResolvedValue({ entities } as never);
}

/** Stubs account reads with one answer per call, the last repeating; an Error rejects like Xrm.WebApi. */
export function stubAccounts(...answers: (Readonly<Record<string, unknown>> | Error)[]): jest.SpyInstance {
  const queue = answers.length > 0 ? answers : [{ address1_country: "US" }];
  let call = 0;
  return jest
    .spyOn(Xrm.WebApi, "retrieveRecord")
    .mockImplementation(() => webApiAnswer(queue[Math.min(call++, queue.length - 1)] ?? {}) as never);
}

function webApiAnswer(answer: Readonly<Record<string, unknown>> | Error): Promise<unknown> {
  // Xrm.WebApi rejects with { errorCode, message }, not an Error.
  return answer instanceof Error ? Promise.reject({ errorCode: 0x80040217, message: answer.message }) : Promise.resolve(answer);
}

