/**
 * The sandbox form page: a minimal PCF host for the real control bundle. It reads one opportunity
 * or lead of the emulated Dataverse with the seller's token, builds `context` from it, hands the
 * control a `webAPI` backed by the same Web API, and turns notifyOutputChanged → getOutputs → Save
 * into a PATCH of the row, as a model-driven form does.
 */
import { EnvironmentVariable, OpportunityColumn, SystemColumn, Table } from "@cosell/contract";
import {
  DEFAULT_HELP_OPTIONS,
  bindingFor,
  changedProperties,
  parametersFor,
  patchFor,
  selectFor,
  type FormBinding,
  type Row,
  type StaticInputs,
} from "../binding";
import { createWebApi } from "../webApi";
import { browser, type ControlConstructor, type ControlInstance, type El } from "./dom";

const { document } = browser;
const config = browser.__FORM_HOST__;
const query = new URLSearchParams(browser.location.search);
const lcid = Number(query.get("lcid") ?? 1033);
const state = { state: "loading", lastError: null as string | null };
browser.formHost = state;

function element(id: string): El {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el;
}
const statusLine = element("status");
const saveButton = element("save");
const refreshButton = element("refresh");
const container = element("control");

function setState(next: string, message: string): void {
  state.state = next;
  document.body.setAttribute("data-state", next);
  statusLine.textContent = message;
}

function fail(error: unknown): void {
  state.lastError = error instanceof Error ? error.message : String(error);
  setState("error", `Error: ${state.lastError}`);
}

let token: Promise<string> | undefined;
function accessToken(): Promise<string> {
  token ??= browser
    .fetch(`${config.prefix}/token`)
    .then((r) => r.json())
    .then((b) => (b as { accessToken: string }).accessToken);
  return token;
}

const webAPI = createWebApi({
  apiUrl: `${browser.location.origin}${config.apiPath}`,
  accessToken,
  fetch: (url, init) => browser.fetch(url, init),
});

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src} (is the control built? npm run build -w pcf)`));
    script.src = src;
    document.head.appendChild(script);
  });
}

/** The bundle registers its class through ComponentFramework.registerControl, as on the platform. */
async function loadControl(): Promise<ControlConstructor> {
  let registered: ControlConstructor | undefined;
  browser.ComponentFramework = { registerControl: (_name, ctor) => (registered = ctor) };
  await loadScript(`${config.prefix}/control/bundle.js`);
  if (!registered) throw new Error("the control bundle did not register a control");
  return registered;
}

async function helpOptions(): Promise<{ Value: number; Label: string }[]> {
  try {
    const res = await webAPI.request(
      "GET",
      `EntityDefinitions(LogicalName='${Table.opportunity.logicalName}')/Attributes(LogicalName='${OpportunityColumn.microsoftHelp}')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet`,
    );
    const options = (res.body as { OptionSet?: { Options?: { Value: number; Label?: { UserLocalizedLabel?: { Label?: string } } }[] } })
      .OptionSet?.Options;
    const labelled = (options ?? []).map((o) => ({ Value: o.Value, Label: o.Label?.UserLocalizedLabel?.Label ?? String(o.Value) }));
    return labelled.length ? labelled : DEFAULT_HELP_OPTIONS;
  } catch {
    return DEFAULT_HELP_OPTIONS;
  }
}

async function readRow(binding: FormBinding, id: string): Promise<Row> {
  const res = await webAPI.request("GET", `${binding.entitySetName}(${id})?$select=${selectFor(binding)}`, undefined, {
    prefer: 'odata.include-annotations="*"',
  });
  return (res.body ?? {}) as Row;
}

/** Without an id: links to the records a seller would open. */
async function showRecordList(): Promise<void> {
  const list = document.createElement("ul");
  for (const binding of [bindingFor("opportunity"), bindingFor("lead")]) {
    const res = await webAPI.request(
      "GET",
      `${binding.entitySetName}?$select=${binding.primaryIdAttribute},${binding.titleColumn}&$orderby=${
        binding.kind === "lead" ? SystemColumn.lead.modifiedOn : SystemColumn.opportunity.modifiedOn
      } desc&$top=50`,
    );
    for (const row of ((res.body as { value?: Row[] }).value ?? [])) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `?entity=${binding.kind}&id=${String(row[binding.primaryIdAttribute])}`;
      link.textContent = `${binding.kind}: ${String(row[binding.titleColumn] ?? "(no name)")}`;
      item.appendChild(link);
      list.appendChild(item);
    }
  }
  container.replaceChildren(list);
  saveButton.hidden = true;
  refreshButton.hidden = true;
  setState("list", "Choose a record.");
}

async function showForm(binding: FormBinding, id: string): Promise<void> {
  const [Control, strings, options, first] = await Promise.all([
    loadControl(),
    browser.fetch(`${config.prefix}/strings/${lcid}.json`).then((r) => r.json() as Promise<Record<string, string>>),
    helpOptions(),
    readRow(binding, id),
  ]);
  let row = first;
  /** Outputs taken from the control and not saved yet: property → value. */
  let unsaved: Record<string, unknown> = {};
  let trackResize = false;
  const checkmarks = query.get("checkmarks");
  const staticInputs: StaticInputs = {
    helpOptions: options,
    ...(checkmarks === "show" || checkmarks === "hide" || checkmarks === "environment" ? { checkmarks } : {}),
  };
  const formFactor = Number(query.get("formFactor") ?? 1);
  const locale = lcid === 1040 ? "it-IT" : "en-US";
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" });
  const dateOnly = new Intl.DateTimeFormat(locale, { dateStyle: "short" });

  const shownRow = (): Row => ({ ...row, ...patchFor(binding, unsaved) });
  const context = {
    parameters: parametersFor(binding, shownRow(), staticInputs),
    updatedProperties: [] as string[],
    mode: {
      allocatedWidth: container.clientWidth,
      allocatedHeight: -1,
      isControlDisabled: query.get("disabled") === "1",
      isVisible: true,
      label: "Microsoft Partner Center",
      trackContainerResize: (value: boolean) => {
        trackResize = value;
      },
      setControlState: () => true,
      setFullScreen: () => undefined,
    },
    client: { disableScroll: false, getFormFactor: () => formFactor, getClient: () => "Web", isOffline: () => false },
    resources: { getString: (key: string) => strings[key] ?? key, getResource: () => undefined },
    formatting: { formatDateShort: (value: Date, includeTime?: boolean) => (includeTime ? dateTime : dateOnly).format(value) },
    webAPI,
    navigation: { openUrl: (url: string) => void browser.open(url, "_blank", "noopener") },
    userSettings: { languageId: lcid, isRTL: false, userId: "", userName: "" },
    utils: {},
    device: {},
    events: {},
    factory: { requestRender: () => render() },
    fluentDesignLanguage: undefined,
  };

  const control: ControlInstance = new Control();
  function render(updated: string[] = context.updatedProperties): void {
    context.parameters = parametersFor(binding, shownRow(), staticInputs);
    context.updatedProperties = updated;
    browser.ReactDOM.render(control.updateView(context), container);
  }

  control.init(
    context,
    () => {
      const outputs = control.getOutputs();
      unsaved = { ...unsaved, ...outputs };
      saveButton.disabled = false;
      setState("dirty", "Unsaved changes");
      render(Object.keys(outputs));
    },
    {},
  );
  document.title = `${String(row[binding.titleColumn] ?? binding.kind)} — Partner Center section (sandbox)`;
  element("record-name").textContent = String(row[binding.titleColumn] ?? "");
  render(binding.properties.map((p) => p.name));

  async function reload(message: string): Promise<void> {
    const before = row;
    row = await readRow(binding, id);
    const changed = changedProperties(binding, before, row);
    if (changed.length) render(changed);
    setState("ready", message);
  }

  saveButton.addEventListener("click", () => {
    const body = patchFor(binding, unsaved);
    setState("saving", "Saving…");
    saveButton.disabled = true;
    webAPI
      .request("PATCH", `${binding.entitySetName}(${id})`, body)
      .then(() => {
        unsaved = {};
        return reload("Saved");
      })
      .catch((error: unknown) => {
        saveButton.disabled = false;
        fail(error);
      });
  });
  refreshButton.addEventListener("click", () => {
    reload("Refreshed").catch(fail);
  });
  browser.addEventListener("resize", () => {
    if (!trackResize) return;
    context.mode.allocatedWidth = container.clientWidth;
    render(["layout"]);
  });
  const poll = Number(query.get("poll") ?? 0);
  if (poll > 0) {
    browser.setInterval(() => {
      // Like a seller pressing Refresh now and then; never while there are unsaved changes.
      if (state.state === "ready") reload("Refreshed").catch(fail);
    }, poll);
  }
  saveButton.disabled = true;
  setState("ready", `${binding.kind} loaded; checkmarks from ${EnvironmentVariable.checkmark} unless overridden`);
}

async function main(): Promise<void> {
  const id = query.get("id");
  const width = query.get("width");
  if (width) container.style.width = `${Number(width)}px`;
  if (!id) return showRecordList();
  return showForm(bindingFor(query.get("entity") === "lead" ? "lead" : "opportunity"), id);
}

main().catch(fail);
