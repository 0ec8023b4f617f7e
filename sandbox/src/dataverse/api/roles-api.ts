/**
 * Security role assignment as the Web API does it: the `systemuserroles_association` many-to-many
 * of a user (GET, `$ref` POST/DELETE), and `RetrieveUserPrivileges` bound to a user.
 */
import { Errors } from "../errors";
import { emptyResponse, jsonResponse, type ApiContext, type ApiRequest, type ApiResponse } from "./http";
import { parseJsonBody } from "./rows";
import { privilegeName, type Access } from "../security";
import { parsePath, type PathSegment } from "./url";

function userId(ctx: ApiContext, segment: PathSegment): string {
  const k = segment.key?.[0];
  if (!k || segment.key!.length !== 1 || k.value.kind !== "guid") throw Errors.invalidArgument("A user is addressed as systemusers(<id>).");
  const id = k.value.value.toLowerCase();
  if (!ctx.org.row("systemuser", id)) throw Errors.notFound("systemuser", id);
  return id;
}

function roleIdFrom(ctx: ApiContext, reference: string): string {
  const path = reference.replace(/^.*\/api\/data\/v9\.2\//, "").replace(/^\/+/, "");
  const [seg, ...more] = parsePath(path);
  const k = seg?.key?.[0];
  if (!seg || more.length > 0 || seg.name !== "roles" || !k || k.value.kind !== "guid") throw Errors.invalidArgument(`'${reference}' is not a role: expected /roles(<id>).`);
  const id = k.value.value.toLowerCase();
  if (!ctx.org.row("role", id) || !ctx.org.security.role(id)) throw Errors.notFound("role", id);
  return id;
}

export function userRoles(ctx: ApiContext, req: ApiRequest, user: PathSegment, nav: PathSegment, ref: boolean): ApiResponse {
  const id = userId(ctx, user);
  const { security } = ctx.org;
  if (req.method === "GET" && !ref && !nav.key) {
    return jsonResponse(200, {
      "@odata.context": `${ctx.apiUrl}/$metadata#roles(roleid,name)`,
      value: security.rolesOf(id).map((r) => ({ roleid: r.id, name: r.name })),
    });
  }
  if (req.method === "POST" && ref && !nav.key) {
    const target = parseJsonBody(req.body)["@odata.id"];
    if (typeof target !== "string") throw Errors.badPayloadValue("systemusers", "The body must carry '@odata.id'.");
    security.assign(id, roleIdFrom(ctx, target));
    return emptyResponse(204);
  }
  if (req.method === "DELETE" && ref && nav.key) {
    const k = nav.key[0];
    if (!k || k.value.kind !== "guid") throw Errors.invalidArgument("Remove a role as systemuserroles_association(<role id>)/$ref.");
    security.unassign(id, k.value.value);
    return emptyResponse(204);
  }
  throw Errors.methodNotAllowed(req.method, req.url);
}

export function retrieveUserPrivileges(ctx: ApiContext, req: ApiRequest, user: PathSegment): ApiResponse {
  if (req.method !== "GET") throw Errors.methodNotAllowed(req.method, req.url);
  const id = userId(ctx, user);
  const bu = ctx.org.row("systemuser", id)?.businessunitid;
  const businessUnitId = bu && typeof bu === "object" && "id" in bu ? String(bu.id) : ctx.org.seededIds.businessUnitId;
  return jsonResponse(200, {
    "@odata.context": `${ctx.apiUrl}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse`,
    RolePrivileges: ctx.org.security.privilegesOf(id, businessUnitId, () => everyPrivilege(ctx)),
  });
}

/** Every privilege this organization knows: each table's six, and the platform's own. */
function* everyPrivilege(ctx: ApiContext): Iterable<string> {
  const access: Access[] = ["Create", "Read", "Write", "Delete", "Append", "AppendTo"];
  for (const e of ctx.org.schema.entities()) for (const a of access) yield privilegeName(e, a);
  yield "prvImportCustomization";
}
