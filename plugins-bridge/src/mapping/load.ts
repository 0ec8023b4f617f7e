/**
 * Loading the field mapping: the shipped default, an admin's override laid over it field by field,
 * validated as a whole. Every mistake is collected with its JSON path and reported in one error,
 * so an admin fixes the file in one go rather than one restart per typo.
 */
import { z } from "zod";
import defaultMappingJson from "../../mapping/default-mapping.json";
import type { JsonValue } from "../partner-center/model";
import { parsePath, type PartnerCenterPath } from "./pointer";
import {
  CompleteFieldSchema,
  type ConflictPolicy,
  type Direction,
  type FieldFile,
  type MappingFile,
  MappingFileSchema,
  RECORD_KINDS,
  type RecordKind,
  type Transform,
} from "./schema";
import { type CoSellSettings, type EnvironmentValues, environmentValue, resolveSettings } from "./settings";
import { LOOKUP_TRANSFORMS } from "./transforms";

export interface FieldMapping {
  readonly kind: RecordKind;
  readonly key: string;
  /** `<kind>.<key>`: the field's key in snapshots. */
  readonly id: string;
  readonly label: string;
  readonly partnerCenter: readonly PartnerCenterPath[];
  /** Resolved column logical name (environment variables already read). */
  readonly dataverse: string;
  readonly direction: Direction;
  readonly onCreate: boolean;
  readonly onUpdate: boolean;
  readonly transform: Transform;
  readonly default: JsonValue | undefined;
  readonly conflict: ConflictPolicy;
}

export interface Mapping {
  readonly settings: CoSellSettings;
  readonly fields: readonly FieldMapping[];
}

export interface MappingIssue {
  /** JSON path in the mapping file, e.g. `opportunity.fields.dealValue.transform.type`. */
  readonly path: string;
  readonly message: string;
}

export class MappingError extends Error {
  readonly issues: readonly MappingIssue[];
  constructor(source: string, issues: readonly MappingIssue[], options?: { cause?: unknown }) {
    const lines = issues.map((i) => `  - ${i.path || "(file)"}: ${i.message}`);
    super(`The ${source} has ${issues.length} problem${issues.length === 1 ? "" : "s"}:\n${lines.join("\n")}`, options);
    this.name = "MappingError";
    this.issues = issues;
  }
}

export const DEFAULT_MAPPING: unknown = defaultMappingJson;

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

function zodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): MappingIssue[] {
  return error.issues.map((issue) => ({ path: formatPath([...prefix, ...issue.path]), message: issue.message }));
}

function parseFile(json: unknown, source: string): MappingFile {
  const parsed = MappingFileSchema.safeParse(json);
  if (!parsed.success) throw new MappingError(source, zodIssues(parsed.error), { cause: parsed.error });
  return parsed.data;
}

function humanLabel(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Lays the override over the default: per field, per property; `transform` and `conflict` whole. */
export function overlay(base: MappingFile, override: MappingFile | undefined): MappingFile {
  const out: MappingFile = { ...base };
  for (const kind of RECORD_KINDS) {
    const fields: Record<string, FieldFile> = { ...(base[kind]?.fields ?? {}) };
    for (const [key, change] of Object.entries(override?.[kind]?.fields ?? {})) {
      fields[key] = { ...(fields[key] ?? {}), ...change };
    }
    if (Object.keys(fields).length > 0) out[kind] = { fields };
  }
  return out;
}

const COLUMN_NAME = /^[a-z_][a-z0-9_]*$/;

function checkField(kind: RecordKind, key: string, field: z.infer<typeof CompleteFieldSchema>): MappingIssue[] {
  const at = (...rest: string[]) => formatPath([kind, "fields", key, ...rest]);
  const issues: MappingIssue[] = [];
  const direction = field.direction ?? "both";
  const paths = Array.isArray(field.partnerCenter) ? field.partnerCenter : [field.partnerCenter];
  const t = field.transform ?? { type: "text" };
  if ((Array.isArray(field.partnerCenter) || paths.some((p) => p.startsWith("@microsoft/"))) && direction !== "pc-to-crm") {
    issues.push({
      path: at("direction"),
      message: "a list of paths or an @microsoft/ path can only be read: direction must be pc-to-crm",
    });
  }
  if (t.type === "picklist") {
    if ((t.values === undefined) === (t.globalChoice === undefined)) {
      issues.push({ path: at("transform"), message: "a picklist needs exactly one of values or globalChoice" });
    }
    const seen = new Set<number>();
    t.values?.forEach((v, i) => {
      if (seen.has(v.crm)) issues.push({ path: formatPath([kind, "fields", key, "transform", "values", i, "crm"]), message: `option ${v.crm} is listed twice` });
      seen.add(v.crm);
    });
  }
  if (t.type === "status" && direction !== "crm-to-pc") {
    issues.push({
      path: at("direction"),
      message: "the status transform only sends Dynamics 365 wins, losses and lead qualification to Partner Center: direction must be crm-to-pc",
    });
  }
  if (t.type === "referralLink" && direction !== "pc-to-crm") {
    issues.push({ path: at("direction"), message: "the referral link comes from Partner Center: direction must be pc-to-crm" });
  }
  if ((t.type === "status" || LOOKUP_TRANSFORMS.has(t.type)) && kind !== "opportunity" && kind !== "lead") {
    issues.push({ path: at("transform", "type"), message: `${t.type} applies to opportunity or lead fields only` });
  }
  return issues;
}

function resolveColumn(
  field: z.infer<typeof CompleteFieldSchema>,
  env: EnvironmentValues,
  path: string,
): { column?: string; issue?: MappingIssue } {
  if (typeof field.dataverse === "string") return { column: field.dataverse };
  const name = field.dataverse.fromEnvironmentVariable;
  const raw = environmentValue(env, name);
  const value = raw.toLowerCase();
  if (!COLUMN_NAME.test(value)) {
    return {
      issue: { path, message: `environment variable ${name} is "${raw}", which is not a column logical name` },
    };
  }
  return { column: value };
}

/**
 * Validates and resolves the mapping. `adminJson` (already JSON-parsed, or undefined) is laid over
 * `defaultJson`; `env` holds the environment variables' current values (column indirections and
 * the settings). Throws MappingError listing every problem.
 */
export function loadMapping(adminJson: unknown, env: EnvironmentValues = {}, defaultJson: unknown = DEFAULT_MAPPING): Mapping {
  const base = parseFile(defaultJson, "default mapping");
  const override = adminJson === undefined || adminJson === null ? undefined : parseFile(adminJson, "mapping file");
  const merged = overlay(base, override);
  const issues: MappingIssue[] = [];
  const fields: FieldMapping[] = [];

  for (const kind of RECORD_KINDS) {
    for (const [key, file] of Object.entries(merged[kind]?.fields ?? {})) {
      if (file.enabled === false) continue;
      const missing: MappingIssue[] = [];
      if (file.partnerCenter === undefined) {
        missing.push({
          path: formatPath([kind, "fields", key, "partnerCenter"]),
          message: "required: the path of the value in the referral, e.g. details/dealValue",
        });
      }
      if (file.dataverse === undefined) {
        missing.push({
          path: formatPath([kind, "fields", key, "dataverse"]),
          message: 'required: the Dataverse column, e.g. "description" or { "fromEnvironmentVariable": "cosell_DealValueField" }',
        });
      }
      if (missing.length > 0) {
        issues.push(...missing);
        continue;
      }
      const parsed = CompleteFieldSchema.safeParse(file);
      if (!parsed.success) {
        issues.push(...zodIssues(parsed.error, [kind, "fields", key]));
        continue;
      }
      const field = parsed.data;
      const fieldIssues = checkField(kind, key, field);
      const { column, issue } = resolveColumn(field, env, formatPath([kind, "fields", key, "dataverse"]));
      if (issue) fieldIssues.push(issue);
      issues.push(...fieldIssues);
      if (fieldIssues.length > 0 || column === undefined) continue;
      const when = field.when ?? ["create", "update"];
      fields.push({
        kind,
        key,
        id: `${kind}.${key}`,
        label: field.label ?? humanLabel(key),
        partnerCenter: (Array.isArray(field.partnerCenter) ? field.partnerCenter : [field.partnerCenter]).map(parsePath),
        dataverse: column,
        direction: field.direction ?? "both",
        onCreate: when.includes("create"),
        onUpdate: when.includes("update"),
        transform: field.transform ?? { type: "text" },
        default: field.default,
        conflict: field.conflict ?? { policy: "latest-wins" },
      });
    }
  }

  // Two fields writing one place would undo each other on every sync.
  const groups: readonly (readonly RecordKind[])[] = [["opportunity", "account", "contact"], ["lead"]];
  for (const group of groups) {
    const inGroup = fields.filter((f) => group.includes(f.kind));
    const crmWriters = new Map<string, string>();
    const pcWriters = new Map<string, string>();
    for (const f of inGroup) {
      if (f.direction !== "crm-to-pc") {
        const k = `${f.kind}/${f.dataverse}`;
        const other = crmWriters.get(k);
        if (other) issues.push({ path: formatPath([f.kind, "fields", f.key, "dataverse"]), message: `column ${f.dataverse} is also written by ${other}` });
        else crmWriters.set(k, f.id);
      }
      if (f.direction !== "pc-to-crm") {
        const k = f.partnerCenter[0]?.text ?? "";
        const other = pcWriters.get(k);
        if (other) issues.push({ path: formatPath([f.kind, "fields", f.key, "partnerCenter"]), message: `path ${k} is also written by ${other}` });
        else pcWriters.set(k, f.id);
      }
    }
  }

  if (issues.length > 0) throw new MappingError(override ? "mapping (default + mapping file)" : "default mapping", issues);
  return { settings: resolveSettings(env), fields };
}

/** The fields that apply to one link: the opportunity with its account and contact, or the lead. */
export function fieldsForLink(mapping: Mapping, linkKind: "opportunity" | "lead"): readonly FieldMapping[] {
  return mapping.fields.filter((f) =>
    linkKind === "lead" ? f.kind === "lead" : f.kind === "opportunity" || f.kind === "account" || f.kind === "contact",
  );
}
