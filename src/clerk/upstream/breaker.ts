/**
 * A circuit breaker for one Clerk route: after `failureThreshold` consecutive failures (5xx, network errors,
 * unreadable answers, timeouts) the route is *open*: no call is made and callers are refused at once. After
 * `cooldownMs` the next call is let through as a *half-open* probe (only one at a time); its success closes the
 * circuit, its failure opens it for another cooldown.
 *
 * Consecutive failures rather than a failure ratio: a Clerk that answers at all resets the count, so occasional
 * errors under load never open it, while a Clerk that hangs or fails every call is noticed after a handful of calls
 * instead of being rediscovered by every request. Outcomes that say nothing about Clerk's health (a 429, a call cut
 * short by its caller's deadline) neither count nor reset.
 *
 * Pure state, no timers: "open" turns into "half-open" when a call asks after the cooldown (so a quiet route shows
 * as open until someone needs it).
 */

export type CircuitState = 'closed' | 'half_open' | 'open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. 0 turns the breaker off (always closed). */
  failureThreshold: number;
  /** How long an open circuit refuses calls before it lets one probe through. */
  cooldownMs: number;
  /** Called on every change of state. */
  onStateChange?: (state: CircuitState, previous: CircuitState) => void;
}

/** Leave to make one call; says whether it is the half-open probe. */
export interface Permit {
  readonly probe: boolean;
}

export interface Breaker {
  readonly state: CircuitState;
  /** Whether a call arriving now would be let through (without taking the probe slot). */
  wouldAllow(now: number): boolean;
  /** Lets a call through now (taking the probe slot when half-open), or refuses it (undefined). */
  tryAcquire(now: number): Permit | undefined;
  /** When an open circuit will let a probe through (epoch ms); `now` when it is not open. */
  reopensAt(now: number): number;
  success(permit: Permit): void;
  failure(permit: Permit, now: number): void;
  /** An outcome that says nothing about Clerk's health (a 429, a call cut short by its deadline). */
  neutral(permit: Permit): void;
}

const CALL: Permit = { probe: false };
const PROBE: Permit = { probe: true };

export function createBreaker(options: BreakerOptions): Breaker {
  let state: CircuitState = 'closed';
  let failures = 0;
  let openedAt = 0;
  let probeInFlight = false;

  const enabled = options.failureThreshold > 0;
  const coolingDown = (now: number) => now - openedAt < options.cooldownMs;

  function moveTo(next: CircuitState) {
    if (next === state) return;
    const previous = state;
    state = next;
    options.onStateChange?.(next, previous);
  }

  function open(now: number) {
    failures = 0;
    openedAt = now;
    probeInFlight = false;
    moveTo('open');
  }

  return {
    get state() {
      return state;
    },
    wouldAllow(now) {
      if (state === 'closed') return true;
      if (state === 'open') return !coolingDown(now);
      return !probeInFlight;
    },
    tryAcquire(now) {
      if (state === 'closed') return CALL;
      if (state === 'open') {
        if (coolingDown(now)) return undefined;
        moveTo('half_open');
      }
      if (probeInFlight) return undefined;
      probeInFlight = true;
      return PROBE;
    },
    reopensAt(now) {
      return state === 'open' ? Math.max(now, openedAt + options.cooldownMs) : now;
    },
    success(permit) {
      if (permit.probe) probeInFlight = false;
      if (state === 'closed') failures = 0;
      // Clerk answered while we were probing: it is back. (A late answer while open changes nothing: the circuit
      // opened after it was sent, and the cooldown decides when to look again.)
      else if (state === 'half_open') moveTo('closed');
    },
    failure(permit, now) {
      if (!enabled) return;
      if (permit.probe) return open(now);
      if (state !== 'closed') return;
      failures++;
      if (failures >= options.failureThreshold) open(now);
    },
    neutral(permit) {
      if (permit.probe) probeInFlight = false;
    },
  };
}
