/**
 * Referral status and substatus transitions, written from specs/partner-center-api.md §2.8:
 *
 * | Status | Allowed status transition | Allowed substatus            |
 * | New    | New, Active, Closed       | Pending, Received            |
 * | Active | Active, Closed            | Accepted                     |
 * | Closed | Closed                    | Won, Lost, Declined, Expired |
 *
 * Closed is terminal: Won, Lost, Declined and Expired referrals are read-only ("No actions are
 * permitted after any deal reaches a terminal state"). The emulator keeps its own reading of the
 * same table on purpose (docs/decisions.md); the end-to-end tests make the two meet.
 */
import { knownStatus, knownSubstatus, type ReferralStatus, type ReferralSubstatus } from "../partner-center/model";

export interface ReferralState {
  readonly status?: string | null | undefined;
  readonly substatus?: string | null | undefined;
}

export interface TargetState {
  readonly status: ReferralStatus;
  readonly substatus: ReferralSubstatus;
  /** Free text; Partner Center documents it as "why the referral was lost". */
  readonly statusReason?: string;
}

type Lifecycle = "New" | "Active" | "Closed";

export const ALLOWED_NEXT_STATUS: Readonly<Record<Lifecycle, readonly Lifecycle[]>> = {
  New: ["New", "Active", "Closed"],
  Active: ["Active", "Closed"],
  Closed: ["Closed"],
};

export const ALLOWED_SUBSTATUS: Readonly<Record<Lifecycle, readonly ReferralSubstatus[]>> = {
  New: ["Pending", "Received"],
  Active: ["Accepted"],
  Closed: ["Won", "Lost", "Declined", "Expired"],
};

export const TERMINAL_SUBSTATUSES: readonly ReferralSubstatus[] = ["Won", "Lost", "Declined", "Expired"];

function lifecycle(status: unknown): Lifecycle | undefined {
  const s = knownStatus(status);
  return s === "New" || s === "Active" || s === "Closed" ? s : undefined;
}

/**
 * Read-only in Partner Center. Any Closed referral counts, whatever its substatus: a Closed
 * referral with a substatus we do not know (the UI's "Error" close reason, say) is still closed,
 * and writing to it would only earn an error.
 */
export function isTerminal(state: ReferralState): boolean {
  const sub = knownSubstatus(state.substatus);
  return lifecycle(state.status) === "Closed" || (sub !== "unknown" && TERMINAL_SUBSTATUSES.includes(sub));
}

/** A state the table knows: a documented status with one of its documented substatuses. */
export function isKnownState(state: ReferralState): boolean {
  const status = lifecycle(state.status);
  const sub = knownSubstatus(state.substatus);
  return status !== undefined && sub !== "unknown" && ALLOWED_SUBSTATUS[status].includes(sub);
}

/**
 * Whether Partner Center allows moving `from` to `to`. Never from a terminal state; never from or
 * to a state outside the table (an unknown state is not ours to move). Staying put is allowed for
 * a non-terminal state (it changes nothing).
 */
export function canTransition(from: ReferralState, to: ReferralState): boolean {
  if (isTerminal(from) || !isKnownState(from) || !isKnownState(to)) return false;
  const fromStatus = lifecycle(from.status) as Lifecycle;
  const toStatus = lifecycle(to.status) as Lifecycle;
  return ALLOWED_NEXT_STATUS[fromStatus].includes(toStatus);
}

export type TransitionPlan =
  | { readonly kind: "transition"; readonly to: TargetState }
  /** Already there: nothing to send. */
  | { readonly kind: "already"; readonly message: string }
  | { readonly kind: "refused"; readonly reason: "read-only" | "not-allowed"; readonly message: string };

function describe(state: ReferralState): string {
  return `${state.status ?? "no status"}/${state.substatus ?? "no substatus"}`;
}

function plan(from: ReferralState, to: TargetState, what: string): TransitionPlan {
  if (knownStatus(from.status) === to.status && knownSubstatus(from.substatus) === to.substatus) {
    return { kind: "already", message: `The referral is already ${describe(from)}.` };
  }
  if (isTerminal(from)) {
    return {
      kind: "refused",
      reason: "read-only",
      message: `The referral is ${describe(from)} in Partner Center and can no longer be changed, so it cannot be ${what}.`,
    };
  }
  if (!canTransition(from, to)) {
    return {
      kind: "refused",
      reason: "not-allowed",
      message: `Partner Center does not allow a referral that is ${describe(from)} to be ${what}.`,
    };
  }
  return { kind: "transition", to };
}

/** Accepting an incoming referral: Active/Accepted. */
export function nextForAccept(from: ReferralState): TransitionPlan {
  return plan(from, { status: "Active", substatus: "Accepted" }, "accepted");
}

/** Declining: Closed/Declined with the seller's reason (derived from the table, §2.8). */
export function nextForDecline(from: ReferralState, reason: string | null | undefined): TransitionPlan {
  const statusReason = reason?.trim() ? reason.trim() : undefined;
  return plan(from, { status: "Closed", substatus: "Declined", ...(statusReason ? { statusReason } : {}) }, "declined");
}

/** Opportunity won: Closed/Won (the PATCH sample of §2.5). */
export function nextForWon(from: ReferralState): TransitionPlan {
  return plan(from, { status: "Closed", substatus: "Won" }, "closed as won");
}

/** Opportunity lost: Closed/Lost; statusReason says why. */
export function nextForLost(from: ReferralState, reason?: string | null): TransitionPlan {
  const statusReason = reason?.trim() ? reason.trim() : undefined;
  return plan(from, { status: "Closed", substatus: "Lost", ...(statusReason ? { statusReason } : {}) }, "closed as lost");
}
