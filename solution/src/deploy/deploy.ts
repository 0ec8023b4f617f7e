/**
 * Staging-then-production deployment of the managed package through the Dataverse Web API:
 * import (ImportSolutionAsync polled through asyncoperations and importjobs; ImportSolution where
 * the async action is absent), environment variable values from the settings, a smoke check, and
 * the ledger entry. Production is refused unless the same package passed staging.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  ENVIRONMENT_VARIABLES,
  LEAD_COLUMNS,
  OPPORTUNITY_COLUMNS,
  PCF_CONTROL,
  SOLUTION,
  SOLUTION_CATALOG_TABLE,
  Table,
  type ColumnDefinition,
} from "@cosell/contract";
import { child, parseXml, textOf, unzipPackage } from "../read";
import { DataverseError, odataString, type DataverseClient } from "./dataverse";
import { appendLedger, readLedger, stagingPass, type LedgerEntry } from "./ledger";
import type { DeploySettings } from "./settings";

export class DeployRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployRefusedError";
  }
}

export class ImportFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ImportFailedError";
  }
}

export class SmokeCheckError extends Error {
  constructor(readonly failures: readonly string[]) {
    super(`smoke check failed:\n${failures.map((f) => `  - ${f}`).join("\n")}`);
    this.name = "SmokeCheckError";
  }
}

export interface PackageIdentity {
  readonly uniqueName: string;
  readonly version: string;
  readonly managed: boolean;
  readonly sha256: string;
}

export function inspectPackage(zip: Uint8Array): PackageIdentity {
  const files = unzipPackage(zip);
  const manifestBytes = files.get("solution.xml");
  if (!manifestBytes) throw new DeployRefusedError("the package has no solution.xml: is it a solution zip?");
  const manifest = child(parseXml(manifestBytes), "SolutionManifest");
  return {
    uniqueName: textOf(manifest, "UniqueName") ?? "",
    version: textOf(manifest, "Version") ?? "",
    managed: textOf(manifest, "Managed") === "1",
    sha256: createHash("sha256").update(zip).digest("hex"),
  };
}

export interface DeployOptions {
  readonly settings: DeploySettings;
  readonly packageBytes: Uint8Array;
  readonly ledgerFile: string;
  readonly client: DataverseClient;
  readonly log?: (line: string) => void;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

const ASYNC_COMPLETED = 3;
const ASYNC_SUCCEEDED = 30;

interface AsyncOperation {
  statecode: number;
  statuscode: number;
  message?: string | null;
  friendlymessage?: string | null;
}

async function importPackage(o: DeployOptions, log: (l: string) => void, sleep: (ms: number) => Promise<void>): Promise<string> {
  const { settings, client } = o;
  const body = {
    OverwriteUnmanagedCustomizations: settings.overwriteUnmanagedCustomizations,
    PublishWorkflows: settings.publishWorkflows,
    CustomizationFile: Buffer.from(o.packageBytes).toString("base64"),
    ComponentParameters: Object.entries(settings.environmentVariables).map(([schemaname, value]) => ({
      "@odata.type": "Microsoft.Dynamics.CRM.environmentvariablevalue",
      schemaname,
      value,
    })),
  };
  let started: { AsyncOperationId?: string; ImportJobKey?: string } | undefined;
  try {
    started = await client.post("ImportSolutionAsync", body);
  } catch (err) {
    if (!(err instanceof DataverseError) || (err.status !== 404 && err.status !== 501)) throw err;
    log("ImportSolutionAsync is not available here; importing with ImportSolution (synchronous)");
  }
  if (!started) {
    const importJobId = randomUUID();
    await client.post("ImportSolution", { ...body, ImportJobId: importJobId });
    await reportImportJob(client, importJobId, log);
    return importJobId;
  }
  const operationId = started.AsyncOperationId;
  const importJobId = started.ImportJobKey ?? "";
  if (!operationId) throw new ImportFailedError("ImportSolutionAsync answered without an AsyncOperationId");
  log(`import started (async operation ${operationId}, import job ${importJobId || "n/a"})`);
  const deadline = Date.now() + settings.timeoutMinutes * 60_000;
  let lastProgress = -1;
  for (;;) {
    const op = await client.get<AsyncOperation>(`asyncoperations(${operationId})?$select=statecode,statuscode,message,friendlymessage`);
    if (importJobId) {
      const progress = await importJobProgress(client, importJobId);
      if (progress !== undefined && Math.floor(progress) !== lastProgress) {
        lastProgress = Math.floor(progress);
        log(`import ${lastProgress}%`);
      }
    }
    if (op.statecode === ASYNC_COMPLETED) {
      if (op.statuscode !== ASYNC_SUCCEEDED)
        throw new ImportFailedError(`import failed (status ${op.statuscode}): ${op.friendlymessage || op.message || "no message"}`);
      log("import completed");
      return importJobId;
    }
    if (Date.now() > deadline) throw new ImportFailedError(`import still running after ${settings.timeoutMinutes} minutes (async operation ${operationId})`);
    await sleep(settings.pollIntervalSeconds * 1000);
  }
}

async function importJobProgress(client: DataverseClient, id: string): Promise<number | undefined> {
  try {
    const job = await client.get<{ progress?: number | null }>(`importjobs(${id})?$select=progress`);
    return typeof job.progress === "number" ? job.progress : undefined;
  } catch (err) {
    if (err instanceof DataverseError && err.status === 404) return undefined; // job row not written yet
    throw err;
  }
}

async function reportImportJob(client: DataverseClient, id: string, log: (l: string) => void): Promise<void> {
  const progress = await importJobProgress(client, id);
  log(`import completed${progress === undefined ? "" : ` (${Math.floor(progress)}%)`}`);
}

interface DefinitionRow {
  environmentvariabledefinitionid: string;
  schemaname: string;
  defaultvalue?: string | null;
  environmentvariabledefinition_environmentvariablevalue?: Array<{ environmentvariablevalueid: string; value?: string | null }>;
}

async function readDefinition(client: DataverseClient, schemaName: string): Promise<DefinitionRow | undefined> {
  const r = await client.get<{ value: DefinitionRow[] }>(
    `environmentvariabledefinitions?$filter=schemaname eq ${odataString(schemaName)}` +
      "&$select=environmentvariabledefinitionid,schemaname,defaultvalue" +
      "&$expand=environmentvariabledefinition_environmentvariablevalue($select=environmentvariablevalueid,value)",
  );
  return r.value[0];
}

/**
 * Makes each variable named in the settings hold its value. The import's ComponentParameters
 * should already have set them; this covers an environment (or an older import path) that did
 * not, and a value changed in the settings since the last deployment of the same version.
 */
async function applyEnvironmentValues(o: DeployOptions, log: (l: string) => void): Promise<void> {
  for (const [schemaName, value] of Object.entries(o.settings.environmentVariables)) {
    if (value === undefined) continue;
    const def = await readDefinition(o.client, schemaName);
    if (!def) throw new ImportFailedError(`environment variable ${schemaName} is not defined after the import`);
    const current = def.environmentvariabledefinition_environmentvariablevalue?.[0];
    if (current && current.value === value) continue;
    if (current) await o.client.patch(`environmentvariablevalues(${current.environmentvariablevalueid})`, { value });
    else
      await o.client.post("environmentvariablevalues", {
        schemaname: schemaName,
        value,
        "EnvironmentVariableDefinitionId@odata.bind": `/environmentvariabledefinitions(${def.environmentvariabledefinitionid})`,
      });
    log(`set ${schemaName}`);
  }
}

/** Checks the environment holds what the package promises: columns, table, values, control, version. */
export async function smokeCheck(client: DataverseClient, settings: DeploySettings, version: string): Promise<string[]> {
  const failures: string[] = [];
  const solutions = await client.get<{ value: Array<{ version?: string; ismanaged?: boolean }> }>(
    `solutions?$filter=uniquename eq ${odataString(SOLUTION.uniqueName)}&$select=version,ismanaged`,
  );
  const installed = solutions.value[0];
  if (!installed) failures.push(`solution ${SOLUTION.uniqueName} is not installed`);
  else {
    if (installed.version !== version) failures.push(`solution ${SOLUTION.uniqueName} is at ${installed.version ?? "?"}, expected ${version}`);
    if (installed.ismanaged !== true) failures.push(`solution ${SOLUTION.uniqueName} is not managed`);
  }

  const tables: Array<[string, readonly ColumnDefinition[]]> = [
    [Table.opportunity.logicalName, OPPORTUNITY_COLUMNS],
    [Table.lead.logicalName, LEAD_COLUMNS],
    [SOLUTION_CATALOG_TABLE.logicalName, [SOLUTION_CATALOG_TABLE.primaryName, ...SOLUTION_CATALOG_TABLE.columns]],
  ];
  for (const [table, columns] of tables) {
    let names: Set<string>;
    try {
      const attrs = await client.get<{ value: Array<{ LogicalName: string }> }>(`EntityDefinitions(LogicalName=${odataString(table)})/Attributes?$select=LogicalName`);
      names = new Set(attrs.value.map((a) => a.LogicalName));
    } catch (err) {
      if (err instanceof DataverseError && err.status === 404) {
        failures.push(`table ${table} does not exist`);
        continue;
      }
      throw err;
    }
    const missing = columns.filter((c) => !names.has(c.logicalName)).map((c) => c.logicalName);
    if (missing.length > 0) failures.push(`${table} lacks ${missing.join(", ")}`);
  }

  // Variables the settings name must hold those values; the others only need to exist (an admin
  // may have set them by hand, and a deployment does not undo that).
  for (const v of ENVIRONMENT_VARIABLES) {
    const def = await readDefinition(client, v.schemaName);
    if (!def) {
      failures.push(`environment variable ${v.schemaName} is not defined`);
      continue;
    }
    const value = def.environmentvariabledefinition_environmentvariablevalue?.[0]?.value ?? def.defaultvalue ?? "";
    const want = settings.environmentVariables[v.schemaName];
    if (want !== undefined && value !== want) failures.push(`environment variable ${v.schemaName} holds "${value}", expected "${want}"`);
  }

  const controls = await client.get<{ value: Array<{ name: string }> }>(`customcontrols?$filter=name eq ${odataString(PCF_CONTROL.fullName)}&$select=name`);
  if (controls.value.length === 0) failures.push(`control ${PCF_CONTROL.fullName} is not registered`);
  return failures;
}

export async function deploy(o: DeployOptions): Promise<LedgerEntry> {
  const log = o.log ?? (() => undefined);
  const now = o.now ?? (() => new Date());
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { settings } = o;
  const pkg = inspectPackage(o.packageBytes);
  if (pkg.uniqueName !== SOLUTION.uniqueName) throw new DeployRefusedError(`the package is ${pkg.uniqueName || "unnamed"}, not ${SOLUTION.uniqueName}`);
  if (!pkg.managed) throw new DeployRefusedError("staging and production take the managed package (PartnerCenterCoSell_managed.zip), not the unmanaged one");

  if (settings.environment === "production") {
    const pass = stagingPass(readLedger(o.ledgerFile), pkg.version, pkg.sha256);
    if (!pass)
      throw new DeployRefusedError(
        `production refused: ${SOLUTION.uniqueName} ${pkg.version} (sha256 ${pkg.sha256.slice(0, 12)}…) has not passed staging. Deploy the same zip with --env staging first.`,
      );
    log(`staging passed this package on ${pass.finishedAt} (${pass.dataverseUrl})`);
  }

  const startedAt = now().toISOString();
  const base = {
    environment: settings.environment,
    dataverseUrl: settings.dataverseUrl,
    solution: pkg.uniqueName,
    version: pkg.version,
    packageSha256: pkg.sha256,
    startedAt,
  };
  log(`deploying ${pkg.uniqueName} ${pkg.version} (managed) to ${settings.environment}: ${settings.dataverseUrl}`);
  let importJobId: string | undefined;
  try {
    const me = await o.client.get<{ UserId?: string }>("WhoAmI");
    log(`signed in as application user ${me.UserId ?? "?"}`);
    importJobId = await importPackage(o, log, sleep);
    await applyEnvironmentValues(o, log);
    log("smoke check: solution version, columns, environment variables, control");
    const failures = await smokeCheck(o.client, settings, pkg.version);
    if (failures.length > 0) throw new SmokeCheckError(failures);
    const entry: LedgerEntry = { ...base, finishedAt: now().toISOString(), outcome: "passed", ...(importJobId ? { importJobId } : {}) };
    appendLedger(o.ledgerFile, entry);
    log(`${settings.environment}: passed`);
    return entry;
  } catch (err) {
    const entry: LedgerEntry = {
      ...base,
      finishedAt: now().toISOString(),
      outcome: "failed",
      failure: (err as Error).message,
      ...(importJobId ? { importJobId } : {}),
    };
    appendLedger(o.ledgerFile, entry);
    throw err;
  }
}
