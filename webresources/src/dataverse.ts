/**
 * The one seam between the form rules and Dataverse: reads only, behind an interface so the rules
 * run in tests without an org. The implementation over `Xrm.WebApi` is the only code that touches it.
 */

export type DataverseRecord = Readonly<Record<string, unknown>>;

export interface DataverseReader {
  retrieveRecord(table: string, id: string, options: string): Promise<DataverseRecord>;
  retrieveMultipleRecords(table: string, options: string): Promise<readonly DataverseRecord[]>;
}

/** A Web API read failed; `cause` keeps what Xrm.WebApi rejected with. */
export class DataverseReadError extends Error {
  override readonly name = "DataverseReadError";
  constructor(
    message: string,
    readonly reason: string,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Xrm.WebApi rejects with an error object `{ errorCode, message }`, not an Error; some hosts reject
 * with an Error or a string. Pull the words out of whichever arrived.
 */
export function describeWebApiFailure(error: unknown): string {
  if (typeof error === "string" && error.trim()) return error.trim();
  if (typeof error === "object" && error !== null && "message" in error) {
    const message = (error as { message: unknown }).message;
    if (typeof message === "string" && message.trim()) return message.trim();
  }
  return "the request to Dataverse failed";
}

function isRecord(value: unknown): value is DataverseRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Record ids arrive from lookups as `{GUID}`; the Web API wants the bare GUID. */
export function bareId(id: string): string {
  return id.replace(/[{}]/g, "").toLowerCase();
}

export const xrmWebApiReader: DataverseReader = {
  async retrieveRecord(table, id, options) {
    let record: unknown;
    try {
      record = await Xrm.WebApi.retrieveRecord(table, bareId(id), options);
    } catch (cause) {
      const reason = describeWebApiFailure(cause);
      throw new DataverseReadError(`reading ${table} ${bareId(id)} failed: ${reason}`, reason, { cause });
    }
    if (!isRecord(record)) {
      throw new DataverseReadError(`reading ${table} returned no record`, "Dataverse returned no record", {
        cause: record,
      });
    }
    return record;
  },
  async retrieveMultipleRecords(table, options) {
    let result: unknown;
    try {
      result = await Xrm.WebApi.retrieveMultipleRecords(table, options);
    } catch (cause) {
      const reason = describeWebApiFailure(cause);
      throw new DataverseReadError(`querying ${table} failed: ${reason}`, reason, { cause });
    }
    const entities = isRecord(result) ? result.entities : undefined;
    if (!Array.isArray(entities)) {
      throw new DataverseReadError(`querying ${table} returned no entity list`, "Dataverse returned an unexpected answer", {
        cause: result,
      });
    }
    return entities.filter(isRecord);
  },
};
