import { EnvironmentVariable, HelpNeeded, OPPORTUNITY_COLUMNS, OpportunityColumn, SyncState } from "@cosell/contract";
import { StandardOpportunityColumn } from "../src/dataverse-names";
import { FORM_EVENT_HANDLERS } from "../src/handlers";
import { NotificationId, OpportunityForm, REQUIREMENT_NOTIFICATION_IDS, resetSession, whenSettled } from "../src/form";
import {
  ACCOUNT,
  COMPLETE,
  CONTACT,
  OTHER_ACCOUNT,
  change,
  controlOf,
  createOpportunityForm,
  eventContext,
  fieldMessages,
  form,
  formNotification,
  formNotifications,
  save,
  stubAccounts,
  stubEnvironment,
  wireOnChange,
  type OpportunitySetup,
} from "./form-fixture";

const { customer, customerContact, estimatedCloseDate } = StandardOpportunityColumn;

/** Creates the form, stubs Xrm.WebApi, wires the handlers, runs OnLoad and waits for its checks. */
async function openForm(
  setup: OpportunitySetup,
  environment: Partial<Record<string, string>> = {},
  ...accounts: (Readonly<Record<string, unknown>> | Error)[]
): Promise<{ settingsRead: jest.SpyInstance; accountRead: jest.SpyInstance }> {
  createOpportunityForm(setup);
  const settingsRead = stubEnvironment(environment);
  const accountRead = stubAccounts(...accounts);
  wireOnChange(OpportunityForm);
  OpportunityForm.onLoad(eventContext());
  await whenSettled();
  return { settingsRead, accountRead };
}

/** Every message the seller sees from the rules, wherever it is shown. */
function ruleMessages(): string[] {
  const columns = [customer, customerContact, estimatedCloseDate, OpportunityColumn.products, "estimatedvalue", "new_dealamount"];
  const fields = columns.flatMap((c) => (form().getControl(c) ? fieldMessages(c) : []));
  const formLevel = formNotifications()
    .filter((n) => REQUIREMENT_NOTIFICATION_IDS.includes(n.uniqueId) || n.uniqueId === NotificationId.missingDetails)
    .map((n) => n.message);
  return [...fields, ...formLevel];
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

beforeEach(() => resetSession());
afterEach(() => jest.restoreAllMocks());

describe("the handler list", () => {
  test("the form script exposes exactly the handlers the solution registers", () => {
    expect(Object.keys(OpportunityForm).sort()).toEqual(FORM_EVENT_HANDLERS.map((h) => h.handler).sort());
  });

  test("every handler is registered with the execution context, under CoSell.OpportunityForm", () => {
    for (const h of FORM_EVENT_HANDLERS) {
      expect(h.functionName).toBe(`CoSell.OpportunityForm.${h.handler}`);
      expect(h.passExecutionContext).toBe(true);
      expect(h.event === "onchange").toBe(h.column !== undefined);
    }
    expect(FORM_EVENT_HANDLERS.filter((h) => h.event === "onload").map((h) => h.handler)).toEqual(["onLoad"]);
    expect(FORM_EVENT_HANDLERS.filter((h) => h.event === "onsave").map((h) => h.handler)).toEqual(["onSave"]);
  });

  test("OnChange handlers are bound to the columns the rules read", () => {
    const bound = Object.fromEntries(FORM_EVENT_HANDLERS.filter((h) => h.event === "onchange").map((h) => [h.handler, h.column]));
    expect(bound).toEqual({
      onSyncWithPartnerCenterChange: OpportunityColumn.syncWithPartnerCenter,
      onMicrosoftHelpChange: OpportunityColumn.microsoftHelp,
      onShareWithMicrosoftChange: OpportunityColumn.shareWithMicrosoft,
      onProductsChange: OpportunityColumn.products,
      onCustomerChange: customer,
      onCustomerContactChange: customerContact,
      onCloseDateChange: estimatedCloseDate,
      onDealValueChange: "estimatedvalue",
    });
  });
});

describe("on load", () => {
  test("every read-only contract column is locked, and only those", async () => {
    await openForm({});
    for (const column of OPPORTUNITY_COLUMNS) {
      expect({ column: column.logicalName, disabled: controlOf(column.logicalName).getDisabled() }).toEqual({
        column: column.logicalName,
        disabled: column.readOnlyOnForm,
      });
    }
    expect(OPPORTUNITY_COLUMNS.filter((c) => c.readOnlyOnForm).length).toBeGreaterThan(5);
  });

  test("a PCF control bound to a read-only column is left to render its own state", async () => {
    await openForm({ controls: { [OpportunityColumn.referralId]: { controlType: "customcontrol:cosell_CoSell.PartnerCenterSection" } } });
    expect(controlOf(OpportunityColumn.referralId).getDisabled()).toBe(false);
    expect(controlOf(OpportunityColumn.referralLink).getDisabled()).toBe(true);
  });

  test("with sync off nothing is read from Dataverse and nothing is said", async () => {
    const { settingsRead, accountRead } = await openForm({ ...COMPLETE, sync: false, dealValue: null, products: null });
    expect(settingsRead).not.toHaveBeenCalled();
    expect(accountRead).not.toHaveBeenCalled();
    expect(formNotifications()).toEqual([]);
    expect(ruleMessages()).toEqual([]);
  });

  test("with sync on, the settings and the customer account are read once, the documented way", async () => {
    const { settingsRead, accountRead } = await openForm(COMPLETE);
    expect(settingsRead).toHaveBeenCalledTimes(1);
    expect(settingsRead).toHaveBeenCalledWith(
      "environmentvariabledefinition",
      expect.stringContaining("$expand=environmentvariabledefinition_environmentvariablevalue($select=value)"),
    );
    expect(accountRead).toHaveBeenCalledTimes(1);
    expect(accountRead).toHaveBeenCalledWith("account", "a0000000-0000-0000-0000-000000000001", "?$select=address1_country");
    expect(ruleMessages()).toEqual([]);
  });

  test("an opportunity already missing details shows what to fix straight away", async () => {
    await openForm({ ...COMPLETE, dealValue: 0, closeDate: null });
    expect(fieldMessages("estimatedvalue")).toEqual([expect.stringMatching(/deal value above 0/)]);
    expect(fieldMessages(estimatedCloseDate)).toEqual([expect.stringMatching(/estimated close date/)]);
    expect(formNotification(NotificationId.missingDetails)).toBeUndefined(); // the summary is for a blocked save
  });
});

describe("the sync state notification", () => {
  test.each<[string, number | null, string | null, Xrm.FormNotificationLevel | null, RegExp | null]>([
    ["pending", SyncState.Pending, null, "INFO", /sync in progress/],
    ["error", SyncState.Error, "The customer's country code is missing.", "ERROR", /sync failed: The customer's country code is missing\./],
    ["synced", SyncState.Synced, null, "INFO", /Synced with Partner Center \(referral REF-1\)/],
    ["not synced", SyncState.NotSynced, null, null, null],
    ["never synced", null, null, null, null],
  ])("%s", async (_name, syncState, syncError, level, message) => {
    await openForm({ ...COMPLETE, sync: false, referralId: "REF-1", syncState, syncError });
    const notice = formNotification(NotificationId.syncState);
    if (level === null || message === null) {
      expect(notice).toBeUndefined();
    } else {
      expect(notice).toEqual({ level, message: expect.stringMatching(message), uniqueId: NotificationId.syncState });
    }
  });

  test("is replaced, not stacked, when the data reloads after a save", async () => {
    await openForm({ ...COMPLETE, syncState: SyncState.Pending });
    form().getAttribute(OpportunityColumn.syncState)?.setValue(SyncState.Error);
    form().getAttribute(OpportunityColumn.syncError)?.setValue("Solution ID SOL-1-X is not published.");
    const dataLoadHandlers = (form().data as unknown as { loadEventHandlers: ((c: Xrm.Events.EventContext) => void)[] }).loadEventHandlers;
    expect(dataLoadHandlers).toHaveLength(1);
    dataLoadHandlers.forEach((h) => h(eventContext()));
    expect(formNotifications().filter((n) => n.uniqueId === NotificationId.syncState)).toEqual([
      { level: "ERROR", message: expect.stringMatching(/SOL-1-X is not published/), uniqueId: NotificationId.syncState },
    ]);
  });
});

describe("saving with sync on", () => {
  test("a complete opportunity saves, with nothing to say", async () => {
    await openForm(COMPLETE);
    expect(save(OpportunityForm)).toBe(true);
    expect(ruleMessages()).toEqual([]);
  });

  test.each<[string, OpportunitySetup, string, RegExp]>([
    ["no customer", { customer: null }, customer, /Choose the customer account here/],
    ["a contact as customer", { customer: CONTACT }, customer, /"Ada Lovelace" is a contact/],
    ["no deal value", { dealValue: null }, "estimatedvalue", /deal value above 0/],
    ["a zero deal value", { dealValue: 0 }, "estimatedvalue", /deal value above 0/],
    ["no close date", { closeDate: null }, estimatedCloseDate, /estimated close date/],
    ["no solution", { products: null }, OpportunityColumn.products, /at least one solution ID/],
    ["a malformed solution id", { products: "SOL-15974-MQF, Dynamics 365" }, OpportunityColumn.products, /"DYNAMICS 365" is not a solution ID/],
    ["help without a customer contact", { help: HelpNeeded.CustomerTechnicalArchitecture }, customerContact, /customer contact/],
  ])("%s blocks the save with a message on the field", async (_name, change, column, message) => {
    await openForm({ ...COMPLETE, ...change });
    expect(save(OpportunityForm)).toBe(false);
    expect(fieldMessages(column)).toEqual([expect.stringMatching(message)]);
    expect(formNotification(NotificationId.missingDetails)).toEqual({
      level: "ERROR",
      message: expect.stringMatching(/1 detail needs your attention.*switch Sync with Partner Center off/),
      uniqueId: NotificationId.missingDetails,
    });
  });

  test("an account without a two-letter country blocks the save and says how to fix it", async () => {
    await openForm(COMPLETE, {}, { address1_country: "United States" });
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/"Contoso" has "United States" as its Country\/Region.*such as US/)]);
    expect(save(OpportunityForm)).toBe(false);
  });

  test("an account with an empty country blocks the save", async () => {
    await openForm(COMPLETE, {}, { address1_country: null });
    expect(save(OpportunityForm)).toBe(false);
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/has no Country\/Region/)]);
  });

  test("a contact as customer is refused without reading any account", async () => {
    const { accountRead } = await openForm({ ...COMPLETE, customer: CONTACT });
    expect(save(OpportunityForm)).toBe(false);
    expect(accountRead).not.toHaveBeenCalled();
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/company \(an account\)/)]);
  });

  test("help counts only when it is something other than No help needed", async () => {
    await openForm({ ...COMPLETE, help: HelpNeeded.NoHelpNeeded });
    expect(save(OpportunityForm)).toBe(true);
    change(OpportunityColumn.microsoftHelp, HelpNeeded.QuotesOrLicensing);
    expect(fieldMessages(customerContact)).toEqual([expect.stringMatching(/customer contact/)]);
    change(customerContact, [CONTACT]);
    expect(fieldMessages(customerContact)).toEqual([]);
    expect(save(OpportunityForm)).toBe(true);
  });

  test("fixing the fields clears their messages one by one, and then the save goes through", async () => {
    await openForm({ ...COMPLETE, dealValue: null, closeDate: null, products: "nonsense" });
    expect(save(OpportunityForm)).toBe(false);
    expect(formNotification(NotificationId.missingDetails)?.message).toMatch(/3 details need/);

    change("estimatedvalue", 1000);
    expect(fieldMessages("estimatedvalue")).toEqual([]);
    expect(formNotification(NotificationId.missingDetails)?.message).toMatch(/2 details need/);

    change(estimatedCloseDate, new Date("2031-06-30T00:00:00Z"));
    change(OpportunityColumn.products, "SOL-34104-EBB");
    expect(ruleMessages()).toEqual([]);
    expect(save(OpportunityForm)).toBe(true);
  });

  test("switching sync off clears every message and lets the save through", async () => {
    await openForm({ ...COMPLETE, dealValue: null, products: null });
    expect(save(OpportunityForm)).toBe(false);
    change(OpportunityColumn.syncWithPartnerCenter, false);
    expect(ruleMessages()).toEqual([]);
    expect(save(OpportunityForm)).toBe(true);
  });

  test("switching sync on reads what it needs and shows what is missing", async () => {
    const { settingsRead, accountRead } = await openForm({ ...COMPLETE, sync: false, products: null });
    change(OpportunityColumn.syncWithPartnerCenter, true);
    expect(fieldMessages(OpportunityColumn.products)).toEqual([expect.stringMatching(/at least one solution ID/)]);
    await whenSettled();
    expect(settingsRead).toHaveBeenCalledTimes(1);
    expect(accountRead).toHaveBeenCalledTimes(1);
    expect(save(OpportunityForm)).toBe(false);
  });

  test("saves that do not carry the seller's edits (deactivate, assign) are not held up", async () => {
    await openForm({ ...COMPLETE, dealValue: null });
    expect(save(OpportunityForm, 5 /* Deactivate */)).toBe(true);
    expect(save(OpportunityForm, 47 /* Assign */)).toBe(true);
    expect(save(OpportunityForm, 2 /* SaveAndClose */)).toBe(false);
  });

  test("an autosave is held back quietly: no summary pops up while the seller types", async () => {
    await openForm({ ...COMPLETE, dealValue: null });
    expect(save(OpportunityForm, 70 /* AutoSave */)).toBe(false);
    expect(fieldMessages("estimatedvalue")).toEqual([expect.stringMatching(/deal value/)]);
    expect(formNotification(NotificationId.missingDetails)).toBeUndefined();
    expect(save(OpportunityForm, 1 /* Save */)).toBe(false);
    expect(formNotification(NotificationId.missingDetails)).toBeDefined();
  });

  test("a message for a hidden field, or one a PCF control renders, goes to the form instead", async () => {
    await openForm({
      ...COMPLETE,
      closeDate: null,
      products: null,
      controls: {
        [estimatedCloseDate]: { visible: false },
        [OpportunityColumn.products]: { controlType: "customcontrol:cosell_CoSell.PartnerCenterSection" },
      },
    });
    expect(save(OpportunityForm)).toBe(false);
    expect(fieldMessages(estimatedCloseDate)).toEqual([]);
    expect(fieldMessages(OpportunityColumn.products)).toEqual([]);
    expect(formNotification(NotificationId.requirement("closeDate"))).toEqual({
      level: "ERROR",
      message: expect.stringMatching(/estimated close date/),
      uniqueId: "cosell.closeDate",
    });
    expect(formNotification(NotificationId.requirement("products"))?.message).toMatch(/solution ID/);
    change(estimatedCloseDate, new Date("2031-01-01T00:00:00Z"));
    expect(formNotification(NotificationId.requirement("closeDate"))).toBeUndefined();
  });
});

describe("environment variables", () => {
  test("a custom deal value column is the one validated, and its edits re-run the rules", async () => {
    await openForm(
      { ...COMPLETE, dealValueColumn: "new_dealamount", dealValue: 0 },
      { [EnvironmentVariable.dealValueField]: "new_dealamount" },
    );
    expect(fieldMessages("new_dealamount")).toEqual([expect.stringMatching(/deal value above 0/)]);
    expect(save(OpportunityForm)).toBe(false);
    // Not registered in FormXml: onLoad bound onDealValueChange to the configured column.
    change("new_dealamount", 25_000);
    expect(fieldMessages("new_dealamount")).toEqual([]);
    expect(save(OpportunityForm)).toBe(true);
  });

  test("the default deal value column is ignored when another is configured", async () => {
    createOpportunityForm({ ...COMPLETE, dealValue: 1000 });
    form().getAttribute("estimatedvalue"); // present, with a value
    stubEnvironment({ [EnvironmentVariable.dealValueField]: "new_dealamount" });
    stubAccounts();
    OpportunityForm.onLoad(eventContext());
    await whenSettled();
    expect(save(OpportunityForm)).toBe(false);
    expect(formNotification(NotificationId.requirement("dealValue"))?.message).toMatch(
      /"new_dealamount", which is not on this form.*cosell_DealValueField/,
    );
  });

  test("a custom country column is the one read from the account", async () => {
    const { accountRead } = await openForm(
      COMPLETE,
      { [EnvironmentVariable.countryCodeField]: "new_countryiso" },
      { new_countryiso: "DE", address1_country: "Germany" },
    );
    expect(accountRead).toHaveBeenCalledWith("account", expect.any(String), "?$select=new_countryiso");
    expect(save(OpportunityForm)).toBe(true);
  });

  test("a custom country column holding no code is reported by its name", async () => {
    await openForm(COMPLETE, { [EnvironmentVariable.countryCodeField]: "new_countryiso" }, { new_countryiso: "Deutschland", address1_country: "DE" });
    expect(save(OpportunityForm)).toBe(false);
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/"Deutschland" as its country code \(new_countryiso\)/)]);
  });

  test("a setting that is not a column name blocks the save with words for the administrator", async () => {
    const { accountRead } = await openForm(COMPLETE, { [EnvironmentVariable.countryCodeField]: "Country/Region" });
    expect(accountRead).not.toHaveBeenCalled();
    expect(save(OpportunityForm)).toBe(false);
    expect(formNotification(NotificationId.requirement("settings"))?.message).toMatch(
      /cosell_CountryCodeField holds "Country\/Region", which is not a column name.*administrator/,
    );
  });

  test("settings are read once per form load, and again on the next load", async () => {
    const { settingsRead } = await openForm(COMPLETE);
    expect(save(OpportunityForm)).toBe(true);
    change(OpportunityColumn.products, "SOL-34104-EBB");
    expect(save(OpportunityForm)).toBe(true);
    await whenSettled();
    expect(settingsRead).toHaveBeenCalledTimes(1);
    OpportunityForm.onLoad(eventContext());
    await whenSettled();
    expect(settingsRead).toHaveBeenCalledTimes(2);
  });

  test("a failed settings read blocks the save with a clear message, then is retried", async () => {
    createOpportunityForm(COMPLETE);
    const settingsRead = jest
      .spyOn(Xrm.WebApi, "retrieveMultipleRecords")
      .mockImplementationOnce(() => Promise.reject({ errorCode: 0x80040220, message: "Principal user is missing prvReadEnvironmentVariableDefinition privilege" }) as never)
      .mockResolvedValue({ entities: [] } as never);
    stubAccounts();
    OpportunityForm.onLoad(eventContext());
    await whenSettled();
    expect(formNotification(NotificationId.requirement("settings"))?.message).toMatch(
      /Couldn't read the co-sell settings \(Principal user is missing prvReadEnvironmentVariableDefinition privilege\)/,
    );
    expect(save(OpportunityForm)).toBe(false);
    await whenSettled();
    expect(settingsRead).toHaveBeenCalledTimes(2);
    expect(formNotification(NotificationId.requirement("settings"))).toBeUndefined();
    expect(save(OpportunityForm)).toBe(true);
  });
});

describe("the customer account check", () => {
  test("is cached for the form load", async () => {
    const { accountRead } = await openForm(COMPLETE);
    expect(save(OpportunityForm)).toBe(true);
    expect(save(OpportunityForm)).toBe(true);
    await whenSettled();
    expect(accountRead).toHaveBeenCalledTimes(1);
  });

  test("runs again when the seller picks a customer, and the new account's answer counts", async () => {
    const { accountRead } = await openForm(COMPLETE, {}, { address1_country: "US" }, { address1_country: "" });
    change(customer, [OTHER_ACCOUNT]);
    await whenSettled();
    expect(accountRead).toHaveBeenLastCalledWith("account", "a0000000-0000-0000-0000-000000000002", "?$select=address1_country");
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/"Fabrikam" has no Country\/Region/)]);
    expect(save(OpportunityForm)).toBe(false);
  });

  test("picking the same account again checks it again (the seller may have fixed it)", async () => {
    const { accountRead } = await openForm(COMPLETE, {}, { address1_country: "USA" }, { address1_country: "US" });
    expect(save(OpportunityForm)).toBe(false);
    await whenSettled(); // the save's own re-check
    change(customer, [ACCOUNT]);
    await whenSettled();
    expect(accountRead.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(fieldMessages(customer)).toEqual([]);
    expect(save(OpportunityForm)).toBe(true);
  });

  test("a save while the check is still running is blocked, never let through", async () => {
    createOpportunityForm({ ...COMPLETE, sync: false });
    stubEnvironment();
    const answer = deferred<unknown>();
    const accountRead = jest.spyOn(Xrm.WebApi, "retrieveRecord").mockReturnValue(answer.promise as never);
    wireOnChange(OpportunityForm);
    OpportunityForm.onLoad(eventContext());
    change(OpportunityColumn.syncWithPartnerCenter, true);
    await new Promise((r) => setImmediate(r)); // settings answered; the account read is pending
    expect(accountRead).toHaveBeenCalledTimes(1);

    expect(save(OpportunityForm)).toBe(false);
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/Still checking the customer account's country code.*save again/)]);

    answer.resolve({ address1_country: "NL" });
    await whenSettled();
    expect(fieldMessages(customer)).toEqual([]);
    expect(formNotification(NotificationId.missingDetails)).toBeUndefined();
    expect(save(OpportunityForm)).toBe(true);
    expect(accountRead).toHaveBeenCalledTimes(1);
  });

  test("a save before the settings have answered is blocked too", async () => {
    createOpportunityForm(COMPLETE);
    const settings = deferred<unknown>();
    jest.spyOn(Xrm.WebApi, "retrieveMultipleRecords").mockReturnValue(settings.promise as never);
    stubAccounts();
    OpportunityForm.onLoad(eventContext());
    expect(save(OpportunityForm)).toBe(false);
    expect(formNotification(NotificationId.requirement("settings"))?.message).toMatch(/Still loading the co-sell settings/);
    settings.resolve({ entities: [] });
    await whenSettled();
    expect(save(OpportunityForm)).toBe(true);
  });

  test("a failed Web API call tells the seller, blocks the save, and is retried", async () => {
    const { accountRead } = await openForm(COMPLETE, {}, new Error("Network request failed"), { address1_country: "FR" });
    expect(fieldMessages(customer)).toEqual([
      expect.stringMatching(/Couldn't check the customer account's country code \(Network request failed\)/),
    ]);
    expect(save(OpportunityForm)).toBe(false);
    await whenSettled();
    expect(accountRead).toHaveBeenCalledTimes(2);
    expect(fieldMessages(customer)).toEqual([]);
    expect(save(OpportunityForm)).toBe(true);
  });

  test("a call that keeps failing keeps the save blocked", async () => {
    await openForm(COMPLETE, {}, new Error("Service unavailable"));
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(save(OpportunityForm)).toBe(false);
      await whenSettled();
    }
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/Service unavailable/)]);
  });

  test("a late answer about the previous customer does not decide for the current one", async () => {
    createOpportunityForm(COMPLETE);
    stubEnvironment();
    const first = deferred<unknown>();
    jest
      .spyOn(Xrm.WebApi, "retrieveRecord")
      .mockReturnValueOnce(first.promise as never)
      .mockResolvedValue({ address1_country: "" } as never);
    wireOnChange(OpportunityForm);
    OpportunityForm.onLoad(eventContext());
    await new Promise((r) => setImmediate(r));
    change(customer, [OTHER_ACCOUNT]);
    first.resolve({ address1_country: "US" });
    await whenSettled();
    expect(save(OpportunityForm)).toBe(false);
    expect(fieldMessages(customer)).toEqual([expect.stringMatching(/"Fabrikam" has no Country\/Region/)]);
  });
});

describe("irreversible switches", () => {
  test("sync cannot be switched off once a referral exists: it is put back, with the reason", async () => {
    await openForm({ ...COMPLETE, referralId: "2c8e4ba9-ref" });
    change(OpportunityColumn.syncWithPartnerCenter, false);
    expect(form().getAttribute(OpportunityColumn.syncWithPartnerCenter)?.getValue()).toBe(true);
    expect(formNotification(NotificationId.syncLocked)).toEqual({
      level: "WARNING",
      message: expect.stringMatching(/stays on: this opportunity is Partner Center referral 2c8e4ba9-ref.*close the opportunity as won or lost/),
      uniqueId: NotificationId.syncLocked,
    });
    expect(save(OpportunityForm)).toBe(true);
  });

  test("without a referral, sync switches off freely", async () => {
    await openForm(COMPLETE);
    change(OpportunityColumn.syncWithPartnerCenter, false);
    expect(form().getAttribute(OpportunityColumn.syncWithPartnerCenter)?.getValue()).toBe(false);
    expect(formNotification(NotificationId.syncLocked)).toBeUndefined();
  });

  test("a save that would switch sync off behind the script's back is stopped and put right", async () => {
    await openForm({ ...COMPLETE, referralId: "REF-7" });
    form().getAttribute(OpportunityColumn.syncWithPartnerCenter)?.setValue(false); // e.g. a business rule: no OnChange
    expect(save(OpportunityForm)).toBe(false);
    expect(form().getAttribute(OpportunityColumn.syncWithPartnerCenter)?.getValue()).toBe(true);
    expect(formNotification(NotificationId.syncLocked)?.message).toMatch(/REF-7/);
    expect(save(OpportunityForm)).toBe(true);
  });

  test("sharing with Microsoft saved as Yes cannot go back to No", async () => {
    await openForm({ ...COMPLETE, share: true });
    change(OpportunityColumn.shareWithMicrosoft, false);
    expect(form().getAttribute(OpportunityColumn.shareWithMicrosoft)?.getValue()).toBe(true);
    expect(formNotification(NotificationId.shareLocked)).toEqual({
      level: "WARNING",
      message: expect.stringMatching(/can't be turned off.*already been shared/),
      uniqueId: NotificationId.shareLocked,
    });
  });

  test("sharing not yet saved can be undone; once saved it is final", async () => {
    await openForm(COMPLETE);
    change(OpportunityColumn.shareWithMicrosoft, true);
    change(OpportunityColumn.shareWithMicrosoft, false);
    expect(form().getAttribute(OpportunityColumn.shareWithMicrosoft)?.getValue()).toBe(false);
    expect(formNotification(NotificationId.shareLocked)).toBeUndefined();

    change(OpportunityColumn.shareWithMicrosoft, true);
    expect(save(OpportunityForm)).toBe(true);
    // The platform saves, then reloads the form data, which is when Yes becomes the saved value.
    const attribute = form().getAttribute(OpportunityColumn.shareWithMicrosoft) as unknown as { isDirty: boolean };
    attribute.isDirty = false;
    (form().data as unknown as { loadEventHandlers: ((c: Xrm.Events.EventContext) => void)[] }).loadEventHandlers.forEach((h) =>
      h(eventContext()),
    );
    change(OpportunityColumn.shareWithMicrosoft, false);
    expect(form().getAttribute(OpportunityColumn.shareWithMicrosoft)?.getValue()).toBe(true);
    expect(formNotification(NotificationId.shareLocked)).toBeDefined();
  });

  test("a save that would withdraw sharing is stopped and put right", async () => {
    await openForm({ ...COMPLETE, share: true, sync: false });
    form().getAttribute(OpportunityColumn.shareWithMicrosoft)?.setValue(false);
    expect(save(OpportunityForm)).toBe(false);
    expect(form().getAttribute(OpportunityColumn.shareWithMicrosoft)?.getValue()).toBe(true);
  });
});

describe("without onLoad", () => {
  test("a handler fired first still works from the form it is given", async () => {
    createOpportunityForm({ ...COMPLETE, closeDate: null });
    stubEnvironment();
    stubAccounts();
    expect(save(OpportunityForm)).toBe(false);
    expect(fieldMessages(estimatedCloseDate)).toEqual([expect.stringMatching(/close date/)]);
    await whenSettled();
    change(estimatedCloseDate, new Date("2030-12-31T00:00:00Z"));
    OpportunityForm.onCloseDateChange(eventContext());
    expect(save(OpportunityForm)).toBe(true);
  });
});
