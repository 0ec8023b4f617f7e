/** Renders the section the way index.ts does, from a mocked context. */
import * as React from "react";
import { act, render, type RenderResult } from "@testing-library/react";
import { PartnerCenterSectionView } from "../../PartnerCenterSection/components/PartnerCenterSectionView";
import type { SectionServices } from "../../PartnerCenterSection/components/Component.types";
import { inputsFromContext } from "../../PartnerCenterSection/inputsFromContext";
import type { PendingChanges } from "../../PartnerCenterSection/model/inputs";
import { dataverseClientFor } from "../../PartnerCenterSection/services/dataverse";
import { sectionServices } from "../../PartnerCenterSection/services/sectionServices";
import { stringsFrom } from "../../PartnerCenterSection/Strings";
import { fakeWebApi, type FakeWebApi, type FakeWebApiOptions } from "../__mocks__/fakeWebApi";
import { createMockContext, formatUtc, type MockContextOptions } from "../__mocks__/mockContext";

export const CATALOGUE_ROWS = [
  { cosell_name: "Contoso Field Service", cosell_solutioncode: "SOL-15974-MQF", cosell_publisher: "Contoso" },
  { cosell_name: "Fabrikam Analytics", cosell_solutioncode: "SOL-34104-EBB", cosell_publisher: "Fabrikam" },
  { cosell_name: "Contoso Analytics Plus", cosell_solutioncode: "SOL-1234-PQRS" },
];

export interface RenderedSection extends RenderResult {
  onChange: jest.Mock<void, [PendingChanges]>;
  services: SectionServices;
  webAPI: FakeWebApi;
  /** Re-render with new platform values (as after a save). */
  update(options: MockContextOptions): void;
}

/** Lets the fake Web API answer (all microtasks) and React apply the results, inside act(). */
export async function settle(): Promise<void> {
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
}

export async function renderSection(
  options: MockContextOptions = {},
  webApiOptions: FakeWebApiOptions = { solutions: CATALOGUE_ROWS },
): Promise<RenderedSection> {
  const onChange = jest.fn<void, [PendingChanges]>();
  const webAPI = fakeWebApi(webApiOptions);
  const services = sectionServices(dataverseClientFor(webAPI));
  const element = (o: MockContextOptions) => {
    const context = createMockContext(o);
    return (
      <PartnerCenterSectionView
        inputs={inputsFromContext(context)}
        strings={stringsFrom(context.resources)}
        formatDateTime={formatUtc}
        services={services}
        onChange={onChange}
      />
    );
  };
  const result = render(element(options));
  await settle();
  return { ...result, onChange, services, webAPI, update: (o) => result.rerender(element(o)) };
}
