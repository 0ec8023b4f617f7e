/** Typed failures of the store; each carries the driver error as `cause` when there is one. */

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The store could not be opened or migrated. */
export class StoreOpenError extends StoreError {}

/** A call after `close()`. */
export class StoreClosedError extends StoreError {
  constructor() {
    super("the store is closed");
  }
}

/** A save named a link version that is no longer current (or created a link that already exists). */
export class StaleLinkError extends StoreError {
  constructor(
    readonly key: string,
    readonly expectedVersion: number | null,
    readonly actualVersion: number | null,
  ) {
    super(
      expectedVersion === null
        ? `link ${key} already exists (version ${actualVersion ?? "?"})`
        : actualVersion === null
          ? `link ${key} does not exist (expected version ${expectedVersion})`
          : `link ${key} is at version ${actualVersion}, not ${expectedVersion}`,
    );
  }
}

/** The referral or the record is already bound to another link. */
export class LinkConflictError extends StoreError {
  constructor(
    readonly key: string,
    readonly otherKey: string | null,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`link ${key}: ${detail}${otherKey ? ` (already linked by ${otherKey})` : ""}`, options);
  }
}

export class JobNotFoundError extends StoreError {
  constructor(readonly jobId: number) {
    super(`job ${jobId} not found`);
  }
}

/** The job is not (or no longer) in the state the call needs. */
export class JobStateError extends StoreError {
  constructor(
    readonly jobId: number,
    readonly state: string,
    action: string,
  ) {
    super(`cannot ${action} job ${jobId}: it is ${state}`);
  }
}

/**
 * The worker's lease ran out and the job was re-queued (and maybe claimed by someone else).
 * Whatever the worker did may run again: sync is idempotent, so the right response is to stop.
 */
export class LeaseLostError extends StoreError {
  constructor(
    readonly jobId: number,
    readonly workerId: string,
  ) {
    super(`worker ${workerId} no longer holds job ${jobId}`);
  }
}
