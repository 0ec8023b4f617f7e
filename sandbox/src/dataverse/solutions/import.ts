/**
 * The solution import messages: `ImportSolution` (synchronous), `ImportSolutionAsync` (a system job
 * to poll: asyncoperation statecode 3 with statuscode 30 succeeded / 31 failed), the `importjobs`
 * rows with progress and a `data` summary, and `RetrieveFormattedImportJobResults`.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { DataverseError, Errors } from "../errors";
import { createRecord, updateRecord, type Caller, type WriteScope } from "../data/operations";
import type { StoredValue } from "../data/store";
import { isoSeconds, isGuid } from "../data/values";
import { emptyResponse, jsonResponse, type ApiContext, type ApiRequest, type ApiResponse } from "../api/http";
import { parseJsonBody } from "../api/rows";
import type { Organization } from "../org";
import { readSolutionZip } from "../solution-reader";
import { SolutionReadError, type SolutionContents } from "../solution-reader/types";
import { applySolution, SolutionImportError, type EnvironmentVariableParameter, type ImportSummary } from "./apply";

const ImportBody = z
  .object({
    CustomizationFile: z.string().min(1),
    OverwriteUnmanagedCustomizations: z.boolean(),
    PublishWorkflows: z.boolean(),
    ImportJobId: z.string().refine(isGuid, "must be a GUID").optional(),
    ComponentParameters: z.array(z.record(z.string(), z.unknown())).optional(),
    ConvertToManaged: z.boolean().optional(),
    HoldingSolution: z.boolean().optional(),
    SkipProductUpdateDependencies: z.boolean().optional(),
  })
  .passthrough();
type ImportParameters = z.infer<typeof ImportBody>;

function parseImportBody(req: ApiRequest, action: string): ImportParameters {
  const r = ImportBody.safeParse(parseJsonBody(req.body));
  if (!r.success) {
    const issue = r.error.issues[0];
    throw Errors.badPayloadValue(action, `Invalid parameter '${issue?.path.join(".") ?? ""}' of ${action}: ${issue?.message ?? "invalid"}.`);
  }
  if (r.data.HoldingSolution) throw Errors.invalidArgument("HoldingSolution (stage for upgrade) is not emulated by the sandbox; import the higher version directly.");
  return r.data;
}

/** `environmentvariablevalue` rows of ComponentParameters; other kinds (connection references) are ignored. */
function environmentValues(params: ImportParameters): EnvironmentVariableParameter[] {
  const out: EnvironmentVariableParameter[] = [];
  for (const p of params.ComponentParameters ?? []) {
    const type = String(p["@odata.type"] ?? "").replace(/^#/, "");
    if (type !== "Microsoft.Dynamics.CRM.environmentvariablevalue") continue;
    if (typeof p.schemaname !== "string" || typeof p.value !== "string")
      throw Errors.invalidArgument("An environmentvariablevalue in ComponentParameters needs 'schemaname' and 'value' strings.");
    out.push({
      schemaname: p.schemaname,
      value: p.value,
      ...(typeof p.environmentvariablevalueid === "string" ? { environmentvariablevalueid: p.environmentvariablevalueid } : {}),
    });
  }
  return out;
}

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A short import log in the shape of importjob.data (the real one is much longer). */
function importLog(contents: SolutionContents | undefined, summary: ImportSummary | undefined, error: DataverseError | undefined, started: number, stopped: number): string {
  const result = (ok: boolean, text = "") =>
    `<result result="${ok ? "success" : "failure"}" errorcode="${ok ? "0" : (error?.code ?? "")}" errortext="${xmlEscape(text)}" datetime="${new Date(stopped).toISOString()}" />`;
  const manifest = contents
    ? `<solutionManifest languagecode="1033" id="${xmlEscape(contents.uniqueName)}" LocalizedName="${xmlEscape(contents.friendlyName)}" Description="" Version="${xmlEscape(contents.version)}" Managed="${contents.managed ? 1 : 0}" Publisher="${xmlEscape(contents.publisher.uniqueName)}">${result(!error, error?.message)}</solutionManifest>`
    : `<solutionManifest>${result(false, error?.message)}</solutionManifest>`;
  const list = (tag: string, item: string, names: readonly string[]) =>
    `<${tag}>${names.map((n) => `<${item} id="${xmlEscape(n)}">${result(!error)}</${item}>`).join("")}</${tag}>`;
  return (
    `<importexportxml start="${new Date(started).toISOString()}" stop="${new Date(stopped).toISOString()}" progress="100" processed="true" succeeded="${error ? "failure" : "success"}">` +
    `<solutionManifests>${manifest}</solutionManifests>` +
    list("entities", "entity", summary?.entities ?? []) +
    list("optionSets", "optionSet", summary?.optionSets ?? []) +
    list("EnvironmentVariableDefinitions", "EnvironmentVariableDefinition", summary?.environmentVariables ?? []) +
    list("webResources", "webResource", summary?.webResources ?? []) +
    list("customControls", "customControl", summary?.customControls ?? []) +
    list("roles", "role", summary?.roles ?? []) +
    `</importexportxml>`
  );
}

interface ImportOutcome {
  readonly summary?: ImportSummary;
  readonly error?: DataverseError;
  /** Applies the same package again (after a reset that keeps customizations). */
  readonly replay?: () => void;
}

/** Reads and applies the zip in `scope`; records the import job either way (outside `scope`). */
function runImport(org: Organization, scope: WriteScope, params: ImportParameters, jobId: string): ImportOutcome {
  const started = org.now();
  let contents: SolutionContents | undefined;
  let summary: ImportSummary | undefined;
  let error: DataverseError | undefined;
  try {
    const bytes = Buffer.from(params.CustomizationFile, "base64");
    try {
      contents = readSolutionZip(bytes);
    } catch (err) {
      if (err instanceof SolutionReadError)
        throw new SolutionImportError("0x8004801a", `The import file is invalid. XSD validation failed with the following error: '${err.message}'.`, { cause: err });
      throw err;
    }
    summary = applySolution(org, scope, contents, { environmentVariableValues: environmentValues(params) });
  } catch (err) {
    if (!(err instanceof DataverseError)) throw err;
    error = err;
  }
  const stopped = org.now();
  org.systemWrite((sys) => {
    const values: Record<string, StoredValue> = {
      name: contents?.uniqueName ?? "Import",
      solutionname: contents?.uniqueName ?? null,
      solutionid: summary?.solutionId ?? null,
      progress: 100,
      startedon: isoSeconds(started),
      completedon: isoSeconds(stopped),
      data: importLog(contents, summary, error, started, stopped),
      operationcontext: summary?.action ?? (error ? "Failed" : "New"),
    };
    if (org.row("importjob", jobId)) updateRecord(org, sys, org.entity("importjob"), jobId, values, { record: false });
    else createRecord(org, sys, org.entity("importjob"), { importjobid: jobId, ...values }, { record: false });
  });
  const applied = contents;
  const replay =
    summary && applied
      ? () => org.systemWrite((sys) => applySolution(org, sys, applied, { environmentVariableValues: environmentValues(params) }))
      : undefined;
  return { ...(summary ? { summary } : {}), ...(error ? { error } : {}), ...(replay ? { replay } : {}) };
}

export function importSolution(ctx: ApiContext, req: ApiRequest): ApiResponse {
  const params = parseImportBody(req, "ImportSolution");
  const jobId = (params.ImportJobId ?? randomUUID()).toLowerCase();
  const outcome = runImport(ctx.org, ctx.scope, params, jobId);
  if (outcome.error) throw outcome.error;
  const replay = outcome.replay;
  if (replay) ctx.afterResponse.push(() => ctx.org.rememberCustomization(replay));
  return emptyResponse(204);
}

export function importSolutionAsync(ctx: ApiContext, req: ApiRequest): ApiResponse {
  const { org } = ctx;
  const params = parseImportBody(req, "ImportSolutionAsync");
  const jobId = (params.ImportJobId ?? randomUUID()).toLowerCase();
  const asyncId = randomUUID();
  const caller: Caller = ctx.scope.caller;
  org.systemWrite((sys) =>
    createRecord(
      org,
      { ...sys, caller },
      org.entity("asyncoperation"),
      {
        asyncoperationid: asyncId,
        name: "Import Solution",
        operationtype: 203,
        statecode: 0,
        statuscode: 0,
        messagename: "ImportSolutionAsync",
        correlationid: ctx.scope.correlationId,
        depth: 1,
        regardingobjectid: null,
      },
      { record: false },
    ),
  );
  ctx.afterResponse.push(() => {
    setImmediate(() => {
      const setJob = (values: Record<string, StoredValue>) => {
        if (!org.row("asyncoperation", asyncId)) return; // reset meanwhile
        org.systemWrite((sys) => updateRecord(org, { ...sys, caller }, org.entity("asyncoperation"), asyncId, values, { record: false }));
      };
      setJob({ statecode: 2, statuscode: 20, startedon: isoSeconds(org.now()) });
      const scope: WriteScope = { caller, tx: org.store.begin(), operations: [], correlationId: ctx.scope.correlationId };
      let outcome: ImportOutcome;
      try {
        outcome = runImport(org, scope, params, jobId);
      } catch (err) {
        outcome = { error: new DataverseError(500, "0x80048033", `An error occurred while importing a Solution: ${(err as Error).message}`, {}, { cause: err }) };
      }
      if (outcome.error) scope.tx.rollback();
      else {
        scope.tx.commit();
        if (outcome.replay) org.rememberCustomization(outcome.replay);
      }
      setJob({
        statecode: 3,
        statuscode: outcome.error ? 31 : 30,
        completedon: isoSeconds(org.now()),
        ...(outcome.error
          ? { message: outcome.error.message, friendlymessage: outcome.error.message, errorcode: parseInt(outcome.error.code, 16) | 0 }
          : {}),
      });
    });
  });
  return jsonResponse(200, {
    "@odata.context": `${ctx.apiUrl}/$metadata#Microsoft.Dynamics.CRM.ImportSolutionAsyncResponse`,
    AsyncOperationId: asyncId,
    ImportJobKey: jobId,
  });
}

export function retrieveFormattedImportJobResults(ctx: ApiContext, jobId: string): ApiResponse {
  const job = ctx.org.row("importjob", jobId);
  if (!job) throw Errors.notFound("importjob", jobId);
  return jsonResponse(200, {
    "@odata.context": `${ctx.apiUrl}/$metadata#Microsoft.Dynamics.CRM.RetrieveFormattedImportJobResultsResponse`,
    FormattedResults: typeof job.data === "string" ? job.data : "",
  });
}
