/**
 * Dataverse names the form scripts need that the data contract does not (yet) define: standard
 * opportunity columns and the environment variable tables. Kept in this one place so no other file
 * spells them; they belong in @cosell/contract (see README "Contract gaps").
 */

/** Standard opportunity columns the co-sell rules read. */
export const StandardOpportunityColumn = {
  /** Customer lookup (account or contact); Partner Center needs an account. */
  customer: "customerid",
  /** The customer contact; Partner Center needs one when Microsoft help is requested. */
  customerContact: "parentcontactid",
  estimatedCloseDate: "estimatedclosedate",
} as const;

/** The environment variable tables as the Web API exposes them (dataverse.md §2.6). */
export const EnvironmentVariableTable = {
  definition: "environmentvariabledefinition",
  schemaName: "schemaname",
  defaultValue: "defaultvalue",
  /** Navigation from a definition to its current values. */
  values: "environmentvariabledefinition_environmentvariablevalue",
  value: "value",
} as const;
