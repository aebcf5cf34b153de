/** Small helpers of the decision: event de-duplication, deployment copies and order, id order, seeds. */
import type { ServiceDeployment, ServiceEvent, ServiceTask } from './input.ts';

/**
 * Chronological messages → events newest first, dropping a message identical to the most recent event
 * (recorded or just emitted) that is younger than `repeatMs`.
 */
export function dedupeEvents(
  messages: readonly string[],
  mostRecent: ServiceEvent | undefined,
  now: number,
  repeatMs: number,
): ServiceEvent[] {
  const out: ServiceEvent[] = [];
  let last = mostRecent;
  for (const message of messages) {
    if (last !== undefined && last.message === message && now - last.createdAt < repeatMs) continue;
    last = { createdAt: now, message };
    out.push(last);
  }
  return out.reverse();
}

export function cloneDeployment(d: ServiceDeployment): ServiceDeployment {
  return { ...d, launch: { ...d.launch, seenTaskIds: [...d.launch.seenTaskIds] } };
}

/**
 * PRIMARY first (the newest if several claim it; the others become ACTIVE), then newest first. Without
 * any PRIMARY the service has nothing to run and its tasks are stopped.
 */
export function orderDeployments(deployments: ServiceDeployment[]): ServiceDeployment[] {
  const sorted = [...deployments].sort((a, b) => b.createdAt - a.createdAt || compareIds(a.id, b.id));
  const primary = sorted.find((d) => d.status === 'PRIMARY');
  for (const d of sorted) if (d !== primary) d.status = 'ACTIVE';
  return primary === undefined ? sorted : [primary, ...sorted.filter((d) => d !== primary)];
}

/** Input order must not matter: tasks are handled in id order. */
export function sortTasks(tasks: readonly ServiceTask[]): ServiceTask[] {
  return [...tasks].sort((a, b) => compareIds(a.id, b.id));
}

export const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const finiteOr = (value: number | undefined, fallback: number): number =>
  value !== undefined && Number.isFinite(value) ? value : fallback;

/** Independent streams from one seed for the separate placement and scale-in calls. */
export function subSeed(seed: number, salt: number): number {
  let x = (seed >>> 0) ^ Math.imul(salt + 1, 0x9e3779b9);
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
