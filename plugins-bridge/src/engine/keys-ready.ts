/**
 * Whether the referral-id alternate keys can be relied on. Dataverse builds a key's index with a
 * system job after the solution import ("Work with alternate keys": `EntityKeyIndexStatus` Pending,
 * InProgress, Active or Failed); until it is Active the key cannot address a record and does not
 * keep a second row with the same referral id out. The bridge reads the status from the key
 * metadata, remembers Active for good, and otherwise refuses the sync: retryable while the index is
 * being built, for the admin while it failed.
 */
import { ALTERNATE_KEYS } from "@cosell/contract";
import { z } from "zod";
import type { DataverseClient } from "../dataverse/client";
import { TransientError, ValidationError } from "../http/errors";
import type { RecordKind } from "./keys";

type ReferralKey = (typeof ALTERNATE_KEYS)["opportunityReferralId"] | (typeof ALTERNATE_KEYS)["leadReferralId"];

export const REFERRAL_KEYS: Readonly<Record<RecordKind, ReferralKey>> = {
  opportunity: ALTERNATE_KEYS.opportunityReferralId,
  lead: ALTERNATE_KEYS.leadReferralId,
};

const KeysResponse = z.object({
  value: z.array(z.object({ LogicalName: z.string(), EntityKeyIndexStatus: z.string().nullish() })),
});

/** The index of a key is still being built (Pending, InProgress): run the sync again later. */
export class KeyIndexPendingError extends TransientError {}

/** The index job failed (or the key is missing): only an admin can fix it. */
export class KeyIndexFailedError extends ValidationError {}

/** A key whose index was last seen not Active, for the status page. */
export interface KeyNotReady {
  readonly table: string;
  readonly key: string;
  /** Pending, InProgress, Failed, or Missing (the key is not defined at all). */
  readonly status: string;
}

export class KeyReadiness {
  private readonly active = new Set<string>();
  private readonly notReady = new Map<string, KeyNotReady>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly client: Pick<DataverseClient, "get">) {}

  /** Resolves when the referral-id key of `kind` is Active; throws a typed error otherwise. */
  async ensure(kind: RecordKind): Promise<void> {
    const key = REFERRAL_KEYS[kind];
    if (this.active.has(key.logicalName)) return;
    const status = await this.read(key);
    const path = `/EntityDefinitions(LogicalName='${key.table}')/Keys`;
    if (status === "Active") return;
    if (status === "Pending" || status === "InProgress")
      throw new KeyIndexPendingError(
        `the alternate key ${key.logicalName} on ${key.table} is still being built (${status}); Dataverse builds it in the background after the solution import, and the sync runs again later`,
        { service: "dataverse", method: "GET", path },
      );
    throw new KeyIndexFailedError(
      status === "Missing"
        ? `the alternate key ${key.logicalName} is not defined on ${key.table}; import the co-sell solution again`
        : `the alternate key ${key.logicalName} on ${key.table} could not be built (EntityKeyIndexStatus ${status}); an admin must reactivate it (Power Apps: Tables → ${key.table} → Keys, or the ReactivateEntityKey action), usually after removing rows with duplicate referral ids`,
      { service: "dataverse", method: "GET", path },
    );
  }

  /** Reads both keys not yet known Active (errors ignored), then the ones that are not Active. */
  async check(): Promise<readonly KeyNotReady[]> {
    await Promise.all(
      Object.values(REFERRAL_KEYS)
        .filter((k) => !this.active.has(k.logicalName))
        .map((k) => this.read(k).catch(() => undefined)),
    );
    return this.lastNotReady();
  }

  /** The keys last seen not Active. */
  lastNotReady(): readonly KeyNotReady[] {
    return [...this.notReady.values()];
  }

  private read(key: ReferralKey): Promise<string> {
    let pending = this.inflight.get(key.logicalName);
    if (!pending) {
      pending = this.fetchStatus(key).finally(() => this.inflight.delete(key.logicalName));
      this.inflight.set(key.logicalName, pending);
    }
    return pending;
  }

  private async fetchStatus(key: ReferralKey): Promise<string> {
    const json = await this.client.get(`/EntityDefinitions(LogicalName='${key.table}')/Keys?$select=LogicalName,EntityKeyIndexStatus`);
    const parsed = KeysResponse.safeParse(json);
    if (!parsed.success)
      throw new TransientError(`the key metadata of ${key.table} could not be read: ${parsed.error.issues[0]?.message ?? "unexpected shape"}`, {
        service: "dataverse",
        method: "GET",
        path: `/EntityDefinitions(LogicalName='${key.table}')/Keys`,
      });
    const found = parsed.data.value.find((k) => k.LogicalName.toLowerCase() === key.logicalName);
    const status = found ? (found.EntityKeyIndexStatus ?? "Active") : "Missing";
    if (status === "Active") {
      this.active.add(key.logicalName);
      this.notReady.delete(key.logicalName);
    } else this.notReady.set(key.logicalName, { table: key.table, key: key.logicalName, status });
    return status;
  }
}
