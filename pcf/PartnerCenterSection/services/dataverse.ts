/**
 * dataverse-ify over the control's own Web API. dataverse-ify's XrmContextDataverseClient expects
 * `Xrm.WebApi`; a PCF control gets `ComponentFramework.WebApi`, which has the five CRUD calls and no
 * `online.execute`/`executeMultiple` (and a control must not reach for the global `Xrm`). Passed as
 * is, CRUD works and `execute` dies with a TypeError on `undefined.execute` (pinned in
 * test/services/dataverse.test.ts). This adapter gives dataverse-ify the CRUD calls and makes the
 * rest fail with a typed error that says why.
 */
import type { DataverseClient } from "dataverse-ify";
// The two modules by path, not through dataverse-ify's barrel: the barrel's re-exports of every
// module (types, the Node client's helpers) would ride along in the bundle (issue 14: ≤ 50 KB).
import { XrmContextDataverseClient } from "dataverse-ify/lib/dataverse-ify/DataverseClient/XrmContextDataverseClient";
import { setMetadataCache } from "dataverse-ify/lib/metadata/MetadataCache";
import { metadataCache } from "../dataverse-gen/metadata";

export class UnsupportedInControlError extends Error {
  public override readonly name = "UnsupportedInControlError";
  constructor(public readonly operation: string) {
    super(`${operation} is not available to a PCF control: context.webAPI offers create, retrieve, update and delete only`);
  }
}

type CrudWebApi = Pick<
  ComponentFramework.WebApi,
  "createRecord" | "updateRecord" | "deleteRecord" | "retrieveRecord" | "retrieveMultipleRecords"
>;

interface CrudCalls {
  createRecord(entity: string, record: object): Promise<{ entityType: string; id: string }>;
  updateRecord(entity: string, id: string, data: object): Promise<{ entityType: string; id: string }>;
  deleteRecord(entity: string, id: string): Promise<string>;
  retrieveRecord(entity: string, id: string, options?: string): Promise<ComponentFramework.WebApi.Entity>;
  retrieveMultipleRecords(
    entity: string,
    options?: string,
    maxPageSize?: number,
  ): Promise<{ entities: ComponentFramework.WebApi.Entity[]; nextLink: string }>;
  isAvailableOffline(entity: string): boolean;
}

/** The shape of `Xrm.WebApi` that dataverse-ify's XrmContextDataverseClient calls. */
export interface WebApiForDataverseify extends CrudCalls {
  readonly online: CrudCalls & {
    execute(request: unknown): Promise<never>;
    executeMultiple(requests: unknown[]): Promise<never>;
  };
  readonly offline: CrudCalls;
}

export function xrmWebApiFrom(webAPI: CrudWebApi): WebApiForDataverseify {
  const crud: CrudCalls = {
    createRecord: (entity, record) => webAPI.createRecord(entity, record as ComponentFramework.WebApi.Entity),
    updateRecord: (entity, id, data) => webAPI.updateRecord(entity, id, data as ComponentFramework.WebApi.Entity),
    deleteRecord: (entity, id) => webAPI.deleteRecord(entity, id).then((ref) => ref.id),
    retrieveRecord: (entity, id, options) => webAPI.retrieveRecord(entity, id, options),
    retrieveMultipleRecords: (entity, options, maxPageSize) =>
      webAPI.retrieveMultipleRecords(entity, options, maxPageSize).then((r) => ({
        entities: r.entities,
        nextLink: r.nextLink ?? "",
      })),
    isAvailableOffline: () => false,
  };
  const unsupported = (operation: string) => (): Promise<never> =>
    Promise.reject(new UnsupportedInControlError(operation));
  return {
    ...crud,
    online: { ...crud, execute: unsupported("execute"), executeMultiple: unsupported("executeMultiple") },
    offline: crud,
  };
}

/** The typed client the control's services use; the generated metadata is registered once. */
export function dataverseClientFor(webAPI: CrudWebApi): DataverseClient {
  setMetadataCache(metadataCache);
  // Xrm.WebApi declares jQuery-era promises (fail/always) that dataverse-ify never calls; it awaits.
  return new XrmContextDataverseClient(xrmWebApiFrom(webAPI) as unknown as Xrm.WebApi);
}
