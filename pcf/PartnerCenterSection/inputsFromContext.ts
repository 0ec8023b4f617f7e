/**
 * PCF context → plain inputs. The only module besides index.ts that reads `context`; kept pure so the
 * lifecycle tests and the view-model tests share one mapping.
 */
import type { IInputs } from "./generated/ManifestTypes";
import type { BoundPropertyName } from "./ManifestConstants";
import type {
  CheckmarkSettingValue,
  ChoiceLabel,
  FieldAccess,
  FormKindValue,
  SectionInputs,
  SectionRecord,
} from "./model/inputs";

type Parameters = IInputs;
type AnyProperty = ComponentFramework.PropertyTypes.Property;

/** Every bound property, in manifest order (a test checks this list against the manifest). */
export const BOUND_PROPERTIES: readonly BoundPropertyName[] = [
  "syncWithPartnerCenter",
  "microsoftHelp",
  "shareWithMicrosoft",
  "products",
  "engagementId",
  "microsoftCrmId",
  "referralAction",
  "declineReason",
  "referralId",
  "referralLink",
  "referralStatus",
  "referralSubstatus",
  "syncState",
  "lastSyncedOn",
  "syncError",
  "audit",
];

// On a form where an optional property is left unbound the platform may omit it: read defensively.
function property(parameters: Parameters, name: BoundPropertyName): AnyProperty | undefined {
  return (parameters as unknown as Partial<Record<BoundPropertyName, AnyProperty>>)[name];
}

function accessOf(p: AnyProperty | undefined): FieldAccess {
  if (!p) return { bound: false, readable: false, editable: false };
  return { bound: true, readable: p.security?.readable ?? true, editable: p.security?.editable ?? true };
}

function str(p: AnyProperty | undefined): string | null {
  const raw: unknown = p?.raw;
  return typeof raw === "string" && raw.length > 0 ? raw : null;
}
function num(p: AnyProperty | undefined): number | null {
  const raw: unknown = p?.raw;
  return typeof raw === "number" && Number.isFinite(raw) ? raw : null;
}
function bool(p: AnyProperty | undefined): boolean | null {
  const raw: unknown = p?.raw;
  return typeof raw === "boolean" ? raw : null;
}
function date(p: AnyProperty | undefined): Date | null {
  const raw: unknown = p?.raw;
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : raw;
  if (typeof raw === "string" && raw) {
    const d = new Date(raw);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

export function readRecord(parameters: Parameters): SectionRecord {
  const p = (name: BoundPropertyName) => property(parameters, name);
  return {
    syncWithPartnerCenter: bool(p("syncWithPartnerCenter")),
    microsoftHelp: num(p("microsoftHelp")),
    shareWithMicrosoft: bool(p("shareWithMicrosoft")),
    products: str(p("products")),
    engagementId: str(p("engagementId")),
    microsoftCrmId: str(p("microsoftCrmId")),
    referralAction: num(p("referralAction")),
    declineReason: str(p("declineReason")),
    referralId: str(p("referralId")),
    referralLink: str(p("referralLink")),
    referralStatus: str(p("referralStatus")),
    referralSubstatus: str(p("referralSubstatus")),
    syncState: num(p("syncState")),
    lastSyncedOn: date(p("lastSyncedOn")),
    syncError: str(p("syncError")),
    audit: str(p("audit")),
  };
}

function helpOptions(parameters: Parameters): ChoiceLabel[] | null {
  const options = property(parameters, "microsoftHelp") as
    | ComponentFramework.PropertyTypes.OptionSetProperty
    | undefined;
  const list = options?.attributes?.Options;
  return list && list.length ? list.map((o) => ({ value: o.Value, label: o.Label })) : null;
}

function formKind(parameters: Parameters): FormKindValue {
  return (parameters.formKind?.raw as string | undefined) === "lead" ? "lead" : "opportunity";
}

function checkmarkSetting(parameters: Parameters): CheckmarkSettingValue {
  const raw = parameters.checkmarks?.raw as string | undefined;
  return raw === "show" || raw === "hide" ? raw : "environment";
}

export function inputsFromContext(context: ComponentFramework.Context<IInputs>): SectionInputs {
  const parameters = context.parameters;
  const access = Object.fromEntries(
    BOUND_PROPERTIES.map((name) => [name, accessOf(property(parameters, name))]),
  ) as Record<BoundPropertyName, FieldAccess>;
  return {
    formKind: formKind(parameters),
    checkmarkSetting: checkmarkSetting(parameters),
    record: readRecord(parameters),
    access,
    controlDisabled: context.mode.isControlDisabled,
    helpOptions: helpOptions(parameters),
    allocatedWidth: context.mode.allocatedWidth,
    formFactor: context.client.getFormFactor(),
  };
}
