/**
 * The sync's settings as the admin set them in Dataverse: the solution's environment variables
 * (checkmark, co-sell only, the deal value and country code columns) and the co-sell solution
 * catalogue. Read through the Web API, cached for a short while (an admin's change shows within
 * `ttlMs`), and turned into the resolved field mapping the sync core works with.
 */
import * as fs from "node:fs";
import {
  ENVIRONMENT_VARIABLES,
  SOLUTION_CATALOG_TABLE,
  SolutionCatalogColumn,
  type EnvironmentVariableName,
} from "@cosell/contract";
import type { DataverseClient } from "../dataverse/client";
import { odataLiteral } from "../dataverse/client";
import { ApiError } from "../http/errors";
import { loadMapping, MappingError, type Mapping } from "../mapping";
import type { EnvironmentValues } from "../mapping/settings";

/**
 * The admin's mapping file (JSON), with the configured referral link template laid in for the
 * opportunity's `referralLink` field unless the file sets its own. Throws MappingError with the
 * file's problems (the caller prints them and exits 2).
 */
export function readAdminMapping(file: string | undefined, referralLinkTemplate: string): unknown {
  let admin: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new MappingError(`mapping file ${file}`, [{ path: "", message: `cannot be read (${(err as Error).message})` }], { cause: err });
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
        throw new MappingError(`mapping file ${file}`, [{ path: "", message: "must be a JSON object" }]);
      admin = parsed as Record<string, unknown>;
    } catch (err) {
      if (err instanceof MappingError) throw err;
      throw new MappingError(`mapping file ${file}`, [{ path: "", message: `is not valid JSON (${(err as Error).message})` }], { cause: err });
    }
  }
  const opportunity = (admin.opportunity ?? {}) as { fields?: Record<string, Record<string, unknown>> };
  const fields = { ...(opportunity.fields ?? {}) };
  const link = fields.referralLink ?? {};
  if (link.transform === undefined) fields.referralLink = { ...link, transform: { type: "referralLink", template: referralLinkTemplate } };
  return { ...admin, opportunity: { ...opportunity, fields } };
}

export interface SyncSettingsOptions {
  readonly dataverse: Pick<DataverseClient, "get">;
  /** The admin's mapping JSON (already laid over with the link template), see readAdminMapping. */
  readonly adminMapping: unknown;
  readonly ttlMs?: number;
  readonly now?: () => number;
}

interface Cached<T> {
  readonly value: T;
  readonly until: number;
}

export class SyncSettings {
  private mappingCache?: Cached<Mapping>;
  private catalogueCache?: Cached<ReadonlySet<string> | undefined>;
  private inflight?: Promise<Mapping>;
  private readonly now: () => number;

  constructor(private readonly options: SyncSettingsOptions) {
    this.now = options.now ?? Date.now;
    // Validate the file against the shipped defaults now: a broken file must stop the start.
    loadMapping(options.adminMapping, {});
  }

  invalidate(): void {
    this.mappingCache = undefined;
    this.catalogueCache = undefined;
  }

  /** The mapping resolved with the environment variables' current values. */
  async mapping(): Promise<Mapping> {
    const c = this.mappingCache;
    if (c && c.until > this.now()) return c.value;
    this.inflight ??= this.loadMapping().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async loadMapping(): Promise<Mapping> {
    const env = await this.environmentValues();
    const mapping = loadMapping(this.options.adminMapping, env);
    this.mappingCache = { value: mapping, until: this.now() + (this.options.ttlMs ?? 60_000) };
    return mapping;
  }

  /** Current values of the solution's environment variables (value wins over default). */
  async environmentValues(): Promise<EnvironmentValues> {
    const names = ENVIRONMENT_VARIABLES.map((d) => d.schemaName);
    const filter = names.map((n) => `schemaname eq ${odataLiteral(n)}`).join(" or ");
    const json = (await this.options.dataverse.get(
      `/environmentvariabledefinitions?$filter=${encodeURIComponent(filter)}&$select=schemaname,defaultvalue&$expand=environmentvariabledefinition_environmentvariablevalue($select=value)`,
    )) as {
      value?: Array<{
        schemaname?: string;
        defaultvalue?: string | null;
        environmentvariabledefinition_environmentvariablevalue?: Array<{ value?: string | null }>;
      }>;
    };
    const env: EnvironmentValues = {};
    for (const def of json.value ?? []) {
      const name = names.find((n) => n.toLowerCase() === def.schemaname?.toLowerCase()) as EnvironmentVariableName | undefined;
      if (!name) continue;
      const current = def.environmentvariabledefinition_environmentvariablevalue?.[0]?.value;
      env[name] = current ?? def.defaultvalue ?? undefined;
    }
    return env;
  }

  /**
   * Active solution ids of the `cosell_solution` catalogue, or undefined when the catalogue is
   * empty or absent (then ids are checked for their shape only).
   */
  async catalogue(): Promise<ReadonlySet<string> | undefined> {
    const c = this.catalogueCache;
    if (c && c.until > this.now()) return c.value;
    let value: ReadonlySet<string> | undefined;
    try {
      const json = (await this.options.dataverse.get(
        `/${SOLUTION_CATALOG_TABLE.entitySetName}?$select=${SolutionCatalogColumn.solutionCode}&$filter=${encodeURIComponent(`${SolutionCatalogColumn.isActive} eq true`)}`,
      )) as { value?: Array<Record<string, unknown>> };
      const ids = (json.value ?? [])
        .map((r) => r[SolutionCatalogColumn.solutionCode])
        .filter((v): v is string => typeof v === "string" && v.trim() !== "")
        .map((v) => v.trim().toUpperCase());
      value = ids.length > 0 ? new Set(ids) : undefined;
    } catch (err) {
      // The table is missing (solution not imported yet): no catalogue to check against.
      if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 400)) throw err;
      value = undefined;
    }
    this.catalogueCache = { value, until: this.now() + (this.options.ttlMs ?? 60_000) };
    return value;
  }
}
