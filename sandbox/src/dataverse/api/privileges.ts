/**
 * Which privileges a Web API request needs, checked against the caller's roles before the request's
 * body, keys or values are validated (a caller without the privilege learns nothing else). Every
 * request goes through here, `$batch` parts included (router.dispatch).
 *
 * - entity sets: GET → Read (and Read on each `$expand`ed table); POST → Create; PATCH → Write, or
 *   Create when the upsert creates; DELETE → Delete; a column PUT/DELETE → Write;
 * - lookups set by `<nav>@odata.bind` or `$ref`: Append on the record and AppendTo on the target,
 *   for tables that have owners (organization-owned tables link freely);
 * - bulk messages: Create (CreateMultiple), Write (UpdateMultiple), both (UpsertMultiple);
 * - WinOpportunity / LoseOpportunity: Write the opportunity, Create and Append the close activity,
 *   AppendTo the opportunity; QualifyLead: Write the lead and Create what it is asked to create;
 * - ImportSolution(Async): prvImportCustomization; role assignment: Write User and AppendTo Role;
 * - WhoAmI, $metadata and the metadata definitions need nothing (every user reads metadata).
 */
import type { EntityMetadata } from "../metadata/types";
import { appendChecked, privilegeName, type Access } from "../security";
import type { ApiContext, ApiRequest } from "./http";
import { bulkMessageOf } from "./bulk";
import { parseExpand } from "./query";
import { navigationTargets, resolveKey } from "./rows";
import type { PathSegment } from "./url";

interface Demand {
  readonly privilege: string;
  readonly entity?: EntityMetadata;
}

const FREE = new Set(["$metadata", "WhoAmI", "EntityDefinitions", "GlobalOptionSetDefinitions"]);

export function authorize(ctx: ApiContext, req: ApiRequest, segments: readonly PathSegment[]): void {
  for (const d of demands(ctx, req, segments)) ctx.org.security.demand(ctx.scope.caller, d.privilege, d.entity);
}

function demands(ctx: ApiContext, req: ApiRequest, segments: readonly PathSegment[]): Demand[] {
  const [first, ...rest] = segments;
  if (!first || FREE.has(first.name)) return [];
  const { schema } = ctx.org;
  const table = (name: string) => schema.entity(name);
  const on = (entity: EntityMetadata | undefined, access: Access): Demand[] => (entity ? [{ privilege: privilegeName(entity, access), entity }] : []);
  switch (first.name) {
    case "WinOpportunity":
    case "LoseOpportunity": {
      const opportunity = table("opportunity");
      const close = table("opportunityclose");
      return [...on(opportunity, "Write"), ...on(close, "Create"), ...on(close, "Append"), ...on(opportunity, "AppendTo")];
    }
    case "ImportSolution":
    case "ImportSolutionAsync":
    case "RetrieveFormattedImportJobResults":
      return [{ privilege: "prvImportCustomization" }];
    default:
      break;
  }
  const entity = schema.entityBySet(first.name);
  if (!entity) return []; // the router answers 404 for an unknown segment
  const body = jsonBody(req);
  if (rest.length === 0) {
    if (req.method === "GET") return [...on(entity, "Read"), ...expandDemands(ctx, entity, req)];
    if (req.method === "DELETE") return on(entity, "Delete");
    if (req.method === "POST") return [...on(entity, "Create"), ...bindDemands(ctx, entity, body)];
    if (req.method === "PATCH") {
      const creates = first.key !== undefined && !exists(ctx, entity, first);
      return [...on(entity, creates ? "Create" : "Write"), ...bindDemands(ctx, entity, body)];
    }
    return [];
  }
  const [second, third] = rest;
  if (!first.key) {
    const bulk = bulkMessageOf(second!.name);
    if (!bulk) return [];
    const targets = Array.isArray(body?.Targets) ? (body.Targets as unknown[]) : [];
    const binds = targets.flatMap((t) => (t && typeof t === "object" ? bindDemands(ctx, entity, t as Record<string, unknown>) : []));
    const access: Access[] = bulk === "CreateMultiple" ? ["Create"] : bulk === "UpdateMultiple" ? ["Write"] : ["Create", "Write"];
    return [...access.flatMap((a) => on(entity, a)), ...binds];
  }
  if (second!.name === "Microsoft.Dynamics.CRM.QualifyLead") {
    const asked = (flag: string, name: string) => (body?.[flag] === true ? [...on(table(name), "Create"), ...on(table(name), "Append")] : []);
    return [...on(entity, "Write"), ...on(entity, "AppendTo"), ...asked("CreateAccount", "account"), ...asked("CreateContact", "contact"), ...asked("CreateOpportunity", "opportunity")];
  }
  if (entity.logicalName === "systemuser" && second!.name === "Microsoft.Dynamics.CRM.RetrieveUserPrivileges") return on(entity, "Read");
  if (entity.logicalName === "systemuser" && second!.name === "systemuserroles_association") {
    if (req.method === "GET") return [...on(entity, "Read"), ...on(table("role"), "Read")];
    return [...on(entity, "Write"), ...on(table("role"), "AppendTo")];
  }
  // A column or a lookup's $ref.
  if (req.method === "GET") return on(entity, "Read");
  if (third?.name === "$ref") {
    const nav = navigationTargets(entity, second!.name)[0];
    const target = nav ? table(nav.target) : undefined;
    const linking = req.method === "PUT" && target && appendChecked(entity) && appendChecked(target) ? [...on(entity, "Append"), ...on(target, "AppendTo")] : [];
    return [...on(entity, "Write"), ...linking];
  }
  return on(entity, "Write");
}

function jsonBody(req: ApiRequest): Record<string, unknown> | undefined {
  if (!req.body || req.body.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(req.body.toString("utf8"));
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // the handler answers the malformed body once the caller may know
  }
}

function exists(ctx: ApiContext, entity: EntityMetadata, segment: PathSegment): boolean {
  try {
    const key = resolveKey(ctx.org, entity, segment.key ?? []);
    return key.id !== undefined && ctx.org.store.get(entity.logicalName, key.id) !== undefined;
  } catch {
    return true; // a bad key: the handler refuses it; Write is the weaker demand to make meanwhile
  }
}

/** Append on `entity` and AppendTo on every table a `<nav>@odata.bind` in `body` points at. */
function bindDemands(ctx: ApiContext, entity: EntityMetadata, body: Record<string, unknown> | undefined): Demand[] {
  if (!body || !appendChecked(entity)) return [];
  const out: Demand[] = [];
  for (const key of Object.keys(body)) {
    const m = /^(.+)@odata\.bind$/.exec(key);
    if (!m) continue;
    for (const nav of navigationTargets(entity, m[1]!)) {
      const target = ctx.org.schema.entity(nav.target);
      if (!target || !appendChecked(target)) continue;
      out.push({ privilege: privilegeName(entity, "Append"), entity }, { privilege: privilegeName(target, "AppendTo"), entity: target });
    }
  }
  return out;
}

function expandDemands(ctx: ApiContext, entity: EntityMetadata, req: ApiRequest): Demand[] {
  const text = req.query.get("$expand");
  if (text === null) return [];
  let items: ReturnType<typeof parseExpand>;
  try {
    items = parseExpand(text);
  } catch {
    return [];
  }
  const out: Demand[] = [];
  for (const item of items) {
    const single = navigationTargets(entity, item.navigation)[0];
    const targetName = single?.target ?? ctx.org.schema.collectionNavigation(entity.logicalName, item.navigation)?.referencingEntity;
    const target = targetName ? ctx.org.schema.entity(targetName) : undefined;
    if (target) out.push({ privilege: privilegeName(target, "Read"), entity: target });
  }
  return out;
}
