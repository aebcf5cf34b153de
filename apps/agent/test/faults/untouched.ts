import { setTimeout as sleep } from 'node:timers/promises';
import { queryOnce, type Stack, type StackAgent, waitUntil } from '@bosun/testkit';
import {
  countDuplicates,
  countLost,
  type RunningContainer,
  recordFigures,
  runningContainers,
  seconds,
} from './figures.ts';

/**
 * "Nothing running is touched by an outage", measured: a service of 3 is recorded from Postgres (its
 * task rows) and Docker (the running containers of those tasks) before a fault and again once the
 * fault is healed and enough time has passed for a wrong replacement to have happened; the two
 * records are compared. Nothing is assumed: a task replaced shows as a new row, a task stopped as a
 * row no longer wanted RUNNING, a restarted container as a new id.
 */

/** The settings that make a wrong replacement show quickly: a short sweep, the default timeout and beat. */
export const FAULT_TIMING = { agentTimeoutSeconds: 10, heartbeatSeconds: 2, sweepSeconds: 1 };

export const FAULT_SERVER_ENV = {
  BOSUN_AGENT_TIMEOUT_SECONDS: String(FAULT_TIMING.agentTimeoutSeconds),
  BOSUN_HEARTBEAT_INTERVAL_SECONDS: String(FAULT_TIMING.heartbeatSeconds),
  BOSUN_SERVICE_SWEEP_SECONDS: String(FAULT_TIMING.sweepSeconds),
};

/**
 * How long after healing a wrong replacement would surely have happened: a full agent timeout plus a
 * heartbeat interval (a control plane back from an outage sees every host that silent at most that
 * long) plus two sweeps, and a margin for the agents' retry back-off.
 */
export const SETTLE_MS =
  (FAULT_TIMING.agentTimeoutSeconds + FAULT_TIMING.heartbeatSeconds + 2 * FAULT_TIMING.sweepSeconds + 2) *
  1000;

export interface ServiceRecord {
  /** Postgres: every task row of the service. */
  tasks: { id: string; desiredStatus: string; lastStatus: string }[];
  /** Docker: the running containers of those tasks. */
  containers: RunningContainer[];
}

export interface Untouched {
  /** Task rows of the service that were not there before. */
  replaced: number;
  /** Tasks of the service, there before, that Postgres no longer wants RUNNING. */
  stopped: number;
  /** The same running container ids (and at least one). */
  sameContainers: boolean;
  lost: number;
  duplicates: number;
}

/** Compares a service's records before and after a fault. Pure. */
export function compareRecords(before: ServiceRecord, after: ServiceRecord): Untouched {
  const known = new Set(before.tasks.map((t) => t.id));
  const now = new Map(after.tasks.map((t) => [t.id, t]));
  const ids = (r: ServiceRecord) => r.containers.map((c) => c.id).sort();
  const [was, is] = [ids(before), ids(after)];
  const wanted = after.tasks.filter((t) => t.desiredStatus === 'RUNNING').map((t) => t.id);
  return {
    replaced: after.tasks.filter((t) => !known.has(t.id)).length,
    stopped: before.tasks.filter((t) => now.get(t.id)?.desiredStatus !== 'RUNNING').length,
    sameContainers: was.length > 0 && was.length === is.length && was.every((id, i) => id === is[i]),
    lost: countLost(wanted, new Set(after.containers.map((c) => c.taskId))),
    duplicates: countDuplicates(wanted, after.containers),
  };
}

/** The service's record now, from Postgres and from the given Docker daemons. */
export async function recordService(
  stack: Stack,
  service: string,
  dockerHosts: readonly (string | undefined)[] = [undefined],
): Promise<ServiceRecord> {
  const tasks = await queryOnce<{ id: string; desiredStatus: string; lastStatus: string }>(
    stack.databaseUrl,
    `select id, desired_status as "desiredStatus", last_status as "lastStatus" from tasks where "group" = $1`,
    [`service:${service}`],
  );
  const ids = new Set(tasks.map((t) => t.id));
  const containers = (await runningContainers(dockerHosts)).filter((c) => ids.has(c.taskId));
  return { tasks, containers };
}

async function allConnected(stack: Stack, agents: readonly StackAgent[]): Promise<boolean> {
  const out = (await stack
    .aws('describe-container-instances', '--container-instances', ...agents.map((a) => a.instanceId()))
    .catch(() => ({ containerInstances: [] }))) as { containerInstances: { agentConnected: boolean }[] };
  return (
    out.containerInstances.length === agents.length && out.containerInstances.every((c) => c.agentConnected)
  );
}

export interface Fault {
  /** The figures' scenario name, e.g. `11. control plane down 60 s`. */
  scenario: string;
  /** A service name of its own. */
  service: string;
  /** A one-container task definition family registered already. */
  family: string;
  /** Applies the fault. */
  apply(): Promise<void>;
  /** How long the fault lasts before heal(). */
  holdMs: number;
  /** Runs once halfway through the hold (a check of how bosun behaves while the fault holds). */
  during?(): Promise<void>;
  /** Ends the fault; it is also called if the scenario fails while the fault holds. */
  heal(): Promise<void>;
  /** How long to watch after heal() at least (SETTLE_MS by default); then two sweeps more. */
  settleMs?: number;
  /** The fault's size when it is not how long it held (a clock step: its seconds), */
  outageSeconds?: number;
  /** and what to call it in the figures (`outage` by default). */
  outageLabel?: string;
}

/**
 * One scenario: a service of 3 (no health check) on the stack's agents, recorded; the fault applied,
 * held and healed; then watched until every agent is in contact again and settleMs have passed, and
 * two sweeps more; recorded again. Its figures are printed and appended to the suite's table; the service is
 * deleted whatever happens. Resolves with the comparison, for the test to assert on.
 */
export async function runFault(
  stack: Stack,
  agents: readonly StackAgent[],
  fault: Fault,
  dockerHosts: readonly (string | undefined)[] = [undefined],
): Promise<Untouched & { partitionEvents: number }> {
  const record = () => recordService(stack, fault.service, dockerHosts);
  await stack.aws(
    'create-service',
    '--service-name',
    fault.service,
    '--task-definition',
    fault.family,
    '--desired-count',
    '3',
  );
  let healed = true;
  try {
    await waitUntil(`service ${fault.service} to run 3 containers`, async () => {
      const r = await record();
      return (
        r.tasks.length === 3 &&
        r.tasks.every((t) => t.desiredStatus === 'RUNNING' && t.lastStatus === 'RUNNING') &&
        r.containers.length === 3
      );
    });
    const before = await record();
    healed = false;
    await fault.apply();
    const applied = Date.now();
    if (fault.during === undefined) await sleep(fault.holdMs);
    else {
      await sleep(fault.holdMs / 2);
      await fault.during();
      await sleep(Math.max(0, fault.holdMs - (Date.now() - applied)));
    }
    await fault.heal();
    healed = true;
    const outage = Date.now() - applied;
    const back = Date.now();
    const reconnected = await waitUntil(
      'every agent in contact again',
      () => allConnected(stack, agents),
      60_000,
    );
    await sleep(Math.max(0, (fault.settleMs ?? SETTLE_MS) - (Date.now() - back)));
    await sleep(2 * FAULT_TIMING.sweepSeconds * 1000);
    const after = await record();
    const watched = Date.now() - back;
    const figures = compareRecords(before, after);
    const outageSeconds = fault.outageSeconds ?? Math.round(outage / 1000);
    const size = `${fault.outageLabel ?? 'outage'} ${outageSeconds} s${fault.outageSeconds === undefined ? '' : ` held ${Math.round(outage / 1000)} s`}`;
    recordFigures({
      scenario: fault.scenario,
      recoverySeconds: seconds(reconnected),
      duplicates: figures.duplicates,
      lost: figures.lost,
      outageSeconds,
      replaced: figures.replaced,
      sameContainers: figures.sameContainers,
      note: `${size}; replaced ${figures.replaced}, stopped ${figures.stopped}, same containers ${figures.sameContainers ? 'yes' : 'no'}; recovery = every agent in contact again; watched ${seconds(watched)} s after healing`,
    });
    console.log(
      `[fault] | ${fault.scenario} | ${size} | replaced ${figures.replaced} | stopped ${figures.stopped} | lost ${figures.lost} | duplicates ${figures.duplicates} | same containers ${figures.sameContainers ? 'yes' : 'no'} |`,
    );
    // Whether bosun saw the hosts fall silent together and held back (a service event says so).
    const [events] = await queryOnce<{ n: number }>(
      stack.databaseUrl,
      `select count(*)::int as n from service_events e join services s on s.id = e.service_id
       where s.name = $1 and e.message like '%suspects a network partition%'`,
      [fault.service],
    );
    return { ...figures, partitionEvents: events?.n ?? 0 };
  } finally {
    if (!healed) await fault.heal().catch(() => undefined);
    await stack.aws('delete-service', '--service', fault.service, '--force').catch(() => undefined);
  }
}
