/**
 * Dataverse emulator: security roles refuse what they do not grant (403 0x80040220 naming the
 * privilege, before anything else about the request), role assignment through the Web API, and
 * RetrieveUserPrivileges.
 */
import { randomUUID } from "node:crypto";
import { BRIDGE_PRIVILEGES, EnvironmentVariable, SECURITY_ROLES, SOLUTION_CATALOG_TABLE } from "@cosell/contract";
import { entityIdOf, startHarness, type Harness } from "./fixtures/dataverse/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.dv.provisionContract();
});
afterAll(() => h.close());

/** A fresh application user with the given roles, and its token. */
function appUser(roles: readonly string[]): { id: string; token: string } {
  const applicationId = randomUUID();
  const id = h.dv.registerApplicationUser({ applicationId, fullName: `app ${applicationId.slice(0, 4)}`, roles });
  return { id, token: h.appToken(applicationId) };
}

async function roleId(name: string): Promise<string> {
  const r = await h.api("GET", `roles?$select=roleid&$filter=name eq '${name}'`);
  return r.json.value[0].roleid;
}

describe("privileges", () => {
  it("refuses a user without roles with 403 0x80040220 naming the privilege, and lets it ask WhoAmI", async () => {
    const u = appUser([]);
    const res = await h.api("GET", "accounts?$select=name", { token: u.token });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe("0x80040220");
    expect(res.json.error.message).toMatch(/is missing prvReadAccount privilege .* for entity 'account'/);
    const me = await h.api("GET", "WhoAmI", { token: u.token });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ UserId: u.id, BusinessUnitId: h.dv.seededIds.businessUnitId });
  });

  it("checks privileges before the body: a bad body from a caller without Create is a 403, not a 400", async () => {
    const u = appUser([]);
    const res = await h.api("POST", "accounts", { token: u.token, body: { nosuchcolumn: 1 } });
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/prvCreateAccount/);
  });

  it("gives the bridge's role what it lists and nothing else: no Delete, no role administration", async () => {
    const u = appUser([SECURITY_ROLES.bridge.name]);
    const account = entityIdOf(await h.api("POST", "accounts", { token: u.token, body: { name: "By the bridge" } }));
    const opp = await h.api("POST", "opportunities", { token: u.token, body: { name: "Deal", "customerid_account@odata.bind": `/accounts(${account})` } });
    expect(opp.status).toBe(204);
    const del = await h.api("DELETE", `opportunities(${entityIdOf(opp)})`, { token: u.token });
    expect(del.status).toBe(403);
    expect(del.json.error.message).toMatch(/prvDeleteOpportunity/);
    const assign = await h.api("POST", `systemusers(${u.id})/systemuserroles_association/$ref`, {
      token: u.token,
      body: { "@odata.id": `${h.dv.apiUrl}/roles(${await roleId("System Administrator")})` },
    });
    expect(assign.status).toBe(403);
    const privileges = await h.api("GET", `systemusers(${u.id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`, { token: u.token });
    expect(privileges.status).toBe(200);
    const names = (privileges.json.RolePrivileges as Array<{ PrivilegeName: string; Depth: string }>).map((p) => p.PrivilegeName).sort();
    expect(names).toEqual(BRIDGE_PRIVILEGES.map((p) => p.name).sort());
  });

  it("refuses a $batch part the caller may not do", async () => {
    const u = appUser([SECURITY_ROLES.seller.name]);
    const b = "batch_s";
    const raw = [`--${b}`, "Content-Type: application/http", "Content-Transfer-Encoding: binary", "", "GET accounts?$select=name HTTP/1.1", "Accept: application/json", "", `--${b}--`, ""].join("\r\n");
    const res = await h.api("POST", "$batch", { token: u.token, raw, headers: { "Content-Type": `multipart/mixed; boundary=${b}` } });
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/403 Forbidden/);
    expect(res.text).toMatch(/prvReadAccount/);
  });

  it("lets a seller read the catalogue and the settings but not change them", async () => {
    const u = appUser(["Salesperson", SECURITY_ROLES.seller.name]);
    expect((await h.api("GET", `${SOLUTION_CATALOG_TABLE.entitySetName}?$top=1`, { token: u.token })).status).toBe(200);
    const def = await h.api("GET", `environmentvariabledefinitions?$select=environmentvariabledefinitionid&$filter=schemaname eq '${EnvironmentVariable.bridgeUrl}'`, { token: u.token });
    expect(def.status).toBe(200);
    const write = await h.api("POST", "environmentvariablevalues", {
      token: u.token,
      body: { schemaname: EnvironmentVariable.bridgeUrl, value: "https://evil.example", "EnvironmentVariableDefinitionId@odata.bind": `/environmentvariabledefinitions(${def.json.value[0].environmentvariabledefinitionid})` },
    });
    expect(write.status).toBe(403);
    expect(write.json.error.message).toMatch(/prvCreateEnvironmentVariableValue/);
  });
});

describe("role assignment through the Web API", () => {
  it("associates and disassociates a role with systemuserroles_association/$ref", async () => {
    const u = appUser([]);
    const bridgeRole = await roleId(SECURITY_ROLES.bridge.name);
    const add = await h.api("POST", `systemusers(${u.id})/systemuserroles_association/$ref`, { body: { "@odata.id": `${h.dv.apiUrl}/roles(${bridgeRole})` } });
    expect(add.status).toBe(204);
    const listed = await h.api("GET", `systemusers(${u.id})/systemuserroles_association`);
    expect(listed.json.value).toEqual([{ roleid: bridgeRole, name: SECURITY_ROLES.bridge.name }]);
    expect((await h.api("GET", "accounts?$top=1&$select=name", { token: u.token })).status).toBe(200);
    expect((await h.api("DELETE", `systemusers(${u.id})/systemuserroles_association(${bridgeRole})/$ref`)).status).toBe(204);
    expect((await h.api("GET", "accounts?$top=1&$select=name", { token: u.token })).status).toBe(403);
    expect((await h.api("POST", `systemusers(${u.id})/systemuserroles_association/$ref`, { body: { "@odata.id": `/roles(${randomUUID()})` } })).status).toBe(404);
  });

  it("keeps System Administrator all-powerful", async () => {
    const u = appUser(["System Administrator"]);
    const id = entityIdOf(await h.api("POST", "accounts", { token: u.token, body: { name: "Temp" } }));
    expect((await h.api("DELETE", `accounts(${id})`, { token: u.token })).status).toBe(204);
  });
});

describe("service endpoints", () => {
  it.each([
    ["connectionmode", { userclaim: 1 }],
    ["userclaim", { connectionmode: 1 }],
  ])("refuses a webhook endpoint without its SystemRequired %s", async (missing, rest) => {
    const res = await h.api("POST", "serviceendpoints", {
      body: { name: "no-" + missing, url: "https://bridge.example/webhooks/dataverse", contract: 8, authtype: 5, authvalue: '<settings><setting name="k" value="v"/></settings>', ...rest },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(`Attribute '${missing}' of entity 'serviceendpoint' is required and cannot be empty.`);
  });

  it("refuses a webhook with an HttpHeader key but no authvalue, and takes a complete one", async () => {
    const base = { name: "hook", url: "https://bridge.example/webhooks/dataverse", contract: 8, connectionmode: 1, userclaim: 1, authtype: 5 };
    expect((await h.api("POST", "serviceendpoints", { body: base })).status).toBe(400);
    expect((await h.api("POST", "serviceendpoints", { body: { ...base, authvalue: '<settings><setting name="k" value="v"/></settings>' } })).status).toBe(204);
  });
});
