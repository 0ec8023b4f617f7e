/**
 * CoSell.PartnerCenterSection — lifecycle only: context in, plain props out, outputs back.
 * Everything the seller sees is decided in model/ (pure) and drawn in components/.
 */
import * as React from "react";
import { PartnerCenterSectionView } from "./components/PartnerCenterSectionView";
import type { PartnerCenterSectionProps, SectionServices } from "./components/Component.types";
import type { IInputs, IOutputs } from "./generated/ManifestTypes";
import { BOUND_PROPERTIES, inputsFromContext } from "./inputsFromContext";
import { outputsFor, settlePending, type PendingChanges } from "./model/inputs";
import { dataverseClientFor } from "./services/dataverse";
import { sectionServices } from "./services/sectionServices";
import { stringsFrom, type Strings } from "./Strings";

/** updatedProperties entries that change what the section shows ("layout": trackContainerResize). */
const RELEVANT_UPDATES: ReadonlySet<string> = new Set<string>([...BOUND_PROPERTIES, "formKind", "checkmarks", "layout"]);

export class PartnerCenterSection implements ComponentFramework.ReactControl<IInputs, IOutputs> {
  private notifyOutputChanged: () => void = () => undefined;
  private services: SectionServices | undefined;
  private strings: Strings | undefined;
  private pending: PendingChanges = {};
  private element: React.ReactElement | undefined;
  /** Context facts that are not properties (no updatedProperties entry tells us they changed). */
  private environmentKey = "";

  public init(context: ComponentFramework.Context<IInputs>, notifyOutputChanged: () => void): void {
    this.notifyOutputChanged = notifyOutputChanged;
    context.mode.trackContainerResize(true);
    this.services = sectionServices(dataverseClientFor(context.webAPI));
    this.strings = stringsFrom(context.resources);
  }

  public updateView(context: ComponentFramework.Context<IInputs>): React.ReactElement {
    const environmentKey = [
      context.mode.isControlDisabled,
      context.mode.allocatedWidth,
      context.client.getFormFactor(),
      context.fluentDesignLanguage?.tokenTheme ? "theme" : "",
    ].join("|");
    const updated = context.updatedProperties ?? [];
    // An empty list tells us nothing (some hosts never fill it): re-read in that case.
    const relevant = updated.length === 0 || updated.some((p) => RELEVANT_UPDATES.has(p));
    if (this.element && !relevant && environmentKey === this.environmentKey) return this.element;
    this.environmentKey = environmentKey;

    const inputs = inputsFromContext(context);
    this.pending = settlePending(this.pending, inputs.record, updated);
    const props: PartnerCenterSectionProps = {
      inputs: { ...inputs, record: { ...inputs.record, ...this.pending } },
      strings: this.strings ?? stringsFrom(context.resources),
      formatDateTime: (value) => context.formatting.formatDateShort(value, true),
      services: this.services ?? sectionServices(dataverseClientFor(context.webAPI)),
      onChange: this.onChange,
      theme: context.fluentDesignLanguage?.tokenTheme,
    };
    this.element = React.createElement(PartnerCenterSectionView, props);
    return this.element;
  }

  public getOutputs(): IOutputs {
    return outputsFor(this.pending);
  }

  public destroy(): void {
    // Nothing to release: reads in flight are dropped by the unmounted views.
    this.pending = {};
  }

  private readonly onChange = (changes: PendingChanges): void => {
    this.pending = { ...this.pending, ...changes };
    this.notifyOutputChanged();
  };
}
