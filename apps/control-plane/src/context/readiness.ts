import type { PulseState } from '../workers/pulse.ts';
import type { DependencyHealthSnapshot, DependencyState } from './dependency-health.ts';

export type ReadinessComponent = 'database' | 'redis' | 'workers';

export interface ComponentCheck {
  ok: boolean;
  /** Why not, in words; also set when ok with something worth saying (workers not run here). */
  detail?: string;
}

export interface Readiness {
  ready: boolean;
  /** The components that are not ready, in a fixed order. */
  notReady: ReadinessComponent[];
  checks: Record<ReadinessComponent, ComponentCheck>;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function dependency(state: DependencyState, now: number): ComponentCheck {
  if (state.up) return { ok: true };
  return {
    ok: false,
    detail: `unreachable for ${seconds(now - state.since)}: ${state.error ?? 'no answer'}`,
  };
}

function workers(pulse: PulseState | undefined): ComponentCheck {
  if (pulse === undefined) return { ok: true, detail: 'no workers in this process' };
  if (pulse.sinceBeatMs <= pulse.staleMs) return { ok: true };
  const stuck =
    pulse.longestJobMs > pulse.staleMs ? `; a job has run for ${seconds(pulse.longestJobMs)}` : '';
  return {
    ok: false,
    detail: `no worker heartbeat for ${seconds(pulse.sinceBeatMs)} (limit ${seconds(pulse.staleMs)})${stuck}`,
  };
}

/**
 * Whether this process can serve: Postgres and Redis answer its pings (DependencyHealth) and its
 * workers are working (WorkerPulse; a process started without workers has none to wait for). `now`
 * is the same monotonic clock the snapshot's times are on.
 */
export function readiness(
  health: DependencyHealthSnapshot,
  pulse: PulseState | undefined,
  now: number,
): Readiness {
  const checks: Record<ReadinessComponent, ComponentCheck> = {
    database: dependency(health.database, now),
    redis: dependency(health.redis, now),
    workers: workers(pulse),
  };
  const notReady = (Object.keys(checks) as ReadinessComponent[]).filter((k) => !checks[k].ok);
  return { ready: notReady.length === 0, notReady, checks };
}
