/**
 * The built web resource, as a browser would run it: `dist/cosell_/opportunityform.js` evaluated in
 * a context of its own (a fake window, as in the form's script frame), driven through xrm-mock.
 */
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { OpportunityColumn } from "@cosell/contract";
import { buildFormScript, OUTPUT_FILE, SIZE_BUDGET_BYTES, type BuildReport } from "../build";
import { FORM_EVENT_HANDLERS } from "../src/handlers";
import { COMPLETE, controlOf, createOpportunityForm, eventContext, fieldMessages, save, stubAccounts, stubEnvironment, type Handlers } from "./form-fixture";

type FakeWindow = Record<string, unknown> & { CoSell?: Record<string, unknown> };

let report: BuildReport;
let code: string;

/** Runs the bundle in a fresh context whose global object is its `window`. */
function load(preset: Record<string, unknown> = {}): FakeWindow {
  const window: FakeWindow = { ...preset, console, Xrm: undefined };
  window.window = window;
  Object.defineProperty(window, "Xrm", { get: () => (globalThis as { Xrm?: unknown }).Xrm }); // xrm-mock's current Xrm
  vm.runInContext(code, vm.createContext(window), { filename: OUTPUT_FILE });
  return window;
}

function handlersOf(window: FakeWindow): Handlers {
  return (window.CoSell?.["OpportunityForm"] ?? {}) as Handlers;
}

/** Waits until the bundle's background checks have answered and been applied. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

beforeAll(async () => {
  report = await buildFormScript();
  code = readFileSync(OUTPUT_FILE, "utf8");
}, 120_000);

afterEach(() => jest.restoreAllMocks());

test("the build writes one file within its size budget", () => {
  expect(report.outfile).toBe(OUTPUT_FILE);
  expect(OUTPUT_FILE.endsWith(`dist/cosell_/opportunityform.js`)).toBe(true);
  expect(report.bytes).toBe(Buffer.byteLength(code));
  expect(report.bytes).toBeLessThanOrEqual(SIZE_BUDGET_BYTES);
  expect(code).not.toMatch(/\brequire\(|\bimport\b|Xrm\.Page/);
});

test("the bundle defines CoSell.OpportunityForm with exactly the registered handlers", () => {
  const window = load();
  const handlers = handlersOf(window);
  expect(Object.keys(handlers).sort()).toEqual(FORM_EVENT_HANDLERS.map((h) => h.handler).sort());
  for (const h of FORM_EVENT_HANDLERS) expect(typeof handlers[h.handler]).toBe("function");
  // Nothing else leaks into the global scope.
  expect(Object.keys(window).sort()).toEqual(["CoSell", "Xrm", "console", "window"]);
});

test("an existing CoSell namespace is merged into, not replaced", () => {
  const other = { onLoad: () => "lead form" };
  const window = load({ CoSell: { LeadForm: other, OpportunityForm: { custom: 1 } } });
  expect(window.CoSell?.["LeadForm"]).toBe(other);
  expect((window.CoSell?.["OpportunityForm"] as Record<string, unknown>)["custom"]).toBe(1);
  expect(typeof handlersOf(window)["onSave"]).toBe("function");
});

test("the built handlers lock, validate and block like the sources", async () => {
  const handlers = handlersOf(load());
  createOpportunityForm({ ...COMPLETE, dealValue: 0 });
  stubEnvironment();
  const accountRead = stubAccounts({ address1_country: "GB" });
  handlers["onLoad"]?.(eventContext());
  await settle();
  expect(accountRead).toHaveBeenCalledWith("account", expect.any(String), "?$select=address1_country");
  expect(controlOf(OpportunityColumn.referralId).getDisabled()).toBe(true);
  expect(save(handlers)).toBe(false);
  expect(fieldMessages("estimatedvalue")).toEqual([expect.stringMatching(/deal value above 0/)]);

  createOpportunityForm(COMPLETE); // dates from this realm: the bundle must still see the close date
  stubEnvironment();
  stubAccounts({ address1_country: "GB" });
  handlers["onLoad"]?.(eventContext());
  await settle();
  expect(save(handlers)).toBe(true);
});
