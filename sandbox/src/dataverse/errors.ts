/**
 * Dataverse Web API errors: one typed error class and one factory per failure the emulator emits.
 * Codes and messages follow specs/dataverse.md §7.9 and §4.9 (body `{"error":{"code","message"}}`).
 * Where the spec marks a code as a live capture [C] we use it; where it is silent the choice is
 * listed in docs/sandbox-dataverse.md.
 */

export class DataverseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DataverseError";
  }

  get body(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

const typeName = (entity: string) => `Microsoft.Dynamics.CRM.${entity}`;

export const Errors = {
  /** Unknown column in `$select`, `$orderby` or `$filter`. */
  unknownProperty: (entity: string, property: string) =>
    new DataverseError(400, "0x80060888", `Could not find a property named '${property}' on type '${typeName(entity)}'.`),

  /** Unknown column in a POST/PATCH body. */
  unknownBodyProperty: (entitySet: string, entity: string, property: string) =>
    new DataverseError(
      400,
      "0x80048d19",
      `Error identified in Payload provided by the user for Entity :'${entitySet}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: The property '${property}' does not exist on type '${typeName(entity)}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
    ),

  /** Unknown `<nav>@odata.bind` in a body. */
  unknownNavigation: (entitySet: string, navigation: string) =>
    new DataverseError(
      400,
      "0x80048d19",
      `Error identified in Payload provided by the user for Entity :'${entitySet}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: An undeclared property '${navigation}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
    ),

  /** A value of the wrong JSON type or literal form (the OData reader fails before Dataverse validates). */
  badPayloadValue: (entitySet: string, detail: string) =>
    new DataverseError(
      400,
      "0x80048d19",
      `Error identified in Payload provided by the user for Entity :'${entitySet}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: ${detail}`,
    ),

  malformedJson: (detail: string) =>
    new DataverseError(400, "0x80048d19", `Error identified in Payload provided by the user: ${detail}`),

  unknownSegment: (segment: string) =>
    new DataverseError(404, "0x8006088a", `Resource not found for the segment '${segment}'.`),

  noResource: (url: string) =>
    new DataverseError(404, "", `No HTTP resource was found that matches the request URI '${url}'.`),

  notFound: (entity: string, id: string) =>
    new DataverseError(404, "0x80040217", `Entity '${entity}' With Id = ${id} Does Not Exist`),

  notFoundByKey: (entity: string, _keyText: string) =>
    new DataverseError(404, "0x80040217", `A record with the specified key values does not exist in ${entity} entity`),

  versionMismatch: () =>
    new DataverseError(412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided."),

  alreadyExists: () => new DataverseError(412, "0x80040237", "A record with matching key values already exists."),

  duplicateKey: (entity: string, keyName: string, keyAttributes: readonly string[]) =>
    new DataverseError(
      412,
      "0x80060892",
      `A record that has the attribute values ${keyAttributes.join(", ")} already exists. The entity key ${keyName} requires that this set of attributes contains unique values. Select unique values and try again.`,
    ),

  duplicateId: (entity: string, id: string) =>
    new DataverseError(412, "0x80040237", `Cannot insert duplicate key. A record of ${entity} with id ${id} already exists.`),

  stringTooLong: (entity: string, attribute: string, max: number) =>
    new DataverseError(
      400,
      "0x80044331",
      `A validation error occurred.  The length of the '${attribute}' attribute of the '${entity}' entity exceeded the maximum allowed length of '${max}'.`,
    ),

  optionOutOfRange: (entity: string, attribute: string, value: number, accepted: readonly number[]) =>
    new DataverseError(
      400,
      "0x8004431a",
      `A validation error occurred. The value ${value} of '${attribute}' on record of type '${entity}' is outside the valid range. Accepted Values: ${accepted.join(",")}`,
    ),

  numberOutOfRange: (entity: string, attribute: string, min: number, max: number) =>
    new DataverseError(
      400,
      "0x80044331",
      `A validation error occurred. The value of '${attribute}' on record of type '${entity}' is outside the valid range. Accepted range: ${min} to ${max}.`,
    ),

  invalidStatus: (entity: string, statuscode: number, statecode: number) =>
    new DataverseError(
      400,
      "0x80040203",
      `${statuscode} is not a valid status code for state code ${statecode} on ${entity}.`,
    ),

  requiredMissing: (entity: string, attribute: string) =>
    new DataverseError(400, "0x80040203", `Attribute '${attribute}' of entity '${entity}' is required and cannot be empty.`),

  invalidArgument: (message: string) => new DataverseError(400, "0x80040203", message),
  /** Code and wording unverified (docs/decisions.md): a key whose index is not built yet, or failed. */
  keyNotActive: (entity: string, key: string, status: string) =>
    new DataverseError(
      400,
      "0x80060891",
      `The alternate key '${key}' of entity '${entity}' is not active (EntityKeyIndexStatus: ${status}); it cannot be used until its index has been built.`,
    ),

  querySyntax: (message: string) => new DataverseError(400, "0x0", message),

  methodNotAllowed: (method: string, url: string) =>
    new DataverseError(405, "0x80060888", `The HTTP method '${method}' is not allowed for the resource '${url}'.`),

  notAMember: () => new DataverseError(403, "0x80072560", "The user is not a member of the organization."),

  disabledUser: (id: string) =>
    new DataverseError(
      403,
      "0x80040225",
      `The user with SystemUserId=${id} is disabled. Disabled users cannot access the system.`,
    ),

  concurrencyLimit: (limit: number, retryAfterSeconds: number) =>
    new DataverseError(429, "0x80072326", `Number of concurrent requests exceeded the limit of ${limit}.`, {
      "Retry-After": String(retryAfterSeconds),
    }),

  rateLimit: (limit: number, windowSeconds: number, retryAfterSeconds: number) =>
    new DataverseError(
      429,
      "0x80072322",
      `Number of requests exceeded the limit of ${limit} over time window of ${windowSeconds} seconds.`,
      { "Retry-After": String(retryAfterSeconds) },
    ),

  injectedServerError: (status: number) =>
    new DataverseError(status, "0x80040216", "An unexpected error occurred. (sandbox fault injection)"),

  batchTooLarge: (count: number) =>
    new DataverseError(400, "0x80048d19", `The number of requests in a batch (${count}) exceeds the limit of 1000.`),

  webhookFailed: (url: string, detail: string) =>
    new DataverseError(
      500,
      "0x80040265",
      `An error occurred while sending the webhook to '${url}' (synchronous step): ${detail}`,
    ),
} as const;
