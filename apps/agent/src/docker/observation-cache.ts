import type { ObservedContainer } from './types.ts';

/**
 * What `docker ps` says of a container: enough to tell whether an earlier inspect may still hold.
 * `Status` is Docker's human text ("Up 3 seconds (healthy)", "Exited (0) 2 seconds ago").
 */
export interface ContainerSummary {
  Id: string;
  State: string;
  Status: string;
}

/**
 * Inspect results kept between container scans, so a scan inspects only what changed — the kubelet's
 * PLEG idea: list often, inspect on change. Without it every Docker event made the agent inspect every
 * container of the host (1,246 inspects to start 20 tasks, competing with the creates and starts).
 *
 * An entry is trusted only while all of these hold, else the container is inspected again:
 *  - the Docker event stream is connected (`setLive`): a change always comes with an event
 *    (start, die, health_status, destroy…), and any event for the container — or for the network
 *    container whose namespace it shares — drops the entry;
 *  - the list still shows the same state and health (a missed event about a state change is caught
 *    at the next list);
 *  - it is younger than `maxAgeMs` (a bound on anything else an event could have been missed for).
 * An inspect that was in flight when its container changed is not stored (a generation per id).
 */
export class ObservationCache {
  readonly #entries = new Map<string, { observed: ObservedContainer; holderId?: string; at: number }>();
  readonly #generation = new Map<string, number>();
  #live = false;

  constructor(
    private readonly maxAgeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The event stream connected (true) or broke (false); either way nothing cached before is trusted. */
  setLive(live: boolean): void {
    this.#live = live;
    this.#entries.clear();
    this.#generation.clear();
  }

  /** The container changed (an event, or bosun acted on it). */
  invalidate(id: string): void {
    this.#generation.set(id, (this.#generation.get(id) ?? 0) + 1);
    this.#entries.delete(id);
    for (const [key, entry] of this.#entries) {
      if (entry.holderId === id) this.#entries.delete(key);
    }
  }

  /** The generation to hand back to `store` once the inspect started now has returned. */
  generation(id: string): number {
    return this.#generation.get(id) ?? 0;
  }

  store(observed: ObservedContainer, generation: number, holderId?: string): void {
    if (!this.#live || this.generation(observed.id) !== generation) return;
    this.#entries.set(observed.id, { observed, holderId, at: this.clock() });
  }

  /** The cached observation when it still holds for this list entry. */
  lookup(summary: ContainerSummary): ObservedContainer | undefined {
    if (!this.#live) return undefined;
    const entry = this.#entries.get(summary.Id);
    if (!entry) return undefined;
    const { observed } = entry;
    const fresh =
      this.clock() - entry.at <= this.maxAgeMs &&
      observed.state === summary.State &&
      observed.health === healthInStatus(summary.Status);
    if (!fresh) {
      this.#entries.delete(summary.Id);
      return undefined;
    }
    return observed;
  }

  /** Forgets containers no longer listed (after a full scan). */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of this.#entries.keys()) if (!ids.has(id)) this.#entries.delete(id);
    for (const id of this.#generation.keys()) if (!ids.has(id)) this.#generation.delete(id);
  }
}

/** The health Docker prints in a list's Status text; undefined when the container has no health check. */
export function healthInStatus(status: string): ObservedContainer['health'] {
  if (status.includes('(healthy)')) return 'healthy';
  if (status.includes('(unhealthy)')) return 'unhealthy';
  if (status.includes('(health: starting)')) return 'starting';
  return undefined;
}
