/**
 * The form events the opportunity form must register, for the solution's FormXml: which function of
 * the `cosell_/opportunityform.js` library handles which event and, for OnChange, which column. The
 * solution packer imports this list (`import { FORM_EVENT_HANDLERS } from "@cosell/webresources"`)
 * instead of retyping names; a test checks that the bundle exposes exactly these handlers.
 *
 * Pure data: importing this module touches no browser or Xrm global.
 */
import { EnvironmentVariable, OpportunityColumn, WEB_RESOURCE } from "@cosell/contract";
import { StandardOpportunityColumn } from "./dataverse-names";
import { DEFAULT_FORM_SETTINGS } from "./settings";

export type FormEventName = "onload" | "onsave" | "onchange";

export interface FormEventHandler {
  /** The member of `CoSell.OpportunityForm`. */
  readonly handler: string;
  /** What FormXml's `functionName` holds: `CoSell.OpportunityForm.<handler>`. */
  readonly functionName: string;
  readonly event: FormEventName;
  /** OnChange only: the opportunity column whose change fires it. */
  readonly column?: string;
  /** Every handler reads `executionContext.getFormContext()`: register with "Pass execution context". */
  readonly passExecutionContext: true;
}

/** The web resource (form library) holding the handlers. */
export const FORM_LIBRARY = WEB_RESOURCE.name;
export const HANDLER_NAMESPACE = WEB_RESOURCE.handlerNamespace;

function handler<N extends string>(name: N, event: FormEventName, column?: string): FormEventHandler & { readonly handler: N } {
  return {
    handler: name,
    functionName: `${HANDLER_NAMESPACE}.${name}`,
    event,
    ...(column === undefined ? {} : { column }),
    passExecutionContext: true,
  };
}

export const FORM_EVENT_HANDLERS = [
  /* @__PURE__ */ handler("onLoad", "onload"),
  /* @__PURE__ */ handler("onSave", "onsave"),
  /* @__PURE__ */ handler("onSyncWithPartnerCenterChange", "onchange", OpportunityColumn.syncWithPartnerCenter),
  /* @__PURE__ */ handler("onMicrosoftHelpChange", "onchange", OpportunityColumn.microsoftHelp),
  /* @__PURE__ */ handler("onShareWithMicrosoftChange", "onchange", OpportunityColumn.shareWithMicrosoft),
  /* @__PURE__ */ handler("onProductsChange", "onchange", OpportunityColumn.products),
  /* @__PURE__ */ handler("onCustomerChange", "onchange", StandardOpportunityColumn.customer),
  /* @__PURE__ */ handler("onCustomerContactChange", "onchange", StandardOpportunityColumn.customerContact),
  /* @__PURE__ */ handler("onCloseDateChange", "onchange", StandardOpportunityColumn.estimatedCloseDate),
  /**
   * Registered on the default deal value column. When an administrator points
   * `cosell_DealValueField` at another column, onLoad binds this handler to that column at run time.
   */
  /* @__PURE__ */ handler("onDealValueChange", "onchange", DEFAULT_FORM_SETTINGS.dealValueColumn),
] as const satisfies readonly FormEventHandler[];

export type HandlerName = (typeof FORM_EVENT_HANDLERS)[number]["handler"];

/** The environment variable whose column `onDealValueChange` follows. */
export const DEAL_VALUE_SETTING = EnvironmentVariable.dealValueField;
