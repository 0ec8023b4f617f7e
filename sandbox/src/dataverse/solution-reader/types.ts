/**
 * What the Dataverse emulator learns from a solution zip (ImportSolution). The reader
 * (`readSolutionZip`) produces it from customizations.xml, solution.xml and the side files; the
 * emulator's schema applies it. Only what an import changes in the emulated environment is kept.
 */

/** solution.xml RootComponent/@type values we recognise (Dataverse componenttype). */
export const ComponentType = {
  Entity: 1,
  Attribute: 2,
  OptionSet: 9,
  EntityRelationship: 10,
  EntityKey: 14,
  Role: 20,
  Form: 24,
  SavedQuery: 26,
  Workflow: 29,
  SystemForm: 60,
  WebResource: 61,
  SiteMap: 62,
  CustomControl: 66,
  PluginType: 90,
  PluginAssembly: 91,
  SdkMessageProcessingStep: 92,
  ServiceEndpoint: 95,
  EnvironmentVariableDefinition: 380,
  EnvironmentVariableValue: 381,
} as const;

export interface RootComponent {
  readonly type: number;
  readonly schemaName?: string;
  readonly id?: string;
  /** 0 include subcomponents, 1 do not include subcomponents, 2 shell only. */
  readonly behavior: number;
}

export interface LocalizedLabel {
  readonly label: string;
  readonly languageCode: number;
}

export interface OptionDefinition {
  readonly value: number;
  readonly labels: readonly LocalizedLabel[];
  /** statecode option of a status reason (statuscode) option. */
  readonly state?: number;
  /** Default status reason of a state (statecode) option (`defaultstatus`). */
  readonly defaultStatus?: number;
}

export interface OptionSetDefinition {
  readonly name: string;
  /** picklist | bit | state | status | … as written in OptionSetType. */
  readonly optionSetType: string;
  readonly isGlobal: boolean;
  readonly displayNames: readonly LocalizedLabel[];
  readonly options: readonly OptionDefinition[];
}

/** Attribute types as customizations.xml `<Type>` spells them. */
export type AttributeXmlType =
  | "primarykey"
  | "nvarchar"
  | "ntext"
  | "bit"
  | "picklist"
  | "multiselectpicklist"
  | "state"
  | "status"
  | "datetime"
  | "money"
  | "decimal"
  | "float"
  | "int"
  | "bigint"
  | "lookup"
  | "customer"
  | "owner"
  | "uniqueidentifier"
  | "image"
  | "file"
  | (string & {});

export interface AttributeDefinition {
  readonly logicalName: string;
  /** PhysicalName in the export (schema name, original casing). */
  readonly schemaName: string;
  readonly type: AttributeXmlType;
  readonly isCustomField: boolean;
  readonly requiredLevel?: string;
  /** text | textarea | email | url | phone | date | datetime | … */
  readonly format?: string;
  readonly maxLength?: number;
  readonly minValue?: number;
  readonly maxValue?: number;
  readonly precision?: number;
  /** DateTime behaviour: 1 UserLocal, 2 DateOnly, 3 TimeZoneIndependent. */
  readonly dateTimeBehavior?: number;
  /** AppDefaultValue (Yes/No and choices); -1 means none. */
  readonly defaultValue?: number;
  /** Inline (local) option set, or the resolved global one for OptionSetName. */
  readonly optionSet?: OptionSetDefinition;
  /** OptionSetName when the column uses a global choice. */
  readonly globalOptionSetName?: string;
  /** Target tables of a lookup (LookupTypes), when the export lists them. */
  readonly lookupTargets?: readonly string[];
  readonly displayNames: readonly LocalizedLabel[];
}

export interface EntityKeyDefinition {
  readonly logicalName: string;
  readonly attributes: readonly string[];
  readonly displayNames: readonly LocalizedLabel[];
}

export interface EntityDefinition {
  readonly logicalName: string;
  readonly schemaName: string;
  /** True when the solution creates the table; false for a system table carried as a shell. */
  readonly isCustomEntity: boolean;
  readonly entitySetName?: string;
  readonly primaryIdAttribute?: string;
  readonly primaryNameAttribute?: string;
  readonly ownershipType?: string;
  readonly displayNames: readonly LocalizedLabel[];
  readonly displayCollectionNames: readonly LocalizedLabel[];
  readonly attributes: readonly AttributeDefinition[];
  readonly keys: readonly EntityKeyDefinition[];
}

export interface EnvironmentVariableDefinitionContents {
  readonly schemaName: string;
  readonly displayName: string;
  readonly description?: string;
  /** 100000000 String … 100000005 Secret. */
  readonly type: number;
  readonly defaultValue?: string;
  readonly isRequired: boolean;
  /** From environmentvariablevalues.json when the zip carries a current value. */
  readonly value?: { readonly id?: string; readonly value: string };
}

export interface WebResourceContents {
  readonly id: string;
  readonly name: string;
  readonly displayName?: string;
  /** 1 HTML, 2 CSS, 3 JScript, … 12 RESX. */
  readonly webResourceType: number;
  /** Path inside the zip (FileName), and the bytes when present. */
  readonly fileName?: string;
  readonly content?: Uint8Array;
}

export interface CustomControlContents {
  /** `<prefix>_<namespace>.<constructor>` */
  readonly name: string;
  readonly manifestPath: string;
  readonly manifestXml: string;
  /** Every file of the control's folder, by path inside the zip. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export interface FormContents {
  readonly entity: string;
  readonly formId: string;
  /** main | quick | quickCreate | card | … (the `forms type` attribute). */
  readonly formType: string;
  readonly name?: string;
  /** The `<form>` element as XML text (full or a `solutionaction` diff). */
  readonly formXml: string;
}

export interface RoleContents {
  readonly id?: string;
  readonly name: string;
  readonly privileges: ReadonlyArray<{ readonly name: string; readonly level: string }>;
}

export interface SolutionContents {
  readonly uniqueName: string;
  readonly friendlyName: string;
  readonly version: string;
  readonly managed: boolean;
  /** `<Managed>` as written: 0 unmanaged, 1 managed, 2 "Both" (pac source; read as unmanaged). */
  readonly managedFlag?: 0 | 1 | 2;
  readonly publisher: {
    readonly uniqueName: string;
    readonly customizationPrefix: string;
    readonly optionValuePrefix?: number;
  };
  readonly rootComponents: readonly RootComponent[];
  readonly entities: readonly EntityDefinition[];
  /** Global option sets (root `<optionsets>`). */
  readonly optionSets: readonly OptionSetDefinition[];
  readonly environmentVariables: readonly EnvironmentVariableDefinitionContents[];
  readonly webResources: readonly WebResourceContents[];
  readonly customControls: readonly CustomControlContents[];
  readonly forms: readonly FormContents[];
  readonly roles: readonly RoleContents[];
}

/** A zip that is not a solution Dataverse would import; `path` names the file and element. */
export class SolutionReadError extends Error {
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
    this.name = "SolutionReadError";
  }
}
