/** Entry point of `cosell_/opportunityform.js`: exposes the handlers as `CoSell.OpportunityForm.*`. */
import { WEB_RESOURCE } from "@cosell/contract";
import { installHandlers } from "./namespace";
import { OpportunityForm } from "./form";

installHandlers(window as unknown as Record<string, unknown>, WEB_RESOURCE.handlerNamespace, OpportunityForm);
