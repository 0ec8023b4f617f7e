/**
 * A hand-written ComponentFramework.Context for the control (PowerCAT style): the parts the control
 * reads are real objects, platform calls are jest mocks. getString reads the real .resx.
 */
import { GLOBAL_CHOICES } from "@cosell/contract";
import type { IInputs } from "../../PartnerCenterSection/generated/ManifestTypes";
import type { BoundPropertyName } from "../../PartnerCenterSection/ManifestConstants";
import { BOUND_PROPERTIES } from "../../PartnerCenterSection/inputsFromContext";
import { readResx } from "../support/resx";
import { fakeWebApi } from "./fakeWebApi";

type Security = ComponentFramework.PropertyHelper.SecurityValues;

const PROPERTY_TYPES: Record<BoundPropertyName, string> = {
  syncWithPartnerCenter: "TwoOptions",
  microsoftHelp: "OptionSet",
  shareWithMicrosoft: "TwoOptions",
  products: "Multiple",
  engagementId: "SingleLine.Text",
  microsoftCrmId: "SingleLine.Text",
  referralAction: "OptionSet",
  declineReason: "SingleLine.Text",
  referralId: "SingleLine.Text",
  referralLink: "SingleLine.URL",
  referralStatus: "SingleLine.Text",
  referralSubstatus: "SingleLine.Text",
  syncState: "OptionSet",
  lastSyncedOn: "DateAndTime.DateAndTime",
  syncError: "SingleLine.Text",
  audit: "Multiple",
};

export type RecordValues = Partial<Record<BoundPropertyName, string | number | boolean | Date | null>>;

export interface MockContextOptions {
  values?: RecordValues;
  formKind?: "opportunity" | "lead";
  checkmarks?: "environment" | "show" | "hide";
  disabled?: boolean;
  allocatedWidth?: number;
  formFactor?: number;
  /** Field security per property (absent = column not secured). */
  security?: Partial<Record<BoundPropertyName, Partial<Security>>>;
  /** Properties the form leaves unbound (omitted from parameters). */
  unbound?: readonly BoundPropertyName[];
  /** Option labels the platform passes for "How can Microsoft help?" (default: the contract's). */
  helpOptions?: { Value: number; Label: string }[] | null;
  updatedProperties?: string[];
  webAPI?: ComponentFramework.WebApi;
  lcid?: 1033 | 1040;
  theme?: ComponentFramework.FluentDesignState;
}

export interface MockContext extends ComponentFramework.Context<IInputs> {
  mode: ComponentFramework.Mode & { trackContainerResize: jest.Mock; setControlState: jest.Mock; setFullScreen: jest.Mock };
  client: ComponentFramework.Client & { getFormFactor: jest.Mock<number, []> };
}

function defaultRaw(name: BoundPropertyName): unknown {
  return PROPERTY_TYPES[name] === "TwoOptions" ? false : null;
}

function makeProperty(
  name: BoundPropertyName,
  raw: unknown,
  security: Partial<Security> | undefined,
  helpOptions: MockContextOptions["helpOptions"],
): ComponentFramework.PropertyTypes.Property {
  const property: ComponentFramework.PropertyTypes.Property = {
    raw,
    type: PROPERTY_TYPES[name],
    error: false,
    errorMessage: "",
    formatted: raw === null || raw === undefined ? "" : String(raw),
  };
  if (security) property.security = { readable: true, editable: true, secured: true, ...security };
  if (name === "microsoftHelp" && helpOptions !== null) {
    const Options = helpOptions ?? GLOBAL_CHOICES.helpNeeded.options.map((o) => ({ Value: o.value, Label: o.label }));
    property.attributes = { Options } as unknown as ComponentFramework.PropertyHelper.FieldPropertyMetadata.Metadata;
  }
  return property;
}

/** The formatted value the tests expect: deterministic, UTC, no locale involved. */
export function formatUtc(value: Date): string {
  return `${value.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function createMockContext(options: MockContextOptions = {}): MockContext {
  const parameters: Record<string, unknown> = {
    formKind: { raw: options.formKind ?? "opportunity", type: "Enum" },
    checkmarks: { raw: options.checkmarks ?? "environment", type: "Enum" },
  };
  for (const name of BOUND_PROPERTIES) {
    if (options.unbound?.includes(name)) continue;
    const raw = options.values && name in options.values ? options.values[name] : defaultRaw(name);
    parameters[name] = makeProperty(name, raw, options.security?.[name], options.helpOptions);
  }
  const strings = readResx(options.lcid ?? 1033);
  const formFactor = options.formFactor ?? 1;
  const context = {
    parameters: parameters as unknown as IInputs,
    updatedProperties: options.updatedProperties ?? [],
    mode: {
      allocatedHeight: -1,
      allocatedWidth: options.allocatedWidth ?? 900,
      isControlDisabled: options.disabled ?? false,
      isVisible: true,
      label: "Partner Center",
      setControlState: jest.fn(() => true),
      setFullScreen: jest.fn(),
      trackContainerResize: jest.fn(),
    },
    client: {
      disableScroll: false,
      getFormFactor: jest.fn(() => formFactor),
      getClient: () => "Web",
      isOffline: () => false,
      getWeekOfYear: () => 1,
    },
    resources: {
      getString: jest.fn((key: string) => strings.get(key) ?? key),
      getResource: jest.fn(),
    },
    formatting: {
      formatDateShort: jest.fn((value: Date) => formatUtc(value)),
    },
    webAPI: options.webAPI ?? fakeWebApi(),
    fluentDesignLanguage: options.theme,
    navigation: { openUrl: jest.fn() },
    userSettings: { languageId: options.lcid ?? 1033, isRTL: false, userId: "{00000000-0000-0000-0000-000000000001}" },
    utils: {},
    device: {},
    factory: { requestRender: jest.fn() },
    events: {},
    copilot: {},
  };
  // Only the members above are read by the control; the cast covers the rest of the platform API.
  return context as unknown as MockContext;
}

/** Simulates the platform changing values (e.g. after a save) and reporting them as updated. */
export function updateContext(context: MockContext, values: RecordValues, updated = Object.keys(values)): MockContext {
  const parameters = context.parameters as unknown as Record<string, ComponentFramework.PropertyTypes.Property>;
  for (const [name, raw] of Object.entries(values)) {
    const property = parameters[name];
    if (property) property.raw = raw;
  }
  context.updatedProperties = updated;
  return context;
}
