/**
 * The standard Dataverse names the form scripts need, taken from the data contract. Pure data: the
 * bundle build evaluates this module and inlines the result (build.ts DATA_MODULES).
 */
import { EnvironmentVariableTable as ContractEnvironmentVariableTable, SystemColumn } from "@cosell/contract";

/** Standard opportunity columns the co-sell rules read. */
export const StandardOpportunityColumn = {
  /** Customer lookup (account or contact); Partner Center needs an account. */
  customer: SystemColumn.opportunity.customer,
  /** The customer contact; Partner Center needs one when Microsoft help is requested. */
  customerContact: SystemColumn.opportunity.parentContact,
  estimatedCloseDate: SystemColumn.opportunity.estimatedCloseDate,
} as const;

export const EnvironmentVariableTable = ContractEnvironmentVariableTable;
