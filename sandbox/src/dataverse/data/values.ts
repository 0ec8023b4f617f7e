/**
 * Column values between the Web API's JSON and the store: validation of written values (type,
 * length, option set, range, date format) with Dataverse's errors, the JSON a read returns, and the
 * formatted values (`OData.Community.Display.V1.FormattedValue`) a caller may ask for.
 */
import { DataverseError, Errors } from "../errors";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types";
import { isLookupValue, type StoredValue } from "./store";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (s: string): boolean => GUID.test(s);

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})$/;

export function validDateOnly(s: string): boolean {
  const m = DATE_ONLY.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** An ISO date-time with offset → `YYYY-MM-DDTHH:mm:ssZ` (Dataverse keeps whole seconds), or undefined. */
export function normaliseDateTime(s: string): string | undefined {
  if (!DATE_TIME.test(s)) return undefined;
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) return undefined;
  return isoSeconds(ms);
}

export const isoSeconds = (ms: number): string => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;

/**
 * Platform-set stamps (createdon, modifiedon) keep milliseconds internally, so that `$orderby` and
 * `$filter` see the true order of writes within a second; reads show whole seconds, as Dataverse does.
 */
export const isoMillis = (ms: number): string => new Date(Math.floor(ms)).toISOString();

/** A stored date-time as the API shows it: whole seconds. */
export const toSeconds = (v: string): string => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z$/.test(v) ? `${v.slice(0, 19)}Z` : v);

const edmType = (a: AttributeMetadata): string => {
  switch (a.kind) {
    case "string":
    case "memo":
    case "entityname":
    case "multiselectpicklist":
      return "Edm.String";
    case "integer":
    case "picklist":
    case "state":
    case "status":
      return "Edm.Int32";
    case "bigint":
      return "Edm.Int64";
    case "decimal":
    case "money":
      return "Edm.Decimal";
    case "double":
      return "Edm.Double";
    case "boolean":
      return "Edm.Boolean";
    case "datetime":
      return a.dateTimeBehavior === "DateOnly" ? "Edm.Date" : "Edm.DateTimeOffset";
    case "uniqueidentifier":
      return "Edm.Guid";
    default:
      return "Edm.String";
  }
};

/**
 * Converts one written column value to its stored form. Lookups are not written here (they arrive
 * as `@odata.bind`); `_x_value` properties are refused by the caller.
 */
export function parseColumnValue(entity: EntityMetadata, entitySet: string, a: AttributeMetadata, raw: unknown): StoredValue {
  if (raw === null) return null;
  const wrongType = (): DataverseError =>
    Errors.badPayloadValue(
      entitySet,
      typeof raw === "string"
        ? `Cannot convert the literal '${raw}' to the expected type '${edmType(a)}'.`
        : `A value of type '${typeof raw}' was found for the property '${a.logicalName}' where a value of type '${edmType(a)}' was expected.`,
    );
  switch (a.kind) {
    case "string":
    case "memo": {
      if (typeof raw !== "string") throw wrongType();
      if (a.maxLength !== undefined && raw.length > a.maxLength)
        throw Errors.stringTooLong(entity.logicalName, a.logicalName, a.maxLength);
      return raw === "" ? null : raw; // Dataverse keeps empty text as null
    }
    case "entityname":
      if (typeof raw !== "string") throw wrongType();
      return raw;
    case "uniqueidentifier":
      if (typeof raw !== "string" || !isGuid(raw)) throw wrongType();
      return raw.toLowerCase();
    case "boolean":
      if (typeof raw !== "boolean") throw wrongType();
      return raw;
    case "integer":
    case "bigint": {
      if (typeof raw !== "number" || !Number.isInteger(raw)) throw wrongType();
      checkRange(entity, a, raw);
      return raw;
    }
    case "decimal":
    case "double":
    case "money": {
      const n = typeof raw === "string" && /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isFinite(n)) throw wrongType();
      checkRange(entity, a, n);
      return a.kind === "money" ? Math.round(n * 100) / 100 : n;
    }
    case "picklist":
    case "state":
    case "status": {
      if (typeof raw !== "number" || !Number.isInteger(raw)) throw wrongType();
      checkOption(entity, a, raw);
      return raw;
    }
    case "multiselectpicklist": {
      if (typeof raw !== "string") throw wrongType();
      const values = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
        .map((s) => {
          const n = Number(s);
          if (!Number.isInteger(n)) throw wrongType();
          checkOption(entity, a, n);
          return n;
        });
      return values.length === 0 ? null : [...new Set(values)];
    }
    case "datetime": {
      if (typeof raw !== "string") throw wrongType();
      if (a.dateTimeBehavior === "DateOnly") {
        if (!validDateOnly(raw)) throw wrongType();
        return raw;
      }
      const iso = normaliseDateTime(raw);
      if (!iso) throw wrongType();
      return iso;
    }
    default:
      throw Errors.badPayloadValue(entitySet, `The property '${a.logicalName}' cannot be written.`);
  }
}

function checkRange(entity: EntityMetadata, a: AttributeMetadata, n: number): void {
  const min = a.minValue ?? -Infinity;
  const max = a.maxValue ?? Infinity;
  if (n < min || n > max) throw Errors.numberOutOfRange(entity.logicalName, a.logicalName, min, max);
}

function checkOption(entity: EntityMetadata, a: AttributeMetadata, n: number): void {
  const options = a.optionSet?.options ?? [];
  if (!options.some((o) => o.value === n))
    throw Errors.optionOutOfRange(
      entity.logicalName,
      a.logicalName,
      n,
      options.map((o) => o.value),
    );
}

/** The JSON a read returns for a stored value. */
export function jsonValue(a: AttributeMetadata, v: StoredValue | undefined): unknown {
  if (v === undefined || v === null) return null;
  if (isLookupValue(v)) return v.id;
  if (Array.isArray(v)) return v.join(",");
  if (a.kind === "datetime" && typeof v === "string") return toSeconds(v);
  return v;
}

const numberFormat = (digits: number) =>
  new Intl.NumberFormat("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const integerFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const money2 = numberFormat(2);

export function optionLabel(a: AttributeMetadata, value: number): string | undefined {
  return a.optionSet?.options.find((o) => o.value === value)?.label;
}

/**
 * The formatted value of a column (en-US, UTC), or undefined when Dataverse gives none.
 * `lookupName` resolves a lookup's primary name; `currencySymbol` the row's currency symbol.
 */
export function formattedValue(
  a: AttributeMetadata,
  v: StoredValue | undefined,
  ctx: { lookupName: (entity: string, id: string) => string | undefined; currencySymbol: () => string },
): string | undefined {
  if (v === undefined || v === null) return undefined;
  switch (a.kind) {
    case "boolean":
      return optionLabel(a, v === true ? 1 : 0);
    case "picklist":
    case "state":
    case "status":
      return typeof v === "number" ? optionLabel(a, v) : undefined;
    case "multiselectpicklist":
      return Array.isArray(v) ? v.map((n) => optionLabel(a, n) ?? String(n)).join("; ") : undefined;
    case "money":
      return typeof v === "number" ? `${v < 0 ? "-" : ""}${ctx.currencySymbol()}${money2.format(Math.abs(v))}` : undefined;
    case "integer":
      return typeof v === "number" ? integerFormat.format(v) : undefined;
    case "decimal":
    case "double":
      return typeof v === "number" ? numberFormat(a.precision ?? 2).format(v) : undefined;
    case "datetime":
      return typeof v === "string" ? formatDate(v, a.dateTimeBehavior === "DateOnly") : undefined;
    case "lookup":
    case "customer":
    case "owner":
      return isLookupValue(v) ? ctx.lookupName(v.entity, v.id) : undefined;
    default:
      return undefined;
  }
}

function formatDate(v: string, dateOnly: boolean): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(v);
  if (!m) return v;
  const date = `${Number(m[2])}/${Number(m[3])}/${m[1]}`;
  if (dateOnly || m[4] === undefined) return date;
  const h = Number(m[4]);
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${date} ${h12}:${m[5]} ${h < 12 ? "AM" : "PM"}`;
}
