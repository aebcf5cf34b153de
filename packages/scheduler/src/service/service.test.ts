import type { ContainerInstanceStatus } from '@bosun/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CandidateInstance, PlacementStrategy } from '../placement/request.ts';
import type { TaskRequirements } from '../placement/requirements.ts';
import { parseClusterQuery } from '../query/parse.ts';
import type { ServiceDecision } from './decision.ts';
import type {
  ReconcileServiceInput,
  ServiceDeployment,
  ServiceEvent,
  ServiceSpec,
  ServiceTask,
} from './input.ts';
import { reconcileService } from './reconcile.ts';
import {
  createDeployment,
  healthyFloor,
  maxNewTasks,
  startDeployment,
  taskCeiling,
  throttleDelayMs,
} from './rules.ts';

// ---------------------------------------------------------------------------------------------------
// A simulated cluster that applies decisions: placed tasks are PENDING, then RUNNING (and HEALTHY unless
// their deployment is broken) on the next step; stops take effect on the next step.

type Behaviour = 'ok' | 'fail-start' | 'unhealthy';

interface SimInstance {
  id: string;
  zone: string;
  cpu: number;
  memory: number;
  status: ContainerInstanceStatus;
  connected: boolean;
  attributes?: Record<string, string>;
  /** Tasks of other services, for DAEMON drain ordering. */
  otherTasks?: number;
}

const STEP_MS = 10_000;

class Sim {
  now = 1_700_000_000_000;
  seed = 7;
  service: ServiceSpec;
  deployments: ServiceDeployment[] = [];
  tasks: ServiceTask[] = [];
  instances: SimInstance[];
  events: ServiceEvent[] = [];
  behaviour = new Map<string, Behaviour>();
  requirements: TaskRequirements;
  hasHealthCheck = true;
  lostInstanceIds: string[] | undefined;
  last: ServiceDecision | undefined;
  lastInput: ReconcileServiceInput | undefined;
  private taskCounter = 0;
  private deploymentCounter = 0;

  constructor(o: {
    service?: Partial<ServiceSpec>;
    instances?: SimInstance[];
    requirements?: Partial<TaskRequirements>;
  }) {
    this.service = {
      name: 'web',
      arn: 'arn:aws:ecs:local:000000000000:service/default/web',
      desiredCount: 4,
      schedulingStrategy: 'REPLICA',
      placementConstraints: [],
      placementStrategy: [],
      ...o.service,
    };
    this.instances = o.instances ?? zonedInstances(3);
    this.requirements = { cpu: 256, memory: 512, ports: [], group: 'service:web', ...o.requirements };
  }

  deploy(behaviour: Behaviour = 'ok', requirements?: Partial<TaskRequirements>): string {
    this.deploymentCounter += 1;
    const id = `ecs-svc/${1000 + this.deploymentCounter}`;
    const deployment = createDeployment({
      id,
      taskDefinition: {
        arn: `arn:aws:ecs:local:000000000000:task-definition/web:${this.deploymentCounter}`,
        requirements: { ...this.requirements, ...requirements },
        hasHealthCheck: this.hasHealthCheck,
      },
      desiredCount: this.service.desiredCount,
      now: this.now,
    });
    this.deployments = startDeployment(this.deployments, deployment);
    this.behaviour.set(id, behaviour);
    return id;
  }

  candidates(): CandidateInstance[] {
    return this.instances.map((i) => {
      const here = this.tasks.filter((t) => t.instanceId === i.id && t.lastStatus !== 'STOPPED');
      const reqs = here.map((t) => this.requirementsOf(t.deploymentId));
      const usedPorts = new Set(['tcp:22']);
      for (const r of reqs) for (const p of r.ports) usedPorts.add(`${p.protocol}:${p.hostPort}`);
      return {
        instanceId: i.id,
        arn: `arn:aws:ecs:local:000000000000:container-instance/default/${i.id}`,
        status: i.status,
        agentConnected: i.connected,
        agentVersion: '1.0.0',
        registeredAt: 0,
        runningTasksCount: here.filter((t) => t.lastStatus === 'RUNNING').length + (i.otherTasks ?? 0),
        attributes: { 'bosun.zone': i.zone, ...i.attributes },
        taskGroups: new Set(here.length > 0 ? ['service:web'] : []),
        remainingCpu: i.cpu - reqs.reduce((sum, r) => sum + r.cpu, 0),
        remainingMemory: i.memory - reqs.reduce((sum, r) => sum + r.memory, 0),
        usedPorts,
      };
    });
  }

  requirementsOf(deploymentId: string): TaskRequirements {
    return (
      this.deployments.find((d) => d.id === deploymentId)?.taskDefinition.requirements ?? this.requirements
    );
  }

  input(): ReconcileServiceInput {
    const base = { service: this.service, instances: this.candidates() };
    const ids = Array.from({ length: maxNewTasks(base) }, () => {
      this.taskCounter += 1;
      return this.taskCounter.toString(16).padStart(32, '0');
    });
    return {
      ...base,
      deployments: this.deployments,
      tasks: this.tasks,
      ...(this.lostInstanceIds === undefined ? {} : { lostInstanceIds: this.lostInstanceIds }),
      events: this.events,
      newTaskIds: ids,
      now: this.now,
      seed: this.seed,
    };
  }

  /** One evaluation, applied as the control plane would. */
  reconcile(): ServiceDecision {
    const input = this.input();
    const decision = reconcileService(input);
    this.lastInput = input;
    this.last = decision;
    const stops = new Map(decision.stop.map((s) => [s.taskId, s]));
    this.tasks = this.tasks.map((t) => {
      const stop = stops.get(t.id);
      return stop === undefined ? t : { ...t, desiredStatus: 'STOPPED', stopCode: stop.stopCode };
    });
    for (const p of decision.place) {
      this.tasks.push({
        id: p.taskId,
        deploymentId: p.deploymentId,
        instanceId: p.instanceId,
        lastStatus: 'PENDING',
        desiredStatus: 'RUNNING',
        healthStatus: 'UNKNOWN',
        createdAt: this.now,
        startedAt: null,
        stoppedAt: null,
        stopCode: null,
      });
    }
    this.deployments = decision.deployments;
    this.service = { ...this.service, desiredCount: decision.desiredCount };
    this.events = [...decision.events, ...this.events].slice(0, 100);
    return decision;
  }

  /** Time passes: the agents carry out what was decided. */
  advance(ms = STEP_MS): void {
    this.now += ms;
    const connected = new Set(this.instances.filter((i) => i.connected).map((i) => i.id));
    this.tasks = this.tasks.map((t): ServiceTask => {
      if (t.lastStatus === 'STOPPED' || !connected.has(t.instanceId)) return t;
      if (t.desiredStatus === 'STOPPED') return { ...t, lastStatus: 'STOPPED', stoppedAt: this.now };
      if (t.lastStatus === 'PENDING') {
        const behaviour = this.behaviour.get(t.deploymentId) ?? 'ok';
        if (behaviour === 'fail-start') {
          return {
            ...t,
            lastStatus: 'STOPPED',
            desiredStatus: 'STOPPED',
            stoppedAt: this.now,
            stopCode: 'TaskFailedToStart',
          };
        }
        return {
          ...t,
          lastStatus: 'RUNNING',
          startedAt: this.now,
          healthStatus: !this.hasHealthCheck
            ? 'UNKNOWN'
            : behaviour === 'unhealthy'
              ? 'UNHEALTHY'
              : 'HEALTHY',
        };
      }
      return t;
    });
  }

  /** reconcile + advance. */
  step(): ServiceDecision {
    const decision = this.reconcile();
    this.advance();
    return decision;
  }

  live(deploymentId?: string): ServiceTask[] {
    return this.tasks.filter(
      (t) =>
        t.lastStatus !== 'STOPPED' &&
        t.desiredStatus === 'RUNNING' &&
        (deploymentId === undefined || t.deploymentId === deploymentId),
    );
  }

  kill(taskId: string, stopCode: ServiceTask['stopCode'] = 'EssentialContainerExited'): void {
    this.tasks = this.tasks.map((t) =>
      t.id === taskId
        ? { ...t, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedAt: this.now, stopCode }
        : t,
    );
  }

  setHealth(taskId: string, healthStatus: ServiceTask['healthStatus']): void {
    this.tasks = this.tasks.map((t) => (t.id === taskId ? { ...t, healthStatus } : t));
  }

  instance(id: string): SimInstance {
    const found = this.instances.find((i) => i.id === id);
    if (found === undefined) throw new Error(`no instance ${id}`);
    return found;
  }

  messages(): string[] {
    return this.last?.events.map((e) => e.message) ?? [];
  }
}

function zonedInstances(n: number, o: Partial<SimInstance> = {}): SimInstance[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `ci-${i + 1}`,
    zone: `zone-${String.fromCharCode(97 + (i % 3))}`,
    cpu: 4096,
    memory: 8192,
    status: 'ACTIVE' as const,
    connected: true,
    ...o,
  }));
}

/** Steps until the service reports steady, at most `limit` evaluations. */
function settle(sim: Sim, limit = 30): number {
  for (let i = 1; i <= limit; i += 1) {
    if (sim.step().steady) return i;
  }
  throw new Error(
    `not steady after ${limit} steps: ${JSON.stringify(sim.last?.deployments.map((d) => [d.id, d.status, d.rolloutState, d.runningCount]))}`,
  );
}

const countBy = <T>(items: readonly T[], key: (item: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
};

// ---------------------------------------------------------------------------------------------------
// Tables

describe('reconcileService: REPLICA', () => {
  it('places desiredCount tasks on a new service, spread over zones, and says so', () => {
    const sim = new Sim({ instances: zonedInstances(3) });
    const id = sim.deploy();
    const decision = sim.reconcile();
    expect(decision.place).toHaveLength(4);
    expect(decision.stop).toHaveLength(0);
    expect(new Set(decision.place.map((p) => p.deploymentId))).toEqual(new Set([id]));
    expect(Object.values(countBy(decision.place, (p) => p.instanceId)).sort()).toEqual([1, 1, 2]);
    expect(decision.place[0]).toMatchObject({ startedBy: id, group: 'service:web' });
    expect(decision.events.map((e) => e.message)).toEqual([
      `(service web) has started 4 tasks: ${decision.place.map((p) => `(task ${p.taskId})`).join(' ')}.`,
    ]);
    expect(decision.deployments[0]).toMatchObject({
      id,
      status: 'PRIMARY',
      desiredCount: 4,
      pendingCount: 4,
      runningCount: 0,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: `ECS deployment ${id} in progress.`,
    });
    expect(decision.pendingCount).toBe(4);
  });

  it('completes the deployment and reports a steady state once, again after six hours', () => {
    const sim = new Sim({});
    const id = sim.deploy();
    sim.step();
    const done = sim.step();
    expect(done.steady).toBe(true);
    expect(done.events.map((e) => e.message)).toEqual([
      '(service web) has reached a steady state.',
      `(service web) (deployment ${id}) deployment completed.`,
    ]);
    expect(done.deployments).toHaveLength(1);
    expect(done.deployments[0]).toMatchObject({
      rolloutState: 'COMPLETED',
      rolloutStateReason: `ECS deployment ${id} completed.`,
      runningCount: 4,
      pendingCount: 0,
    });
    expect(done.runningCount).toBe(4);
    for (let i = 0; i < 5; i += 1) {
      const again = sim.step();
      expect(again.steady).toBe(true);
      expect(again.events).toEqual([]);
      expect(again.place).toEqual([]);
      expect(again.stop).toEqual([]);
    }
    // It asks to be woken when the line may be repeated.
    const quiet = sim.reconcile();
    const steadyAt = sim.events.find((e) => e.message.endsWith('steady state.'))?.createdAt ?? 0;
    expect(quiet.nextEvaluationAt).toBe(steadyAt + 6 * 3600_000);
    sim.now = steadyAt + 6 * 3600_000;
    expect(sim.reconcile().events.map((e) => e.message)).toEqual([
      '(service web) has reached a steady state.',
    ]);
  });

  it('replaces a task that stopped', () => {
    const sim = new Sim({});
    sim.deploy();
    settle(sim);
    const victim = sim.live()[0]?.id ?? '';
    sim.kill(victim);
    const decision = sim.step();
    expect(decision.place).toHaveLength(1);
    expect(decision.stop).toEqual([]);
    expect(decision.steady).toBe(false);
    expect(decision.deployments[0]?.rolloutState).toBe('COMPLETED');
    expect(settle(sim)).toBe(1);
    expect(sim.live()).toHaveLength(4);
  });

  it('replaces an UNHEALTHY task after the grace period (replacement first), and keeps it within grace', () => {
    const sim = new Sim({ service: { healthCheckGracePeriodSeconds: 60 } });
    sim.deploy();
    settle(sim);
    const victim = sim.live()[0]?.id ?? '';
    sim.setHealth(victim, 'UNHEALTHY');
    // Within 60 s of startedAt: kept, but the decision asks to look again when grace ends.
    const startedAt = sim.tasks.find((t) => t.id === victim)?.startedAt ?? 0;
    const within = sim.reconcile();
    expect(within.place).toEqual([]);
    expect(within.stop).toEqual([]);
    expect(within.nextEvaluationAt).toBe(startedAt + 60_000);

    sim.now = startedAt + 60_000;
    const replace = sim.step();
    expect(replace.place).toHaveLength(1); // maximumPercent 200 allows the replacement first
    expect(replace.stop).toEqual([]);
    const next = sim.step(); // the replacement is healthy: the unhealthy one goes
    expect(next.stop).toEqual([
      {
        taskId: victim,
        reason: 'Task failed container health checks',
        stopCode: 'ServiceSchedulerInitiated',
        cause: 'unhealthy',
      },
    ]);
    expect(next.events.map((e) => e.message)).toEqual([
      `(service web) has stopped 1 running tasks: (task ${victim}).`,
      `(service web) (task ${victim}) failed container health checks.`,
    ]);
    settle(sim);
    expect(sim.live()).toHaveLength(4);
  });

  it('stops an UNHEALTHY task first when maximumPercent leaves no room, and replaces it in the same decision', () => {
    const sim = new Sim({
      service: { deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 100 } },
    });
    sim.deploy();
    settle(sim);
    const victim = sim.live()[0]?.id ?? '';
    sim.setHealth(victim, 'UNHEALTHY');
    const decision = sim.step();
    expect(decision.stop.map((s) => s.taskId)).toEqual([victim]);
    expect(decision.place).toHaveLength(1);
  });

  it('rolls out 4 tasks with min 50 / max 200 step by step until COMPLETED and the old deployment leaves', () => {
    const sim = new Sim({
      service: { deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200 } },
    });
    const v1 = sim.deploy();
    settle(sim);
    const v2 = sim.deploy();
    const trace: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const input = sim.input();
      const healthyBefore = input.tasks.filter(
        (t) => t.desiredStatus === 'RUNNING' && t.lastStatus === 'RUNNING' && t.healthStatus === 'HEALTHY',
      ).length;
      const d = sim.step();
      trace.push(
        `v1 ${sim.live(v1).length} v2 ${sim.live(v2).length} +${d.place.length} -${d.stop.length} ${d.deployments.map((x) => `${x.id}:${x.status}:${x.rolloutState}`).join(',')}`,
      );
      expect(sim.live().length).toBeLessThanOrEqual(8);
      expect(healthyBefore - d.stop.length).toBeGreaterThanOrEqual(Math.min(2, healthyBefore));
      if (d.steady) break;
    }
    expect(trace).toEqual([
      // Two old tasks may go at once (floor 2), four new ones start (ceiling 8).
      `v1 2 v2 4 +4 -2 ${v2}:PRIMARY:IN_PROGRESS,${v1}:ACTIVE:COMPLETED`,
      // New tasks healthy: the last two old ones go.
      `v1 0 v2 4 +0 -2 ${v2}:PRIMARY:IN_PROGRESS,${v1}:ACTIVE:COMPLETED`,
      // Old tasks STOPPED: the old deployment leaves, the new one is COMPLETED: exactly one deployment.
      `v1 0 v2 4 +0 -0 ${v2}:PRIMARY:COMPLETED`,
    ]);
    expect(sim.last?.removedDeploymentIds).toEqual([v1]);
    expect(sim.messages()).toEqual([
      '(service web) has reached a steady state.',
      `(service web) (deployment ${v2}) deployment completed.`,
    ]);
    const stopped = sim.tasks.filter((t) => t.deploymentId === v1);
    expect(
      stopped.every((t) => t.lastStatus === 'STOPPED' && t.stopCode === 'ServiceSchedulerInitiated'),
    ).toBe(true);
  });

  it('rolls out with the defaults (100 / 200): new tasks healthy before old ones stop', () => {
    const sim = new Sim({});
    const v1 = sim.deploy();
    settle(sim);
    const v2 = sim.deploy();
    const first = sim.step();
    expect(first.place).toHaveLength(4);
    expect(first.stop).toHaveLength(0);
    const second = sim.step();
    expect(second.stop).toHaveLength(4);
    expect(second.stop.every((s) => s.reason === `Scaling activity initiated by (deployment ${v2})`)).toBe(
      true,
    );
    settle(sim);
    expect(sim.deployments.map((d) => d.id)).toEqual([v2]);
    expect(sim.live(v1)).toHaveLength(0);
  });

  it('reports the 100 / 100 deadlock and makes no move', () => {
    const sim = new Sim({
      service: { deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 100 } },
    });
    sim.deploy();
    settle(sim);
    sim.deploy();
    const decision = sim.step();
    expect(decision.place).toEqual([]);
    expect(decision.stop).toEqual([]);
    expect(decision.events.map((e) => e.message)).toEqual([
      '(service web) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again.',
    ]);
    expect(sim.step().events).toEqual([]); // not repeated while it is the most recent event
  });

  it('trips the circuit breaker when new tasks never get healthy, and rolls back to the last COMPLETED deployment', () => {
    const sim = new Sim({
      service: { deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } } },
    });
    const v1 = sim.deploy();
    settle(sim);
    const v2 = sim.deploy('unhealthy');
    const seen: string[] = [];
    let rolledBack: ServiceDecision | undefined;
    for (let i = 0; i < 20 && rolledBack === undefined; i += 1) {
      const d = sim.step();
      seen.push(...d.events.map((e) => e.message));
      if (d.deployments[0]?.id === v1) rolledBack = d;
      // Old tasks never drop below the floor (100 %) while the new ones are unhealthy.
      expect(sim.live(v1).filter((t) => t.healthStatus === 'HEALTHY').length).toBe(4);
    }
    expect(rolledBack).toBeDefined();
    const failed = rolledBack?.deployments.find((d) => d.id === v2);
    expect(failed).toMatchObject({
      status: 'ACTIVE',
      rolloutState: 'FAILED',
      rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
    });
    expect(failed?.failedTasks).toBeGreaterThanOrEqual(3);
    expect(rolledBack?.deployments[0]).toMatchObject({
      id: v1,
      status: 'PRIMARY',
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: `ECS deployment circuit breaker: rolling back to deploymentId ${v1}.`,
    });
    expect(seen).toContain(`(service web) (deployment ${v2}) deployment failed: tasks failed to start.`);
    expect(seen).toContain(`(service web) rolling back to deployment ${v1}.`);
    settle(sim);
    expect(sim.deployments.map((d) => [d.id, d.rolloutState])).toEqual([[v1, 'COMPLETED']]);
    expect(sim.live(v2)).toHaveLength(0);
    expect(sim.live(v1)).toHaveLength(4);
  });

  it('throttles a crash loop with growing back-off and the ECS event; a new deployment resets it', () => {
    const sim = new Sim({ service: { desiredCount: 1 } });
    sim.deploy('fail-start');
    const events: string[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const d = sim.reconcile();
      events.push(...d.events.map((e) => e.message));
      const until = d.deployments[0]?.launch.throttledUntil ?? null;
      if (d.place.length === 0 && until !== null) {
        expect(d.nextEvaluationAt).toBe(until);
        delays.push(until - sim.now);
        sim.advance(until - sim.now);
      } else sim.advance();
    }
    expect(events).toContain('(service web) is unable to consistently start tasks successfully.');
    expect(delays.length).toBeGreaterThan(0);
    expect(throttleDelayMs(3)).toBe(10_000);
    expect(throttleDelayMs(4)).toBe(20_000);
    expect(throttleDelayMs(5)).toBe(40_000);
    expect(throttleDelayMs(100)).toBe(15 * 60_000);
    const failures = sim.deployments[0]?.launch.consecutiveStartFailures ?? 0;
    expect(failures).toBeGreaterThanOrEqual(3);
    // The stopped tasks are counted once, however often the service is evaluated.
    const again = reconcileService(sim.input());
    expect(again.deployments[0]?.launch.consecutiveStartFailures).toBe(failures);

    sim.deploy('ok');
    const fresh = sim.reconcile();
    expect(fresh.place).toHaveLength(1);
    expect(fresh.deployments[0]?.launch.throttledUntil).toBeNull();
  });

  it('scales 4 → 10 → 4, spread over zones and instances', () => {
    const sim = new Sim({ instances: zonedInstances(6) });
    sim.deploy();
    settle(sim);
    sim.service = { ...sim.service, desiredCount: 10 };
    expect(sim.step().place).toHaveLength(6);
    settle(sim);
    const zoneOf = (t: ServiceTask): string => sim.instance(t.instanceId).zone;
    expect(Object.values(countBy(sim.live(), zoneOf)).sort()).toEqual([3, 3, 4]);
    expect(Math.max(...Object.values(countBy(sim.live(), (t) => t.instanceId)))).toBe(2);
    sim.service = { ...sim.service, desiredCount: 4 };
    const down = sim.step();
    expect(down.stop).toHaveLength(6);
    expect(down.stop.every((s) => s.cause === 'scale-in')).toBe(true);
    expect(down.events.map((e) => e.message)[0]).toMatch(/^\(service web\) has stopped 6 running tasks: /);
    settle(sim);
    expect(sim.live()).toHaveLength(4);
    expect(Object.values(countBy(sim.live(), zoneOf)).sort()).toEqual([1, 1, 2]);
  });

  it('scales 4 → 10 → 4 with binpack on memory: fills one host, empties the emptiest first', () => {
    const strategy: PlacementStrategy[] = [{ type: 'binpack', field: 'memory' }];
    const sim = new Sim({
      service: { placementStrategy: strategy },
      instances: zonedInstances(3, { memory: 4096 }), // 8 tasks of 512 MiB per host
    });
    sim.deploy();
    settle(sim);
    expect(countBy(sim.live(), (t) => t.instanceId)).toEqual({ 'ci-1': 4 });
    sim.service = { ...sim.service, desiredCount: 10 };
    settle(sim);
    expect(countBy(sim.live(), (t) => t.instanceId)).toEqual({ 'ci-1': 8, 'ci-2': 2 });
    sim.service = { ...sim.service, desiredCount: 4 };
    settle(sim);
    expect(countBy(sim.live(), (t) => t.instanceId)).toEqual({ 'ci-1': 4 });
  });

  it('moves tasks off a DRAINING instance within min / max percent', () => {
    const sim = new Sim({
      instances: zonedInstances(4),
      service: { deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 150 } },
    });
    sim.deploy();
    settle(sim);
    const drained = sim.live()[0]?.instanceId ?? '';
    const onIt = sim.live().filter((t) => t.instanceId === drained).length;
    expect(onIt).toBeGreaterThan(0);
    sim.instance(drained).status = 'DRAINING';
    const first = sim.step();
    expect(first.stop).toEqual([]); // min 100: replacements first
    expect(first.place).toHaveLength(onIt);
    expect(first.place.every((p) => p.instanceId !== drained)).toBe(true);
    const second = sim.step();
    expect(second.stop).toHaveLength(onIt);
    expect(
      second.stop.every((s) => s.cause === 'draining' && s.reason === 'Container instance is draining'),
    ).toBe(true);
    settle(sim);
    expect(sim.live().filter((t) => t.instanceId === drained)).toEqual([]);
    expect(sim.live()).toHaveLength(4);
  });

  it('replaces the tasks of a lost instance elsewhere without waiting', () => {
    const sim = new Sim({ instances: zonedInstances(3) });
    sim.deploy();
    settle(sim);
    const lost = sim.live()[0]?.instanceId ?? '';
    const onIt = sim
      .live()
      .filter((t) => t.instanceId === lost)
      .map((t) => t.id);
    sim.instance(lost).connected = false;
    // The caller may decide that a short disconnection is not a loss yet.
    sim.lostInstanceIds = [];
    const wait = sim.reconcile();
    expect(wait.stop).toEqual([]);
    expect(wait.place).toEqual([]);
    sim.lostInstanceIds = undefined;
    // Replacements first, elsewhere; the lost host's tasks stay counted until they run.
    const decision = sim.step();
    expect(decision.stop).toEqual([]);
    expect(decision.place).toHaveLength(onIt.length);
    expect(decision.place.every((p) => p.instanceId !== lost)).toBe(true);
    const next = sim.step();
    expect(next.stop.map((s) => s.taskId).sort()).toEqual([...onIt].sort());
    expect(next.stop.every((s) => s.cause === 'instance-lost')).toBe(true);
    expect(next.place).toEqual([]);
    // Nobody reports those stops; the service settles anyway.
    settle(sim);
  });

  it('with no room above the desired count, stops a lost task together with the start of its replacement', () => {
    const sim = new Sim({
      instances: zonedInstances(3),
      service: { deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 100 } },
    });
    sim.deploy();
    settle(sim);
    const lost = sim.live()[0]?.instanceId ?? '';
    const onIt = sim.live().filter((t) => t.instanceId === lost);
    sim.instance(lost).connected = false;
    const decision = sim.step();
    expect(decision.stop).toHaveLength(onIt.length);
    expect(decision.place).toHaveLength(onIt.length);
    settle(sim);
    expect(sim.live().every((t) => t.instanceId !== lost)).toBe(true);
  });

  it('stops a lost task whose replacement fits nowhere instead of keeping it forever', () => {
    const sim = new Sim({
      instances: [
        { id: 'ci-1', zone: 'zone-a', cpu: 4096, memory: 8192, status: 'ACTIVE', connected: true },
        { id: 'ci-2', zone: 'zone-b', cpu: 4096, memory: 8192, status: 'ACTIVE', connected: true },
      ],
      service: { desiredCount: 2, placementConstraints: [{ type: 'distinctInstance' }] },
    });
    sim.deploy();
    settle(sim);
    sim.instance('ci-1').connected = false;
    const decision = sim.step();
    expect(decision.place).toEqual([]);
    expect(decision.stop.map((s) => s.cause)).toEqual(['instance-lost']);
  });

  it('explains a placement failure with the closest instance, once', () => {
    const sim = new Sim({
      instances: [
        { id: 'ci-1', zone: 'zone-a', cpu: 4096, memory: 256, status: 'ACTIVE', connected: true },
        { id: 'ci-2', zone: 'zone-b', cpu: 128, memory: 256, status: 'ACTIVE', connected: true },
      ],
    });
    sim.deploy();
    const decision = sim.step();
    expect(decision.place).toEqual([]);
    expect(decision.events.map((e) => e.message)).toEqual([
      '(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance ci-1) has insufficient memory available.',
    ]);
    expect(decision.placementFailure?.failures.map((f) => f.reason)).toEqual([
      'RESOURCE:MEMORY',
      'RESOURCE:CPU',
    ]);
    expect(decision.nextEvaluationAt).toBe(sim.now - STEP_MS + 30_000);
    expect(sim.step().events).toEqual([]);
    // Capacity arrives: the tasks are placed.
    sim.instances.push({
      id: 'ci-3',
      zone: 'zone-c',
      cpu: 4096,
      memory: 8192,
      status: 'ACTIVE',
      connected: true,
    });
    expect(sim.step().place).toHaveLength(4);
  });

  it('is pure: does not mutate its input and answers the same for the same input', () => {
    const sim = new Sim({});
    sim.deploy();
    sim.step();
    sim.deploy();
    const input = sim.input();
    const copy = structuredClone(input);
    const a = reconcileService(input);
    const b = reconcileService(input);
    expect(input).toEqual(copy);
    expect(a).toEqual(b);
  });
});

describe('reconcileService: DAEMON', () => {
  it('runs one task per eligible instance, including one that joins later; rolls out old → new per instance', () => {
    const query = parseClusterQuery('attribute:role != edge');
    if (!query.ok) throw new Error(query.error.message);
    const sim = new Sim({
      service: {
        schedulingStrategy: 'DAEMON',
        desiredCount: 0,
        placementConstraints: [{ type: 'memberOf', expression: query.value }],
      },
      instances: [
        ...zonedInstances(3),
        {
          ...zonedInstances(1)[0],
          id: 'ci-edge',
          zone: 'zone-a',
          status: 'ACTIVE',
          connected: true,
          attributes: { role: 'edge' },
          cpu: 4096,
          memory: 8192,
        },
      ],
    });
    const v1 = sim.deploy();
    const first = sim.step();
    expect(first.desiredCount).toBe(3);
    expect(first.place.map((p) => p.instanceId).sort()).toEqual(['ci-1', 'ci-2', 'ci-3']);
    expect(settle(sim)).toBe(1);
    expect(sim.messages()).toContain(`(service web) (deployment ${v1}) deployment completed.`);

    sim.instances.push({
      id: 'ci-4',
      zone: 'zone-b',
      cpu: 4096,
      memory: 8192,
      status: 'ACTIVE',
      connected: true,
    });
    const join = sim.step();
    expect(join.desiredCount).toBe(4);
    expect(join.place.map((p) => p.instanceId)).toEqual(['ci-4']);
    settle(sim);

    // Rollout with the daemon defaults (min 0 / max 100): stop old, start new, per instance.
    const v2 = sim.deploy();
    const roll = sim.step();
    expect(roll.stop).toHaveLength(4);
    expect(roll.place.map((p) => p.instanceId).sort()).toEqual(['ci-1', 'ci-2', 'ci-3', 'ci-4']);
    settle(sim);
    expect(sim.deployments.map((d) => d.id)).toEqual([v2]);
    expect(Object.values(countBy(sim.live(v2), (t) => t.instanceId))).toEqual([1, 1, 1, 1]);

    // A DRAINING instance keeps its daemon task until the other tasks are gone.
    const ci1 = sim.instance('ci-1');
    ci1.status = 'DRAINING';
    ci1.otherTasks = 2;
    const drain = sim.step();
    expect(drain.desiredCount).toBe(3);
    expect(drain.stop).toEqual([]);
    ci1.otherTasks = 0;
    expect(sim.step().stop.map((s) => s.cause)).toEqual(['draining']);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

/** BOSUN_PROPERTY_RUNS=20 multiplies the runs, for a longer hunt. */
const RUNS = Math.max(1, Number(process.env.BOSUN_PROPERTY_RUNS ?? 1) || 1);

type Op =
  | { kind: 'tick' }
  | { kind: 'scale'; to: number }
  | { kind: 'deploy'; behaviour: Behaviour }
  | { kind: 'kill'; pick: number }
  | { kind: 'unhealthy'; pick: number }
  | { kind: 'lose'; pick: number }
  | { kind: 'drain'; pick: number }
  | { kind: 'restore' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Op>({ kind: 'tick' }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 8 }).map((to): Op => ({ kind: 'scale', to })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<Behaviour>('ok', 'ok', 'ok', 'fail-start', 'unhealthy')
      .map((behaviour): Op => ({ kind: 'deploy', behaviour })),
  },
  { weight: 2, arbitrary: fc.nat().map((pick): Op => ({ kind: 'kill', pick })) },
  { weight: 2, arbitrary: fc.nat().map((pick): Op => ({ kind: 'unhealthy', pick })) },
  { weight: 1, arbitrary: fc.nat().map((pick): Op => ({ kind: 'lose', pick })) },
  { weight: 1, arbitrary: fc.nat().map((pick): Op => ({ kind: 'drain', pick })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'restore' }) },
);

const scenarioArb = fc.record({
  min: fc.integer({ min: 0, max: 100 }),
  max: fc.integer({ min: 100, max: 200 }),
  desired: fc.integer({ min: 0, max: 8 }),
  grace: fc.constantFrom(0, 15),
  breaker: fc.constantFrom('off', 'on', 'rollback'),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
  ops: fc.array(opArb, { minLength: 5, maxLength: 30 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

const isHealthy = (sim: Sim, t: ServiceTask): boolean => {
  const instance = sim.instances.find((i) => i.id === t.instanceId);
  return (
    t.lastStatus === 'RUNNING' &&
    t.desiredStatus === 'RUNNING' &&
    t.healthStatus === 'HEALTHY' &&
    instance?.connected === true
  );
};

/** Runs a scenario, checking the invariants of every decision; returns the simulator. */
function runScenario(
  s: Scenario,
  check: (sim: Sim, decision: ServiceDecision) => void,
  o: { brokenDeployments: boolean } = { brokenDeployments: true },
): Sim {
  // Six instances of room for 8 tasks each: enough capacity with two lost or draining.
  const sim = new Sim({
    instances: zonedInstances(6, { memory: 8 * 512, cpu: 8 * 256 }),
    service: {
      desiredCount: s.desired,
      healthCheckGracePeriodSeconds: s.grace,
      deploymentConfiguration: {
        minimumHealthyPercent: s.min,
        maximumPercent: s.max,
        deploymentCircuitBreaker: { enable: s.breaker !== 'off', rollback: s.breaker === 'rollback' },
      },
    },
  });
  sim.seed = s.seed;
  sim.deploy();
  const evaluate = (): void => {
    const decision = sim.reconcile();
    check(sim, decision);
    sim.advance();
  };
  evaluate();
  for (const op of s.ops) {
    const live = sim.live();
    const pick = <T>(items: readonly T[], n: number): T | undefined => items[n % Math.max(1, items.length)];
    switch (op.kind) {
      case 'scale':
        sim.service = { ...sim.service, desiredCount: op.to };
        break;
      case 'deploy':
        sim.deploy(o.brokenDeployments ? op.behaviour : 'ok');
        break;
      case 'kill': {
        const t = pick(live, op.pick);
        if (t !== undefined) sim.kill(t.id);
        break;
      }
      case 'unhealthy': {
        const t = pick(
          live.filter((x) => x.lastStatus === 'RUNNING'),
          op.pick,
        );
        if (t !== undefined) sim.setHealth(t.id, 'UNHEALTHY');
        break;
      }
      case 'lose': {
        const candidates = sim.instances.filter((i) => i.connected && i.status === 'ACTIVE');
        if (candidates.length > 4) {
          const i = pick(candidates, op.pick);
          if (i !== undefined) i.connected = false;
        }
        break;
      }
      case 'drain': {
        const candidates = sim.instances.filter((i) => i.connected && i.status === 'ACTIVE');
        if (candidates.length > 4) {
          const i = pick(candidates, op.pick);
          if (i !== undefined) i.status = 'DRAINING';
        }
        break;
      }
      case 'restore':
        // A lost instance comes back empty (its agent was reinstalled) and a drained one is ACTIVE again.
        for (const i of sim.instances) {
          if (!i.connected) {
            i.connected = true;
            sim.tasks = sim.tasks.map((t) =>
              t.instanceId === i.id && t.lastStatus !== 'STOPPED'
                ? { ...t, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stoppedAt: sim.now }
                : t,
            );
          }
          i.status = 'ACTIVE';
        }
        break;
      default:
        break;
    }
    evaluate();
  }
  return sim;
}

describe('reconcileService properties', () => {
  it('never exceeds the maximumPercent ceiling, never stops healthy tasks below the floor, never over-starts at steady state', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        runScenario(s, (sim, decision) => {
          const input = sim.lastInput as ReconcileServiceInput;
          const desired = input.service.desiredCount;
          const ceiling = taskCeiling(desired, s.max);
          const floor = healthyFloor(desired, s.min);
          // (1) Tasks not stopped and not being stopped, once the decision is applied.
          const liveAfter = sim.live().length;
          if (decision.place.length > 0) expect(liveAfter).toBeLessThanOrEqual(Math.max(ceiling, 0));
          // (2) Healthy tasks removed by the scheduler's own stops never take the count below the floor.
          const healthyBefore = input.tasks.filter((t) => isHealthy(sim, t));
          const stopped = new Set(decision.stop.map((x) => x.taskId));
          const healthyAfter = healthyBefore.filter((t) => !stopped.has(t.id)).length;
          expect(healthyAfter).toBeGreaterThanOrEqual(Math.min(floor, healthyBefore.length));
          // (3a) With desiredCount fine tasks of the PRIMARY and nothing else, nothing starts.
          const primary = input.deployments.find((d) => d.status === 'PRIMARY');
          const liveBefore = input.tasks.filter(
            (t) => t.lastStatus !== 'STOPPED' && t.desiredStatus === 'RUNNING',
          );
          const clean = liveBefore.every((t) => {
            const instance = sim.instances.find((i) => i.id === t.instanceId);
            return (
              t.deploymentId === primary?.id &&
              t.healthStatus !== 'UNHEALTHY' &&
              instance?.connected === true &&
              instance.status === 'ACTIVE'
            );
          });
          if (clean && liveBefore.length >= desired) expect(decision.place).toEqual([]);
        });
      }),
      { numRuns: 150 * RUNS },
    );
  });

  it('converges to exactly desiredCount healthy tasks of one deployment once faults stop', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        // Every deployment works and the breaker is off: anything else may legitimately never converge.
        const sim = runScenario({ ...s, breaker: 'off' }, () => {}, { brokenDeployments: false });
        // Faults over; some capacity may have been lost or drained, enough is left (see runScenario).
        let steadyAt = -1;
        for (let i = 0; i < 40; i += 1) {
          const decision = sim.step();
          const desired = sim.service.desiredCount;
          if (sim.deployments.length === 1) {
            expect(sim.live().length).toBeLessThanOrEqual(Math.max(desired, taskCeiling(desired, s.max)));
          }
          if (decision.steady) {
            steadyAt = i;
            break;
          }
        }
        const desired = sim.service.desiredCount;
        if (steadyAt < 0 && desired > 0 && taskCeiling(desired, s.max) <= healthyFloor(desired, s.min)) {
          // ECS's deadlock (say 1 task at 51 % / 100 %): no move is allowed, and the service says so.
          expect(sim.events[0]?.message).toMatch(/unable to stop or start tasks during a deployment/);
          return;
        }
        expect(steadyAt).toBeGreaterThanOrEqual(0);
        expect(sim.deployments).toHaveLength(1);
        expect(sim.live()).toHaveLength(sim.service.desiredCount);
        expect(sim.live().every((t) => t.healthStatus === 'HEALTHY')).toBe(true);
        // And it stays there.
        for (let i = 0; i < 3; i += 1) {
          const decision = sim.step();
          expect(decision.place).toEqual([]);
          expect(decision.stop).toEqual([]);
        }
      }),
      { numRuns: 100 * RUNS },
    );
  });

  it('is deterministic for a seed, whatever the input order', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const inputs: ReconcileServiceInput[] = [];
        runScenario(s, (sim) => {
          inputs.push(sim.lastInput as ReconcileServiceInput);
        });
        for (const input of inputs.slice(-5)) {
          const a = reconcileService(input);
          const b = reconcileService({
            ...input,
            tasks: [...input.tasks].reverse(),
            instances: [...input.instances].reverse(),
          });
          expect(b).toEqual(a);
        }
      }),
      { numRuns: 50 * RUNS },
    );
  });
});
