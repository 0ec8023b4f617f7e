/**
 * The mapping file (plugins-bridge/mapping/*.json) as a zod schema. The JSON schema
 * `mapping/mapping.schema.json` is generated from `MappingFileSchema` (see write-schema.ts).
 *
 * One schema serves the shipped default and an admin's override: every property of a field is
 * optional in a file, because an override names only what it changes. After the override is laid
 * over the default, `CompleteFieldSchema` requires what a working field needs.
 */
import { z } from "zod";
import { EnvironmentVariable, GLOBAL_CHOICES } from "@cosell/contract";
import { JsonValueSchema } from "../partner-center/model";
import { PATH_PATTERN } from "./pointer";

export const RECORD_KINDS = ["opportunity", "lead", "account", "contact"] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export const DIRECTIONS = ["both", "pc-to-crm", "crm-to-pc"] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const WHEN = ["create", "update"] as const;
export type When = (typeof WHEN)[number];

/** Environment variables whose value is a column name. */
export const COLUMN_ENVIRONMENT_VARIABLES = [EnvironmentVariable.dealValueField, EnvironmentVariable.countryCodeField] as const;

const GLOBAL_CHOICE_NAMES = Object.values(GLOBAL_CHOICES).map((c) => c.name) as [string, ...string[]];

export const ColumnReferenceSchema = z
  .union([
    z.string().regex(/^[a-z_][a-z0-9_]*$/, "a column logical name: lower-case letters, digits and _"),
    z.strictObject({
      fromEnvironmentVariable: z
        .enum(COLUMN_ENVIRONMENT_VARIABLES)
        .meta({ description: "The environment variable whose current value is the column's logical name." }),
    }),
  ])
  .meta({ id: "ColumnReference", description: "Dataverse column logical name, or the environment variable that names it." });
export type ColumnReference = z.infer<typeof ColumnReferenceSchema>;

const PathSchema = z
  .string()
  .regex(PATH_PATTERN, "a Partner Center path such as details/dealValue or customerProfile/team/0/email");

export const PartnerCenterPathSchema = z
  .union([PathSchema, z.array(PathSchema).min(1)])
  .meta({
    id: "PartnerCenterPath",
    description:
      "Path in the referral (camelCase, '/'-separated, array indexes as numbers). A list is read in order, first non-empty value wins (read-only). '@microsoft/' reads Microsoft's related referral (read-only).",
  });

const maxLength = z.number().int().positive().optional().meta({ description: "Longer values are cut to this length on both sides." });

export const PicklistOptionSchema = z.strictObject({
  crm: z.number().int().meta({ description: "Dataverse option value." }),
  pc: z.string().nullable().meta({ description: "Partner Center value; null = no value." }),
});

export const TransformSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("text"), maxLength }).meta({ description: "Text; empty = no value." }),
    z
      .strictObject({ type: z.literal("stripCheckmark"), maxLength })
      .meta({ description: "Text without the ✔/✖ suffix (the opportunity name)." }),
    z.strictObject({ type: z.literal("email") }).meta({ description: "E-mail address, compared without case." }),
    z
      .strictObject({ type: z.literal("countryCode") })
      .meta({ description: "ISO 3166 two-letter country code, upper case." }),
    z.strictObject({ type: z.literal("money") }).meta({ description: "Amount, two decimals." }),
    z
      .strictObject({ type: z.literal("dateOnly") })
      .meta({ description: "Date-only column (YYYY-MM-DD) ⇄ closingDateTime (midnight UTC)." }),
    z
      .strictObject({
        type: z.literal("boolean"),
        sticky: z
          .boolean()
          .optional()
          .meta({ description: "Once true in Partner Center it cannot be turned back (e.g. sharing with Microsoft)." }),
      })
      .meta({ description: "Yes/No." }),
    z
      .strictObject({
        type: z.literal("picklist"),
        values: z.array(PicklistOptionSchema).min(1).optional(),
        globalChoice: z
          .enum(GLOBAL_CHOICE_NAMES)
          .optional()
          .meta({ description: "Take the map from the contract's global choice (its options' API values)." }),
      })
      .meta({ description: "Choice column ⇄ Partner Center enum value; give values or globalChoice." }),
    z
      .strictObject({ type: z.literal("products") })
      .meta({ description: "cosell_products (comma-separated SOL-… ids) ⇄ details.requirements.solutions (type Name)." }),
    z
      .strictObject({ type: z.literal("currencyIsoCode") })
      .meta({ description: "transactioncurrencyid lookup ⇄ ISO 4217 code." }),
    z
      .strictObject({ type: z.literal("status") })
      .meta({ description: "statecode: opportunity won/lost, lead qualified/disqualified ⇒ referral status transition." }),
    z
      .strictObject({ type: z.literal("owner") })
      .meta({ description: "ownerid (by e-mail) ⇄ the partner team (the newest member)." }),
    z
      .strictObject({
        type: z.literal("referralLink"),
        template: z
          .string()
          .regex(/\{id\}/, "must contain {id}")
          .meta({ description: "URL with {id} (and optionally {engagementId}) placeholders." }),
      })
      .meta({ description: "Link to the referral in Partner Center, built from its id." }),
  ])
  .meta({ id: "Transform", description: "How a value is converted between the two sides." });
export type Transform = z.infer<typeof TransformSchema>;
export type TransformType = Transform["type"];

export const ConflictPolicySchema = z
  .discriminatedUnion("policy", [
    z.strictObject({ policy: z.literal("pc-wins") }),
    z.strictObject({ policy: z.literal("crm-wins") }),
    z.strictObject({ policy: z.literal("latest-wins") }),
    z.strictObject({ policy: z.literal("manual") }),
  ])
  .meta({
    id: "ConflictPolicy",
    description:
      "When both sides changed the field to different values: pc-wins, crm-wins, latest-wins (by the record's last modification; ties go to Partner Center) or manual (keep both, report the conflict).",
  });
export type ConflictPolicy = z.infer<typeof ConflictPolicySchema>;

export const FieldFileSchema = z
  .strictObject({
    label: z.string().min(1).optional().meta({ description: "Seller-facing name used in audit lines and errors." }),
    partnerCenter: PartnerCenterPathSchema.optional(),
    dataverse: ColumnReferenceSchema.optional(),
    direction: z.enum(DIRECTIONS).optional().meta({ description: "Which way changes flow. Default both." }),
    when: z
      .array(z.enum(WHEN))
      .min(1)
      .optional()
      .meta({ description: "On record creation, on later updates, or both. Default both." }),
    transform: TransformSchema.optional(),
    default: JsonValueSchema.optional().meta({ description: "Value used when the source has none." }),
    conflict: ConflictPolicySchema.optional(),
    enabled: z.boolean().optional().meta({ description: "false switches the field off (e.g. in an override)." }),
  })
  .meta({ id: "Field", description: "One field: where it lives on each side and how it syncs." });
export type FieldFile = z.infer<typeof FieldFileSchema>;

const FieldKeySchema = z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, "a field key: letters and digits");

export const KindFileSchema = z
  .strictObject({
    fields: z.record(FieldKeySchema, FieldFileSchema),
  })
  .meta({ id: "RecordKindMapping", description: "The fields of one record kind, by field key." });

export const MappingFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1).optional(),
    description: z.string().optional(),
    opportunity: KindFileSchema.optional(),
    lead: KindFileSchema.optional(),
    account: KindFileSchema.optional(),
    contact: KindFileSchema.optional(),
  })
  .meta({
    title: "cosell-bridge field mapping",
    description:
      "Partner Center referral ⇄ Dynamics 365 field mapping. The shipped default is complete; an admin's file names only the fields and properties it changes.",
  });
export type MappingFile = z.infer<typeof MappingFileSchema>;

/** A field after the override is laid over the default: what the sync needs is present. */
export const CompleteFieldSchema = FieldFileSchema.extend({
  partnerCenter: PartnerCenterPathSchema,
  dataverse: ColumnReferenceSchema,
});
