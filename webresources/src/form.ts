/**
 * The Xrm shell of the opportunity form: reads facts from the form, asks the pure rules (rules.ts),
 * and shows the answer as notifications, locks and blocked saves. Every handler takes the execution
 * context; nothing here uses Xrm.Page.
 *
 * Asynchronous checks (environment variables, the customer account's country) run on load and on
 * change and are cached for the form load; OnSave itself is synchronous and blocks any save whose
 * outcome depends on a check that has not answered yet (see README "Saving while a check runs").
 */
import { OpportunityColumn, Table } from "@cosell/contract";
import { checkAccountCountry, type AccountCountry } from "./account";
import { READ_ONLY_OPPORTUNITY_COLUMNS } from "./contract-view";
import { xrmWebApiReader, type DataverseReader } from "./dataverse";
import { StandardOpportunityColumn } from "./dataverse-names";
import type { HandlerName } from "./handlers";
import { Messages } from "./messages";
import {
  REQUIREMENTS,
  findMissingDetails,
  mustKeepSharing,
  mustKeepSyncOn,
  syncStateNotice,
  type CoSellFacts,
  type CustomerRef,
  type DealValueFact,
  type MissingDetail,
  type Requirement,
  type SettingsFact,
  type ValidationMode,
} from "./rules";
import { DEFAULT_FORM_SETTINGS, SettingsError, loadFormSettings, type FormSettings } from "./settings";

/** Notification ids: stable, so a message is replaced or cleared rather than stacked. */
export const NotificationId = {
  requirement: (r: Requirement): string => `cosell.${r}`,
  missingDetails: "cosell.missing-details",
  syncState: "cosell.syncstate",
  syncLocked: "cosell.sync-locked",
  shareLocked: "cosell.share-locked",
} as const;

/** Save modes that persist the seller's edits; the rules hold for these. Deactivate, assign etc. pass. */
const VALIDATED_SAVE_MODES: ReadonlySet<number> = new Set([1 /* Save */, 2 /* SaveAndClose */, 59 /* SaveAndNew */, 70 /* AutoSave */]);
const AUTO_SAVE = 70;

type SettingsState =
  | { readonly state: "idle" }
  | { readonly state: "loading" }
  | { readonly state: "ready"; readonly value: FormSettings }
  | { readonly state: "failed"; readonly reason: string };

/** What the script remembers for one form load. */
interface Session {
  form: Xrm.FormContext;
  readonly entityId: string;
  readonly reader: DataverseReader;
  settings: SettingsState;
  /** Country checks by account and country column; at most one runs per key. */
  readonly accountChecks: Map<string, AccountCountry>;
  /** The saved value of "share with Microsoft sellers" (the form's value at the last data load). */
  savedShare: boolean;
  /** The non-default deal value column this script bound onDealValueChange to. */
  boundDealValueColumn: string | null;
  /** Which controls carry a requirement message, to clear exactly those. */
  readonly shown: Map<Requirement, string | null>;
  summaryShown: boolean;
}

let session: Session | null = null;
const inFlight = new Set<Promise<unknown>>();

function track(promise: Promise<unknown>): void {
  inFlight.add(promise);
  void promise
    .catch((error: unknown) => console.error("Partner Center co-sell form script: a background check failed", error))
    .finally(() => inFlight.delete(promise));
}

/** Resolves once no check started by these handlers is still running (tests, diagnostics). */
export async function whenSettled(): Promise<void> {
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
}

/** Forget the current form load (tests; a real form load starts a new one in onLoad). */
export function resetSession(): void {
  session = null;
}

// ---------------------------------------------------------------------------------------------
// Reading the form
// ---------------------------------------------------------------------------------------------

function attribute<T extends Xrm.Attributes.Attribute = Xrm.Attributes.Attribute>(form: Xrm.FormContext, name: string): T | null {
  return (form.getAttribute<T>(name) as T | null | undefined) ?? null;
}

function valueOf(form: Xrm.FormContext, name: string): unknown {
  return attribute(form, name)?.getValue() ?? null;
}

function booleanOf(form: Xrm.FormContext, name: string): boolean | null {
  const v = valueOf(form, name);
  return typeof v === "boolean" ? v : null;
}

function stringOf(form: Xrm.FormContext, name: string): string | null {
  const v = valueOf(form, name);
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

function numberOf(form: Xrm.FormContext, name: string): number | null {
  const v = valueOf(form, name);
  return typeof v === "number" ? v : null;
}

/**
 * Form scripts run in a frame of their own while the form builds its values in another, so a date
 * from the form is not `instanceof` this frame's Date; ask what it is instead.
 */
function isDate(value: unknown): value is Date {
  return Object.prototype.toString.call(value) === "[object Date]" && !Number.isNaN((value as Date).getTime());
}

function lookupOf(form: Xrm.FormContext, name: string): CustomerRef | null {
  const v = valueOf(form, name);
  const first: unknown = Array.isArray(v) ? v[0] : null;
  if (typeof first !== "object" || first === null) return null;
  const { id, entityType, name: label } = first as Partial<Xrm.LookupValue>;
  if (typeof id !== "string" || typeof entityType !== "string") return null;
  return { id, entityType: entityType.toLowerCase(), name: typeof label === "string" && label ? label : null };
}

function syncIsOn(form: Xrm.FormContext): boolean {
  return booleanOf(form, OpportunityColumn.syncWithPartnerCenter) === true;
}

function savedShareOf(form: Xrm.FormContext): boolean {
  const share = attribute(form, OpportunityColumn.shareWithMicrosoft);
  return share?.getValue() === true && !share.getIsDirty();
}

function accountKey(accountId: string, column: string): string {
  return `${accountId.replace(/[{}]/g, "").toLowerCase()}|${column}`;
}

function settingsFact(s: Session): SettingsFact {
  switch (s.settings.state) {
    case "ready":
      return { state: "ready" };
    case "failed":
      return { state: "failed", reason: s.settings.reason };
    default:
      return { state: "loading" };
  }
}

function dealValueFact(form: Xrm.FormContext, settings: SettingsState): DealValueFact {
  if (settings.state !== "ready") return { state: "unknown" };
  const column = settings.value.dealValueColumn;
  const attr = attribute(form, column);
  if (!attr) return { state: "missingColumn", column };
  const value: unknown = attr.getValue();
  if (value !== null && value !== undefined && typeof value !== "number") return { state: "notNumeric", column };
  return { state: "value", column, value: typeof value === "number" ? value : null };
}

function readFacts(s: Session): CoSellFacts {
  const { form } = s;
  const customer = lookupOf(form, StandardOpportunityColumn.customer);
  const countryCodeColumn =
    s.settings.state === "ready" ? s.settings.value.countryCodeColumn : DEFAULT_FORM_SETTINGS.countryCodeColumn;
  const isAccount = customer?.entityType === Table.account.logicalName;
  const check = customer && isAccount ? s.accountChecks.get(accountKey(customer.id, countryCodeColumn)) : undefined;
  const closeDate = valueOf(form, StandardOpportunityColumn.estimatedCloseDate);
  return {
    settings: settingsFact(s),
    customer,
    accountCountry: check ?? null,
    countryCodeColumn,
    dealValue: dealValueFact(form, s.settings),
    closeDate: isDate(closeDate) ? closeDate : null,
    products: stringOf(form, OpportunityColumn.products),
    microsoftHelp: numberOf(form, OpportunityColumn.microsoftHelp),
    hasCustomerContact: lookupOf(form, StandardOpportunityColumn.customerContact) !== null,
  };
}

// ---------------------------------------------------------------------------------------------
// Showing things
// ---------------------------------------------------------------------------------------------

/** PCF controls render their own state and do not take control notifications. */
function isCustomControl(control: Xrm.Controls.Control): boolean {
  return String(control.getControlType()).startsWith("customcontrol");
}

function isShown(control: Xrm.Controls.StandardControl): boolean {
  try {
    if (control.getVisible() === false) return false;
    const section = control.getParent() as Xrm.Controls.Section | null | undefined;
    if (section && section.getVisible() === false) return false;
    const tab = section?.getParent() as Xrm.Controls.Tab | null | undefined;
    return !(tab && tab.getVisible() === false);
  } catch {
    return true; // a host that cannot tell: assume the control is where the seller can see it
  }
}

function standardControls(form: Xrm.FormContext, column: string): Xrm.Controls.StandardControl[] {
  const controls: Xrm.Controls.StandardControl[] = [];
  attribute(form, column)?.controls.forEach((c) => {
    if (!isCustomControl(c)) controls.push(c as Xrm.Controls.StandardControl);
  });
  return controls;
}

function setFormNotice(form: Xrm.FormContext, id: string, level: Xrm.FormNotificationLevel, message: string): void {
  // Clear first: some hosts keep the old text when the id already shows.
  form.ui.clearFormNotification(id);
  form.ui.setFormNotification(message, level, id);
}

/**
 * Control notifications are ERRORs and block the save on their own; they go only on visible,
 * standard controls (a hidden one could not be fixed). Otherwise the message is form-level.
 */
function showDetail(form: Xrm.FormContext, detail: MissingDetail): string | null {
  const id = NotificationId.requirement(detail.requirement);
  const controls = detail.column ? standardControls(form, detail.column).filter(isShown) : [];
  if (controls.length === 0) {
    setFormNotice(form, id, "ERROR", detail.message);
    return null;
  }
  for (const c of controls) c.setNotification(detail.message, id);
  return detail.column;
}

function clearDetail(form: Xrm.FormContext, requirement: Requirement, column: string | null): void {
  const id = NotificationId.requirement(requirement);
  form.ui.clearFormNotification(id);
  if (column) for (const c of standardControls(form, column)) c.clearNotification(id);
}

function showDetails(s: Session, details: readonly MissingDetail[], summary: boolean): void {
  const { form } = s;
  for (const [requirement, column] of s.shown) clearDetail(form, requirement, column);
  s.shown.clear();
  for (const d of details) s.shown.set(d.requirement, showDetail(form, d));
  if (details.length > 0 && (summary || s.summaryShown)) {
    setFormNotice(form, NotificationId.missingDetails, "ERROR", Messages.saveBlocked(details.length));
    s.summaryShown = true;
  } else if (details.length === 0 && s.summaryShown) {
    form.ui.clearFormNotification(NotificationId.missingDetails);
    s.summaryShown = false;
  }
}

/**
 * Re-evaluates the rules and shows the result; returns what blocks sharing with Partner Center.
 * `summary` adds the form-level "can't be shared yet" line (a save the seller asked for).
 */
function refresh(s: Session, mode: ValidationMode, summary = false): MissingDetail[] {
  const details = syncIsOn(s.form) ? findMissingDetails(readFacts(s), mode) : [];
  showDetails(s, details, summary);
  return details;
}

function showSyncState(form: Xrm.FormContext): void {
  const notice = syncStateNotice(
    numberOf(form, OpportunityColumn.syncState),
    stringOf(form, OpportunityColumn.syncError),
    stringOf(form, OpportunityColumn.referralId),
  );
  form.ui.clearFormNotification(NotificationId.syncState);
  if (notice) form.ui.setFormNotification(notice.message, notice.level, NotificationId.syncState);
}

/** Columns only the bridge writes are read-only wherever they appear on the form. */
function lockReadOnlyColumns(form: Xrm.FormContext): void {
  for (const column of READ_ONLY_OPPORTUNITY_COLUMNS) {
    for (const c of standardControls(form, column)) c.setDisabled(true);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks that need Dataverse
// ---------------------------------------------------------------------------------------------

function startSession(form: Xrm.FormContext, reader: DataverseReader = xrmWebApiReader): Session {
  session = {
    form,
    entityId: form.data.entity.getId(),
    reader,
    settings: { state: "idle" },
    accountChecks: new Map(),
    savedShare: savedShareOf(form),
    boundDealValueColumn: null,
    shown: new Map(),
    summaryShown: false,
  };
  return session;
}

/** The session of the form that raised the event; a form met without onLoad starts one. */
function sessionFor(context: Xrm.Events.EventContext): Session {
  const form = context.getFormContext();
  if (session && (session.form === form || session.entityId === form.data.entity.getId())) {
    session.form = form;
    return session;
  }
  return startSession(form);
}

/** Loads the settings once per form load; `retry` also reloads after a failure. */
function ensureSettings(s: Session, retry: boolean): void {
  if (s.settings.state === "loading" || s.settings.state === "ready") return;
  if (s.settings.state === "failed" && !retry) return;
  s.settings = { state: "loading" };
  track(
    loadFormSettings(s.reader).then(
      (value) => {
        s.settings = { state: "ready", value };
        bindDealValueColumn(s, value.dealValueColumn);
        ensureAccountCheck(s, false);
        refresh(s, "live");
      },
      (error: unknown) => {
        s.settings = { state: "failed", reason: error instanceof SettingsError ? error.reason : String(error) };
        refresh(s, "live");
      },
    ),
  );
}

/**
 * The form registers onDealValueChange on the default deal value column; when the settings name
 * another column, bind the same handler to it so its edits re-run the rules too.
 */
function bindDealValueColumn(s: Session, column: string): void {
  if (column === DEFAULT_FORM_SETTINGS.dealValueColumn || s.boundDealValueColumn === column) return;
  const attr = attribute(s.form, column);
  if (!attr) return;
  attr.addOnChange(OpportunityForm.onDealValueChange);
  s.boundDealValueColumn = column;
}

/**
 * Checks the customer account's country unless a usable answer is cached. `recheck` asks again even
 * when an answer is cached: the seller picked the account again, or may have fixed it elsewhere.
 */
function ensureAccountCheck(s: Session, recheck: boolean): void {
  if (s.settings.state !== "ready") return;
  const customer = lookupOf(s.form, StandardOpportunityColumn.customer);
  if (!customer || customer.entityType !== Table.account.logicalName) return;
  const column = s.settings.value.countryCodeColumn;
  const key = accountKey(customer.id, column);
  const cached = s.accountChecks.get(key);
  if (cached && (cached.state === "checking" || (!recheck && cached.state !== "failed"))) return;
  s.accountChecks.set(key, { state: "checking" });
  track(
    checkAccountCountry(s.reader, customer.id, column).then((result) => {
      s.accountChecks.set(key, result);
      refresh(s, "live");
    }),
  );
}

/** After a blocked save: ask again whatever could have been the reason and is not settled. */
function retryUnsettledChecks(s: Session): void {
  ensureSettings(s, true);
  if (s.settings.state !== "ready") return;
  const customer = lookupOf(s.form, StandardOpportunityColumn.customer);
  if (!customer) return;
  const cached = s.accountChecks.get(accountKey(customer.id, s.settings.value.countryCodeColumn));
  ensureAccountCheck(s, cached !== undefined && cached.state !== "valid");
}

// ---------------------------------------------------------------------------------------------
// The handlers
// ---------------------------------------------------------------------------------------------

function prepareForSync(s: Session): void {
  if (!syncIsOn(s.form)) return;
  ensureSettings(s, false);
  ensureAccountCheck(s, false);
}

function onLoad(context: Xrm.Events.EventContext): void {
  const s = startSession(context.getFormContext());
  lockReadOnlyColumns(s.form);
  showSyncState(s.form);
  s.form.data.addOnLoad(onDataLoad);
  prepareForSync(s);
  refresh(s, "live");
}

/** Form data (re)loaded, e.g. after a save: what is saved now is the new baseline. */
function onDataLoad(context: Xrm.Events.EventContext): void {
  const s = sessionFor(context);
  s.savedShare = savedShareOf(s.form);
  s.form.ui.clearFormNotification(NotificationId.syncLocked);
  s.form.ui.clearFormNotification(NotificationId.shareLocked);
  showSyncState(s.form);
  prepareForSync(s);
  refresh(s, "live");
}

/** Puts sync back on when a referral exists; true when it had to. */
function keepSyncOn(s: Session): boolean {
  const referralId = stringOf(s.form, OpportunityColumn.referralId);
  if (!mustKeepSyncOn(booleanOf(s.form, OpportunityColumn.syncWithPartnerCenter), referralId) || referralId === null) {
    return false;
  }
  attribute(s.form, OpportunityColumn.syncWithPartnerCenter)?.setValue(true);
  setFormNotice(s.form, NotificationId.syncLocked, "WARNING", Messages.syncLocked(referralId));
  return true;
}

/** Puts sharing back on when it was saved as Yes; true when it had to. */
function keepSharing(s: Session): boolean {
  if (!mustKeepSharing(booleanOf(s.form, OpportunityColumn.shareWithMicrosoft), s.savedShare)) return false;
  attribute(s.form, OpportunityColumn.shareWithMicrosoft)?.setValue(true);
  setFormNotice(s.form, NotificationId.shareLocked, "WARNING", Messages.shareLocked());
  return true;
}

function onSave(context: Xrm.Events.EventContext): void {
  const s = sessionFor(context);
  const args = (context as Xrm.Events.SaveEventContext).getEventArgs();
  // Both guards run (no short-circuit) so the seller reads every reason at once.
  const keptSync = keepSyncOn(s);
  const keptShare = keepSharing(s);
  if (keptSync || keptShare) {
    args.preventDefault();
    return;
  }
  if (!syncIsOn(s.form)) {
    refresh(s, "live"); // clears any message left from when sync was on
    return;
  }
  const saveMode = args.getSaveMode();
  if (!VALIDATED_SAVE_MODES.has(saveMode)) return;
  // An autosave the seller did not ask for is held back quietly: the field messages already say why.
  const details = refresh(s, "save", saveMode !== AUTO_SAVE);
  if (details.length === 0) return;
  args.preventDefault();
  // Started after deciding, so the messages say what was known at the moment of the save.
  retryUnsettledChecks(s);
}

function onSyncWithPartnerCenterChange(context: Xrm.Events.EventContext): void {
  const s = sessionFor(context);
  if (!keepSyncOn(s)) s.form.ui.clearFormNotification(NotificationId.syncLocked);
  if (syncIsOn(s.form)) ensureSettings(s, true);
  prepareForSync(s);
  refresh(s, "live");
}

function onShareWithMicrosoftChange(context: Xrm.Events.EventContext): void {
  const s = sessionFor(context);
  if (!keepSharing(s)) s.form.ui.clearFormNotification(NotificationId.shareLocked);
}

function onCustomerChange(context: Xrm.Events.EventContext): void {
  const s = sessionFor(context);
  prepareForSync(s);
  if (syncIsOn(s.form)) ensureAccountCheck(s, true);
  refresh(s, "live");
}

/** Columns whose change only needs the rules run again. */
function onRuleInputChange(context: Xrm.Events.EventContext): void {
  const s = sessionFor(context);
  prepareForSync(s);
  refresh(s, "live");
}

/** The handlers, by the names registered on the form (handlers.ts lists them with their events). */
export const OpportunityForm: Readonly<Record<HandlerName, (context: Xrm.Events.EventContext) => void>> = {
  onLoad,
  onSave,
  onSyncWithPartnerCenterChange,
  onMicrosoftHelpChange: onRuleInputChange,
  onShareWithMicrosoftChange,
  onProductsChange: onRuleInputChange,
  onCustomerChange,
  onCustomerContactChange: onRuleInputChange,
  onCloseDateChange: onRuleInputChange,
  onDealValueChange: onRuleInputChange,
};

/** The requirement ids, exported for tests that assert nothing is left behind. */
export const REQUIREMENT_NOTIFICATION_IDS: readonly string[] = REQUIREMENTS.map(NotificationId.requirement);
