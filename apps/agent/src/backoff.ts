/**
 * Retry delays for every loop of the agent that talks to the control plane (registration, heartbeat,
 * the desired-state long-poll, reports). "Full jitter", as the AWS Architecture Blog's "Exponential
 * Backoff And Jitter" describes: the delay before retry n is uniform in
 * [0, min(cap, base × 2^(n-1))). Capped exponential growth keeps a long outage cheap; the jitter
 * spreads a fleet that lost the control plane at the same moment (it restarted) over the whole window,
 * instead of every agent coming back in the same millisecond. Success resets the count, and a loop
 * that works never waits here: attempt 0 is no delay.
 */
export interface BackoffPolicy {
  /** The window of the first retry. */
  baseMs: number;
  /** No retry ever waits longer. */
  capMs: number;
}

/** Registration: the agent cannot do anything else yet, but a fleet starting at once must not storm. */
export const REGISTER_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };
/**
 * Heartbeats and the long-poll (both count as contact): a control plane that comes back declares no
 * host lost for an agent timeout plus a heartbeat interval (10 + 2 s by default), so every live agent
 * must be heard from well inside that — the cap keeps the longest wait at a third of it.
 */
export const HEARTBEAT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 4_000 };
/** The desired-state long-poll: as heartbeats. */
export const LONG_POLL_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 4_000 };
/** Reports: state changes wait in memory meanwhile, so a shorter cap gets them there sooner. */
export const REPORT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 10_000 };
/** Waiting for Docker at start-up (not the control plane, but the same rule serves). */
export const DOCKER_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 2000 };

/**
 * The delay before retry `attempt` (1 = the first retry after a failure; 0 or less = no failure, no
 * delay). `random` gives [0, 1), as Math.random; anything outside is clamped into it. Pure.
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  if (!(attempt >= 1)) return 0;
  // 2^(attempt-1) overflows to Infinity past ~1024, which min() then caps: no special case needed.
  const window = Math.min(policy.capMs, policy.baseMs * 2 ** (Math.floor(attempt) - 1));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(unit * Math.max(0, window));
}

/** One loop's count of consecutive failures, and the jittered delay each adds. */
export class Backoff {
  #failures = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Consecutive failures so far (0 once the last attempt succeeded). */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure; returns how long to wait before trying again. */
  fail(): number {
    this.#failures++;
    return backoffDelayMs(this.#failures, this.policy, this.random);
  }

  /** Records a success: the next failure starts from the smallest window again. */
  reset(): void {
    this.#failures = 0;
  }
}
