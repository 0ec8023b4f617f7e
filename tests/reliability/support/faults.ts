/**
 * Precise faults for regression tests: "throttle the next request this emulator gets", armed at an
 * exact moment (e.g. from a commit event, synchronously). The random fault mix keeps working for
 * every other request.
 */
import type { FaultInjector, RequestFault } from "@cosell/sandbox/src/faults";

export interface FaultSwitch {
  /** The next `count` API requests answer 429 with Retry-After `seconds`. */
  throttleNext(count?: number, seconds?: number): void;
  /** Forgets requests armed and not answered yet. */
  disarm(): void;
  /** Armed requests not answered yet. */
  readonly pending: number;
  /** How many requests were throttled by this switch. */
  readonly fired: number;
}

export function faultSwitch(faults: FaultInjector): FaultSwitch {
  let pending = 0;
  let fired = 0;
  let retryAfterSeconds = 5;
  const draw = faults.drawRequestFault.bind(faults);
  faults.drawRequestFault = (): RequestFault => {
    if (pending > 0) {
      pending--;
      fired++;
      return { kind: "throttle", retryAfterSeconds };
    }
    return draw();
  };
  return {
    throttleNext(count = 1, seconds = 5) {
      pending += count;
      retryAfterSeconds = seconds;
    },
    disarm() {
      pending = 0;
    },
    get pending() {
      return pending;
    },
    get fired() {
      return fired;
    },
  };
}
