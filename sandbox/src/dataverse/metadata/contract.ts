/**
 * Provisions the data contract (DESIGN §2, from @cosell/contract) straight into the emulated schema,
 * as the PartnerCenterCoSell solution would: global choices, the opportunity and lead columns, the
 * alternate keys, the `cosell_solution` table and the environment variable definitions. Tests and
 * `npm start` use it until the real solution zip is imported (an import of that zip gives the same
 * names, so either path leaves the same schema).
 */
import {
  ALTERNATE_KEYS,
  ENVIRONMENT_VARIABLES,
  GLOBAL_CHOICES,
  LEAD_COLUMNS,
  OPPORTUNITY_COLUMNS,
  ROLE_PRIVILEGES,
  SECURITY_ROLES,
  SOLUTION_CATALOG_TABLE,
  type ColumnDefinition,
} from "@cosell/contract";
import { randomUUID } from "node:crypto";
import { createRecord } from "../data/operations";
import type { Organization } from "../org";
import { col, finishAttribute, key, optionSet, table } from "./columns";
import type { AttributeMetadata } from "./types";

function attribute(org: Organization, entity: string, c: ColumnDefinition): AttributeMetadata {
  const o = { schemaName: c.schemaName, display: c.displayName, custom: true } as const;
  const t = c.type;
  switch (t.kind) {
    case "boolean":
      return finishAttribute(entity, col.bool(entity, c.logicalName, t.default, [t.trueLabel, t.falseLabel], o));
    case "choice": {
      const set = org.schema.globalOptionSet(GLOBAL_CHOICES[t.globalChoice].name);
      if (!set) throw new Error(`global choice ${GLOBAL_CHOICES[t.globalChoice].name} is not provisioned`);
      return finishAttribute(entity, col.globalChoice(c.logicalName, set, o));
    }
    case "text":
      return finishAttribute(entity, col.string(c.logicalName, t.maxLength, { ...o, format: t.format }));
    case "memo":
      return finishAttribute(entity, col.memo(c.logicalName, t.maxLength, o));
    case "datetime":
      return finishAttribute(entity, col.datetime(c.logicalName, "UserLocal", o));
  }
}

export function provisionContract(org: Organization): void {
  const { schema } = org;
  for (const choice of Object.values(GLOBAL_CHOICES))
    schema.putGlobalOptionSet(
      optionSet(
        choice.name,
        "picklist",
        choice.options.map((o) => ({ value: o.value, label: o.label })),
        true,
        choice.displayName,
      ),
    );
  for (const c of OPPORTUNITY_COLUMNS) schema.putAttribute("opportunity", attribute(org, "opportunity", c));
  for (const c of LEAD_COLUMNS) schema.putAttribute("lead", attribute(org, "lead", c));

  const t = SOLUTION_CATALOG_TABLE;
  if (!schema.entity(t.logicalName)) {
    const name = t.primaryName;
    schema.addEntity(
      table({
        logicalName: t.logicalName,
        schemaName: t.schemaName,
        entitySetName: t.entitySetName,
        primaryIdAttribute: t.primaryIdAttribute,
        displayName: t.displayName,
        displayCollectionName: t.displayCollectionName,
        objectTypeCode: schema.allocateObjectTypeCode(),
        isCustom: true,
        primaryName:
          name.type.kind === "text"
            ? col.string(name.logicalName, name.type.maxLength, { schemaName: name.schemaName, display: name.displayName, custom: true, required: "ApplicationRequired" })
            : col.string(name.logicalName, 200, { custom: true }),
        columns: [],
      }),
    );
    for (const c of t.columns) schema.putAttribute(t.logicalName, attribute(org, t.logicalName, c));
  }

  for (const k of Object.values(ALTERNATE_KEYS)) schema.addKey(k.table, key(k.table, k.logicalName, k.attributes, k.displayName));

  org.systemWrite((scope) => {
    // The solution's two security roles, with exactly the privileges the package gives them.
    for (const [k, role] of Object.entries(SECURITY_ROLES) as Array<[keyof typeof SECURITY_ROLES, (typeof SECURITY_ROLES)[keyof typeof SECURITY_ROLES]]>) {
      const existing = org.security.roleByName(role.name);
      const id = existing?.id ?? randomUUID();
      if (!existing)
        createRecord(org, scope, org.entity("role"), { roleid: id, name: role.name, businessunitid: { entity: "businessunit", id: org.seededIds.businessUnitId } }, { record: false });
      org.security.defineRole(id, role.name, ROLE_PRIVILEGES[k].map((p) => ({ name: p.name, depth: p.level })));
    }
    for (const v of ENVIRONMENT_VARIABLES) {
      let exists = false;
      for (const _ of org.store.idsWhereEquals("environmentvariabledefinition", "schemaname", v.schemaName)) exists = true;
      if (exists) continue;
      createRecord(
        org,
        scope,
        org.entity("environmentvariabledefinition"),
        {
          schemaname: v.schemaName,
          displayname: v.displayName.slice(0, 100),
          description: v.description,
          type: v.type,
          defaultvalue: v.defaultValue === "" ? null : v.defaultValue,
          isrequired: false,
        },
        { record: false },
      );
    }
  });
}
