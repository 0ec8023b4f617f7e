/**
 * Maps a resource path below `/api/data/v9.2/` to its handler. Synchronous: a `$batch` part goes
 * through exactly this function. (`$batch` itself is asynchronous and lives in the HTTP shell.)
 */
import { Errors } from "../errors";
import { importSolution, importSolutionAsync, retrieveFormattedImportJobResults } from "../solutions/import";
import { closeOpportunity, qualifyLead, whoAmI } from "./actions";
import { bulkMessage, bulkMessageOf } from "./bulk";
import { authorize } from "./privileges";
import { retrieveUserPrivileges, userRoles } from "./roles-api";
import type { ApiContext, ApiRequest, ApiResponse } from "./http";
import { handleEntityDefinitions, handleGlobalOptionSets } from "./metadata-api";
import { handleCollection, handleProperty, handleSingle } from "./records";
import { resolveKey } from "./rows";
import { parsePath } from "./url";

const requireMethod = (req: ApiRequest, method: string) => {
  if (req.method !== method) throw Errors.noResource(req.url);
};

export function dispatch(ctx: ApiContext, req: ApiRequest): ApiResponse {
  // `?tag=` reaches the webhooks of this request's writes as SharedVariables (spec §3.2).
  const tag = req.query.get("tag");
  if (tag !== null) ctx.scope.tag = tag;
  else delete ctx.scope.tag;
  const segments = parsePath(req.path);
  const [first, ...rest] = segments;
  if (!first) throw Errors.noResource(req.url);
  authorize(ctx, req, segments);
  switch (first.name) {
    case "$metadata":
      requireMethod(req, "GET");
      return metadataDocument(ctx);
    case "WhoAmI":
      requireMethod(req, "GET");
      return whoAmI(ctx);
    case "WinOpportunity":
      requireMethod(req, "POST");
      return closeOpportunity(ctx, req, "Win");
    case "LoseOpportunity":
      requireMethod(req, "POST");
      return closeOpportunity(ctx, req, "Lose");
    case "ImportSolution":
      requireMethod(req, "POST");
      return importSolution(ctx, req);
    case "ImportSolutionAsync":
      requireMethod(req, "POST");
      return importSolutionAsync(ctx, req);
    case "RetrieveFormattedImportJobResults": {
      requireMethod(req, "GET");
      const p = first.key?.find((k) => k.name === "ImportJobId");
      if (!p || p.value.kind !== "guid") throw Errors.invalidArgument("RetrieveFormattedImportJobResults needs ImportJobId=<guid>.");
      return retrieveFormattedImportJobResults(ctx, p.value.value);
    }
    case "EntityDefinitions":
      return handleEntityDefinitions(ctx, req, segments);
    case "GlobalOptionSetDefinitions":
      if (rest.length > 0) throw Errors.unknownSegment(rest[0]!.name);
      return handleGlobalOptionSets(ctx, req, first);
    default:
      break;
  }
  const entity = ctx.org.schema.entityBySet(first.name);
  if (!entity) throw Errors.unknownSegment(first.name);
  if (rest.length === 0) return first.key ? handleSingle(ctx, req, entity, first.key) : handleCollection(ctx, req, entity);
  if (!first.key) {
    const bulk = rest.length === 1 ? bulkMessageOf(rest[0]!.name) : undefined;
    if (bulk) return bulkMessage(ctx, req, entity, bulk);
    throw Errors.unknownSegment(rest[0]!.name);
  }
  const [second, third, ...more] = rest;
  if (second!.name === "Microsoft.Dynamics.CRM.QualifyLead" && entity.logicalName === "lead" && rest.length === 1) {
    requireMethod(req, "POST");
    const key = resolveKey(ctx.org, entity, first.key);
    if (!key.id || !ctx.org.row("lead", key.id)) throw Errors.notFound("lead", key.id ?? "");
    return qualifyLead(ctx, req, ctx.org.row("lead", key.id)!.leadid as string);
  }
  if (entity.logicalName === "systemuser" && second!.name === "systemuserroles_association" && more.length === 0 && (!third || third.name === "$ref"))
    return userRoles(ctx, req, first, second!, third !== undefined);
  if (entity.logicalName === "systemuser" && second!.name === "Microsoft.Dynamics.CRM.RetrieveUserPrivileges" && rest.length === 1)
    return retrieveUserPrivileges(ctx, req, first);
  if (more.length > 0 || second!.key) throw Errors.unknownSegment(second!.name);
  if (third && third.name !== "$ref") throw Errors.unknownSegment(third.name);
  return handleProperty(ctx, req, entity, first.key, second!.name, third !== undefined);
}

/** A minimal CSDL: the entity sets and their types, enough for a client to discover names. */
function metadataDocument(ctx: ApiContext): ApiResponse {
  const sets: string[] = [];
  const types: string[] = [];
  for (const e of ctx.org.schema.entities()) {
    sets.push(`<EntitySet Name="${e.entitySetName}" EntityType="Microsoft.Dynamics.CRM.${e.logicalName}"/>`);
    const props = [...e.attributes.values()]
      .filter((a) => !a.writeOnly)
      .map((a) => `<Property Name="${a.kind === "lookup" || a.kind === "customer" || a.kind === "owner" ? `_${a.logicalName}_value` : a.logicalName}" Type="Edm.String"/>`);
    types.push(`<EntityType Name="${e.logicalName}"><Key><PropertyRef Name="${e.primaryIdAttribute}"/></Key>${props.join("")}</EntityType>`);
  }
  const text =
    `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>` +
    `<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">${types.join("")}` +
    `<EntityContainer Name="System">${sets.join("")}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;
  return { status: 200, headers: { "OData-Version": "4.0", "Content-Type": "application/xml" }, text };
}
