import {
  type ContainerDefinition,
  type ContainerStateReport,
  containerStatusRank,
  type DesiredTask,
  parseRegisterTaskDefinition,
  RegisterTaskDefinitionInput,
  type StopCode,
  type TaskDefinitionSpec,
  TaskStateReport,
  taskStatusRank,
} from '@bosun/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ObservedContainer } from '../docker/types.ts';
import {
  type AgentAction,
  ESSENTIAL_EXITED,
  effectiveDesired,
  isFullyCleanedUp,
  newTaskRecord,
  OOM_REASON,
  type StepInput,
  type StepOutput,
  type StepSettings,
  stepTask,
  type TaskRecord,
  VANISHED_REASON,
} from './step.ts';

// --- helpers ---------------------------------------------------------------------------------------

const TASK_ID = '0123456789abcdef0123456789abcdef';
const T0 = 1_700_000_000_000;
const SETTINGS: StepSettings = { defaultStopTimeoutSeconds: 30, cleanupDelayMs: 3_600_000 };
const HEALTH_CHECK = {
  command: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
  interval: 30,
  timeout: 5,
  retries: 3,
};

type ContainerSpec = Partial<ContainerDefinition> & { name: string };

/** A stored task definition: the schema fills the defaults, the cross-field rules are checked. */
function taskDef(containers: ContainerSpec[]): TaskDefinitionSpec {
  const input = RegisterTaskDefinitionInput.parse({
    family: 'app',
    containerDefinitions: containers.map((c) => ({ image: 'registry.local/app:1', memory: 128, ...c })),
  });
  return parseRegisterTaskDefinition(input).spec;
}

function desiredTask(spec: TaskDefinitionSpec, over: Partial<DesiredTask> = {}): DesiredTask {
  return {
    taskArn: `arn:aws:ecs:local:000000000000:task/default/${TASK_ID}`,
    taskId: TASK_ID,
    clusterArn: 'arn:aws:ecs:local:000000000000:cluster/default',
    taskDefinitionArn: 'arn:aws:ecs:local:000000000000:task-definition/app:1',
    desiredStatus: 'RUNNING',
    taskDefinition: spec,
    group: 'family:app',
    ...over,
  };
}

function observed(containerName: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `id-${containerName}`,
    name: `bosun-${TASK_ID}-${containerName}`,
    taskId: TASK_ID,
    containerName,
    state: 'running',
    oomKilled: false,
    startedAt: T0,
    networkBindings: [],
    imageId: 'sha256:0000',
    ...over,
  };
}

/** An in-memory Docker: just enough state for stepTask's decisions. */
class FakeDocker {
  readonly containers = new Map<string, ObservedContainer>();
  private seq = 0;

  constructor(
    private readonly spec: TaskDefinitionSpec,
    /** The exit code a stop produces: 0 (SIGTERM honoured) or 137 (SIGKILL after the timeout). */
    public stopExitCode: (name: string) => number = () => 0,
  ) {}

  list(): ObservedContainer[] {
    return [...this.containers.values()].map((c) => structuredClone(c));
  }

  private hasHealthCheck(name: string): boolean {
    return this.spec.containerDefinitions.some((d) => d.name === name && d.healthCheck !== undefined);
  }

  run(name: string, now: number): void {
    this.seq++;
    this.containers.set(
      name,
      observed(name, {
        id: `c${this.seq}-${name}`,
        startedAt: now,
        ...(this.hasHealthCheck(name) ? { health: 'starting' as const } : {}),
      }),
    );
  }

  start(name: string, now: number): void {
    const c = this.containers.get(name);
    if (!c) return;
    c.state = 'running';
    c.startedAt = now;
    c.oomKilled = false;
    c.exitCode = undefined;
    c.finishedAt = undefined;
    c.health = this.hasHealthCheck(name) ? 'starting' : undefined;
  }

  exit(name: string, now: number, exitCode: number, oomKilled = false): void {
    const c = this.containers.get(name);
    if (c?.state !== 'running') return;
    c.state = 'exited';
    c.exitCode = exitCode;
    c.oomKilled = oomKilled;
    c.finishedAt = now;
    c.health = undefined;
  }

  stop(name: string, now: number): void {
    this.exit(name, now, this.stopExitCode(name));
  }

  setHealth(name: string, health: 'starting' | 'healthy' | 'unhealthy'): void {
    const c = this.containers.get(name);
    if (c?.state === 'running' && this.hasHealthCheck(name)) c.health = health;
  }

  remove(name: string): void {
    this.containers.delete(name);
  }
}

/** Drives one task through stepTask, playing the agent's shell and Docker. */
class Sim {
  readonly docker: FakeDocker;
  desired: DesiredTask;
  record: TaskRecord;
  now = T0;
  /** Containers whose run fails, as the shell would record it. */
  readonly failingRuns = new Map<string, string>();
  /** Checked on every step: the same input gives the same output, and the input is left alone. */
  checkPurity = false;

  constructor(
    readonly spec: TaskDefinitionSpec,
    readonly settings: StepSettings = SETTINGS,
  ) {
    this.docker = new FakeDocker(spec);
    this.desired = desiredTask(spec);
    this.record = newTaskRecord(TASK_ID, T0);
  }

  input(): StepInput {
    return {
      desired: this.desired,
      record: this.record,
      observed: this.docker.list(),
      now: this.now,
      settings: this.settings,
    };
  }

  step(): StepOutput {
    const input = this.input();
    const snapshot = this.checkPurity ? structuredClone(input) : undefined;
    const out = stepTask(input);
    if (snapshot) {
      expect(input).toEqual(snapshot);
      expect(stepTask(structuredClone(snapshot))).toEqual(out);
    }
    TaskStateReport.parse(out.report);
    this.record = out.record;
    return out;
  }

  apply(actions: readonly AgentAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'run': {
          const rec = this.record.containers[a.container] ?? {};
          this.record.containers[a.container] = rec;
          rec.createRequested = true;
          const failure = this.failingRuns.get(a.container);
          if (failure) rec.failure = failure;
          else this.docker.run(a.container, this.now);
          break;
        }
        case 'start':
          this.docker.start(a.container, this.now);
          break;
        case 'stop':
          this.docker.stop(a.container, this.now);
          break;
        case 'remove':
          this.docker.remove(a.container);
          break;
        case 'removeTaskResources':
          this.record.resourcesRemoved = true;
          break;
      }
    }
  }

  /** One reconcile round: decide, then carry the actions out. */
  tick(): StepOutput {
    const out = this.step();
    this.apply(out.actions);
    return out;
  }

  /** Ticks until a round asks for nothing; returns the last output. */
  settle(maxRounds = 20): StepOutput {
    for (let i = 0; i < maxRounds; i++) {
      const out = this.tick();
      if (out.actions.length === 0) return out;
    }
    throw new Error(`not settled after ${maxRounds} rounds`);
  }

  advance(ms: number): void {
    this.now += ms;
  }

  stopTask(stopCode?: StopCode, stoppedReason?: string): void {
    this.desired = { ...this.desired, desiredStatus: 'STOPPED', stopCode, stoppedReason };
  }
}

function reported(out: StepOutput, name: string): ContainerStateReport {
  const c = out.report.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no report for container ${name}`);
  return c;
}

const run = (container: string): AgentAction => ({ kind: 'run', container });

/** A task that has reached RUNNING. */
function runningSim(containers: ContainerSpec[], settings?: StepSettings): Sim {
  const sim = new Sim(taskDef(containers), settings);
  const out = sim.settle();
  expect(out.report.lastStatus).toBe('RUNNING');
  return sim;
}

// --- lifecycle -------------------------------------------------------------------------------------

describe('stepTask: one essential container', () => {
  it('runs it, reports RUNNING, stops it with its stopTimeout and reports STOPPED with the stop code', () => {
    const sim = new Sim(taskDef([{ name: 'web', stopTimeout: 10 }]));
    const first = sim.step();
    expect(first.actions).toEqual([run('web')]);
    expect(first.report.lastStatus).toBe('PENDING');
    expect(reported(first, 'web').lastStatus).toBe('PENDING');
    expect(first.report.startedAt).toBeUndefined();
    sim.apply(first.actions);

    sim.advance(2_000);
    const up = sim.step();
    expect(up.actions).toEqual([]);
    expect(up.report.lastStatus).toBe('RUNNING');
    expect(up.report.startedAt).toBe(T0 + 2_000);
    expect(reported(up, 'web')).toMatchObject({ lastStatus: 'RUNNING', runtimeId: 'c1-web' });
    expect(up.report.stopCode).toBeUndefined();

    sim.advance(60_000);
    sim.stopTask('UserInitiated', 'Task stopped by the operator');
    const stopping = sim.step();
    expect(stopping.actions).toEqual([{ kind: 'stop', container: 'web', timeoutSeconds: 10 }]);
    expect(stopping.report).toMatchObject({
      lastStatus: 'STOPPING',
      stopCode: 'UserInitiated',
      stoppingAt: T0 + 62_000,
    });
    // Asked again before Docker reacts: the stop is not repeated.
    sim.advance(1_000);
    expect(sim.step().actions).toEqual([]);
    sim.apply(stopping.actions);

    sim.advance(1_000);
    const stopped = sim.step();
    expect(stopped.actions).toEqual([]);
    expect(stopped.report).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'Task stopped by the operator',
      startedAt: T0 + 2_000,
      stoppingAt: T0 + 62_000,
      stoppedAt: T0 + 64_000,
      executionStoppedAt: T0 + 64_000,
    });
    expect(reported(stopped, 'web')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
  });

  it('uses the default stop timeout when the container sets none, and UserInitiated when no code is given', () => {
    const sim = runningSim([{ name: 'web' }]);
    sim.stopTask();
    const out = sim.tick();
    expect(out.actions).toEqual([{ kind: 'stop', container: 'web', timeoutSeconds: 30 }]);
    const stopped = sim.step();
    expect(stopped.report.lastStatus).toBe('STOPPED');
    expect(stopped.report.stopCode).toBe('UserInitiated');
    expect(stopped.report.stoppedReason).toBeTruthy();
  });

  it('asks for the stop again once the stop timeout has long passed', () => {
    const sim = runningSim([{ name: 'web', stopTimeout: 10 }]);
    sim.stopTask();
    expect(sim.step().actions).toHaveLength(1);
    sim.advance(24_000);
    expect(sim.step().actions).toEqual([]);
    sim.advance(2_000);
    expect(sim.step().actions).toEqual([{ kind: 'stop', container: 'web', timeoutSeconds: 10 }]);
  });

  it('stops at once, without actions, when desired STOPPED before anything ran', () => {
    const sim = new Sim(taskDef([{ name: 'web' }]));
    sim.stopTask('ServiceSchedulerInitiated', 'Scaling down');
    const out = sim.step();
    expect(out.actions).toEqual([]);
    expect(out.report).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: 'Scaling down',
    });
    expect(reported(out, 'web').lastStatus).toBe('STOPPED');
  });

  it('reports the SIGKILL exit code of a container that ignored SIGTERM', () => {
    const sim = runningSim([{ name: 'web' }]);
    sim.docker.stopExitCode = () => 137;
    sim.stopTask();
    const out = sim.settle();
    expect(reported(out, 'web')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 137 });
  });
});

describe('stepTask: container exits', () => {
  it('an essential container exiting stops the task and the other containers', () => {
    const sim = runningSim([{ name: 'web' }, { name: 'log', essential: false, stopTimeout: 5 }]);
    sim.advance(10_000);
    sim.docker.exit('web', sim.now, 2);
    const out = sim.step();
    expect(out.actions).toEqual([{ kind: 'stop', container: 'log', timeoutSeconds: 5 }]);
    expect(out.report).toMatchObject({
      lastStatus: 'STOPPING',
      stopCode: 'EssentialContainerExited',
      stoppedReason: ESSENTIAL_EXITED,
    });
    expect(reported(out, 'web')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 2 });
    sim.apply(out.actions);
    const stopped = sim.step();
    expect(stopped.report).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: ESSENTIAL_EXITED,
    });
    expect(reported(stopped, 'log').lastStatus).toBe('STOPPED');
  });

  it('an essential container exiting with code 0 still stops the task', () => {
    const sim = runningSim([{ name: 'job' }]);
    sim.docker.exit('job', sim.now, 0);
    const out = sim.step();
    expect(out.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
    expect(reported(out, 'job').exitCode).toBe(0);
  });

  it('a non-essential container exiting leaves the task RUNNING', () => {
    const sim = runningSim([{ name: 'web' }, { name: 'migrate', essential: false }]);
    sim.docker.exit('migrate', sim.now, 1);
    const out = sim.step();
    expect(out.actions).toEqual([]);
    expect(out.report.lastStatus).toBe('RUNNING');
    expect(out.report.stopCode).toBeUndefined();
    expect(reported(out, 'migrate')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 1 });
    expect(reported(out, 'web').lastStatus).toBe('RUNNING');
  });

  it('an OOM-killed container reports OutOfMemoryError', () => {
    const sim = runningSim([{ name: 'web' }]);
    sim.docker.exit('web', sim.now, 137, true);
    const out = sim.step();
    expect(reported(out, 'web').reason).toBe(OOM_REASON);
    expect(reported(out, 'web').reason?.startsWith('OutOfMemoryError')).toBe(true);
    expect(out.report).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: ESSENTIAL_EXITED,
    });
  });

  it('a container that vanished from Docker stops the task, and its reason says so', () => {
    const sim = runningSim([{ name: 'web' }, { name: 'log', essential: false }]);
    sim.docker.remove('web');
    const out = sim.step();
    expect(out.actions).toEqual([{ kind: 'stop', container: 'log', timeoutSeconds: 30 }]);
    expect(out.report.stopCode).toBe('EssentialContainerExited');
    expect(out.report.stoppedReason).toContain(VANISHED_REASON);
    expect(reported(out, 'web')).toMatchObject({ lastStatus: 'STOPPED', reason: VANISHED_REASON });
    sim.apply(out.actions);
    const stopped = sim.step();
    expect(stopped.report.lastStatus).toBe('STOPPED');
    expect(stopped.actions.some((a) => a.kind === 'run')).toBe(false);
  });
});

describe('stepTask: failures recorded by the shell', () => {
  it('a pull failure stops the task with TaskFailedToStart and that reason on the container', () => {
    const reason = 'CannotPullContainerError: pull access denied for registry.local/app';
    const sim = new Sim(taskDef([{ name: 'web' }]));
    sim.failingRuns.set('web', reason);
    const first = sim.tick();
    expect(first.actions).toEqual([run('web')]);
    const out = sim.step();
    expect(out.actions).toEqual([]);
    expect(out.report).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
      stoppedReason: reason,
    });
    expect(reported(out, 'web')).toMatchObject({ lastStatus: 'STOPPED', reason });
  });

  it('the other, already running containers are stopped', () => {
    const reason = 'CannotStartContainerError: exec format error';
    const sim = new Sim(
      taskDef([
        { name: 'proxy' },
        { name: 'web', dependsOn: [{ containerName: 'proxy', condition: 'START' }] },
      ]),
    );
    sim.failingRuns.set('web', reason);
    expect(sim.tick().actions).toEqual([run('proxy')]);
    expect(sim.tick().actions).toEqual([run('web')]);
    const out = sim.step();
    expect(out.actions).toEqual([{ kind: 'stop', container: 'proxy', timeoutSeconds: 30 }]);
    expect(out.report).toMatchObject({
      lastStatus: 'STOPPING',
      stopCode: 'TaskFailedToStart',
      stoppedReason: reason,
    });
    expect(reported(out, 'web')).toMatchObject({ lastStatus: 'STOPPED', reason });
  });

  it('a failure on a created container (start refused) counts too', () => {
    const reason = 'CannotStartContainerError: port is already allocated';
    const record = newTaskRecord(TASK_ID, T0);
    record.containers.web = { createRequested: true, failure: reason };
    const out = stepTask({
      desired: desiredTask(taskDef([{ name: 'web' }])),
      record,
      observed: [observed('web', { state: 'created', startedAt: undefined })],
      now: T0,
      settings: SETTINGS,
    });
    expect(out.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' });
    expect(reported(out, 'web')).toMatchObject({ lastStatus: 'STOPPED', reason });
  });
});

describe('stepTask: adoption after an agent restart', () => {
  it('a container created before the crash and running now is adopted, not run again', () => {
    const record = newTaskRecord(TASK_ID, T0);
    record.containers.web = { createRequested: true };
    const out = stepTask({
      desired: desiredTask(taskDef([{ name: 'web' }])),
      record,
      observed: [observed('web', { id: 'abc123' })],
      now: T0 + 5_000,
      settings: SETTINGS,
    });
    expect(out.actions).toEqual([]);
    expect(out.report.lastStatus).toBe('RUNNING');
    expect(out.record.containers.web?.runtimeId).toBe('abc123');
    expect(reported(out, 'web')).toMatchObject({ lastStatus: 'RUNNING', runtimeId: 'abc123' });
  });

  it('a container created but never started is started, not created again', () => {
    const record = newTaskRecord(TASK_ID, T0);
    record.containers.web = { createRequested: true };
    const out = stepTask({
      desired: desiredTask(taskDef([{ name: 'web' }])),
      record,
      observed: [observed('web', { state: 'created', startedAt: undefined })],
      now: T0,
      settings: SETTINGS,
    });
    expect(out.actions).toEqual([{ kind: 'start', container: 'web', restart: false }]);
    expect(out.report.lastStatus).toBe('PENDING');
  });

  it('a create that never reached Docker is asked for again', () => {
    const record = newTaskRecord(TASK_ID, T0);
    record.containers.web = { createRequested: true };
    const out = stepTask({
      desired: desiredTask(taskDef([{ name: 'web' }])),
      record,
      observed: [],
      now: T0,
      settings: SETTINGS,
    });
    expect(out.actions).toEqual([run('web')]);
  });
});

// --- dependsOn -------------------------------------------------------------------------------------

describe('stepTask: dependsOn', () => {
  it.each([
    ['listed first', true],
    ['listed second', false],
  ])('START: the dependent runs only once the dependency started (dependency %s)', (_n, depFirst) => {
    const db: ContainerSpec = { name: 'db' };
    const app: ContainerSpec = { name: 'app', dependsOn: [{ containerName: 'db', condition: 'START' }] };
    const sim = new Sim(taskDef(depFirst ? [db, app] : [app, db]));
    const first = sim.tick();
    expect(first.actions).toEqual([run('db')]);
    expect(first.report.lastStatus).toBe('PENDING');
    const second = sim.tick();
    expect(second.actions).toEqual([run('app')]);
    expect(second.report.lastStatus).toBe('PENDING');
    expect(sim.step().report.lastStatus).toBe('RUNNING');
  });

  it.each([
    ['COMPLETE', 0, true],
    ['COMPLETE', 3, true],
    ['SUCCESS', 0, true],
    ['SUCCESS', 1, false],
  ] as const)('%s: the dependency exits with %i → dependent runs: %s', (condition, exitCode, runs) => {
    const sim = new Sim(
      taskDef([
        { name: 'init', essential: false },
        { name: 'app', dependsOn: [{ containerName: 'init', condition }] },
      ]),
    );
    expect(sim.tick().actions).toEqual([run('init')]);
    sim.advance(5_000);
    const waiting = sim.tick();
    expect(waiting.actions).toEqual([]);
    expect(waiting.report.lastStatus).toBe('PENDING');
    expect(reported(waiting, 'app').lastStatus).toBe('PENDING');

    sim.docker.exit('init', sim.now, exitCode);
    const out = sim.tick();
    if (runs) {
      expect(out.actions).toEqual([run('app')]);
      const up = sim.step();
      expect(up.report.lastStatus).toBe('RUNNING');
      expect(reported(up, 'init')).toMatchObject({ lastStatus: 'STOPPED', exitCode });
    } else {
      expect(out.actions).toEqual([]);
      expect(out.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' });
      expect(out.report.stoppedReason).toContain("dependency 'init'");
      expect(out.report.stoppedReason).toContain('SUCCESS');
      expect(reported(out, 'app').lastStatus).toBe('STOPPED');
    }
  });

  it('HEALTHY: the dependent runs only once the dependency is healthy', () => {
    const sim = new Sim(
      taskDef([
        { name: 'db', healthCheck: HEALTH_CHECK },
        { name: 'app', dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] },
      ]),
    );
    expect(sim.tick().actions).toEqual([run('db')]);
    expect(sim.tick().actions).toEqual([]);
    sim.docker.setHealth('db', 'unhealthy');
    expect(sim.tick().actions).toEqual([]);
    sim.docker.setHealth('db', 'healthy');
    expect(sim.tick().actions).toEqual([run('app')]);
    expect(sim.step().report.lastStatus).toBe('RUNNING');
  });

  it('HEALTHY: the dependency stopping before it was healthy → TaskFailedToStart', () => {
    const sim = new Sim(
      taskDef([
        { name: 'db', essential: false, healthCheck: HEALTH_CHECK },
        { name: 'app', dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] },
      ]),
    );
    sim.tick();
    sim.docker.exit('db', sim.now, 1);
    const out = sim.step();
    expect(out.actions).toEqual([]);
    expect(out.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' });
    expect(out.report.stoppedReason).toContain('HEALTHY');
  });

  it('the stop code does not depend on the order the containers are listed in', () => {
    const db: ContainerSpec = { name: 'db', healthCheck: HEALTH_CHECK };
    const app: ContainerSpec = { name: 'app', dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] };
    const outcome = (containers: ContainerSpec[]) => {
      const sim = new Sim(taskDef(containers));
      sim.tick();
      sim.docker.exit('db', sim.now, 1);
      const { stopCode, stoppedReason, lastStatus } = sim.step().report;
      return { stopCode, stoppedReason, lastStatus };
    };
    expect(outcome([db, app])).toEqual(outcome([app, db]));
  });

  it("startTimeout: the dependency's own startTimeout bounds the wait → TaskFailedToStart", () => {
    const sim = new Sim(
      taskDef([
        { name: 'db', healthCheck: HEALTH_CHECK, startTimeout: 60 },
        { name: 'app', dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] },
      ]),
    );
    expect(sim.tick().actions).toEqual([run('db')]);
    sim.advance(60_000);
    expect(sim.tick().actions).toEqual([]);
    sim.advance(1_000);
    const out = sim.step();
    expect(out.actions).toEqual([{ kind: 'stop', container: 'db', timeoutSeconds: 30 }]);
    expect(out.report).toMatchObject({ lastStatus: 'STOPPING', stopCode: 'TaskFailedToStart' });
    expect(out.report.stoppedReason).toContain('startTimeout');
    sim.apply(out.actions);
    expect(sim.step().report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' });
  });

  it('startTimeout: a dependency that becomes healthy in time is not timed out', () => {
    const sim = new Sim(
      taskDef([
        { name: 'db', healthCheck: HEALTH_CHECK, startTimeout: 60 },
        { name: 'app', dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }] },
      ]),
    );
    sim.tick();
    sim.advance(30_000);
    sim.docker.setHealth('db', 'healthy');
    expect(sim.tick().actions).toEqual([run('app')]);
    sim.advance(600_000);
    expect(sim.step().report.lastStatus).toBe('RUNNING');
  });
});

describe('stepTask: stopping in reverse dependency order', () => {
  it('stops app before db, and db only once app is no longer running', () => {
    const sim = runningSim([
      { name: 'db', stopTimeout: 20 },
      { name: 'app', dependsOn: [{ containerName: 'db', condition: 'START' }] },
    ]);
    sim.stopTask();
    const first = sim.step();
    expect(first.actions).toEqual([{ kind: 'stop', container: 'app', timeoutSeconds: 30 }]);
    // Docker has not stopped app yet: db still waits.
    sim.advance(1_000);
    expect(sim.step().actions).toEqual([]);
    sim.apply(first.actions);
    const second = sim.step();
    expect(second.actions).toEqual([{ kind: 'stop', container: 'db', timeoutSeconds: 20 }]);
    expect(second.report.lastStatus).toBe('STOPPING');
    sim.apply(second.actions);
    expect(sim.step().report.lastStatus).toBe('STOPPED');
  });

  it('a chain of three stops one at a time, last dependent first', () => {
    const sim = runningSim([
      { name: 'a' },
      { name: 'b', dependsOn: [{ containerName: 'a', condition: 'START' }] },
      { name: 'c', dependsOn: [{ containerName: 'b', condition: 'START' }] },
    ]);
    sim.stopTask();
    const order = [sim.tick(), sim.tick(), sim.tick()].map((o) =>
      o.actions.map((a) => 'container' in a && a.container),
    );
    expect(order).toEqual([['c'], ['b'], ['a']]);
    expect(sim.step().report.lastStatus).toBe('STOPPED');
  });
});

// --- restartPolicy ---------------------------------------------------------------------------------

describe('stepTask: restartPolicy', () => {
  const policy = { enabled: true, ignoredExitCodes: [0], restartAttemptPeriod: 60 };

  it.each([
    ['exit 1 after 120 s', policy, 120_000, 1, true],
    ['exit 137 after 60 s', policy, 60_000, 137, true],
    ['ignored exit code 0', policy, 120_000, 0, false],
    ['exit within the attempt period', policy, 30_000, 1, false],
    ['policy disabled', { enabled: false }, 120_000, 1, false],
    ['default period 300 s, ran 299 s', { enabled: true }, 299_000, 1, false],
    ['default period 300 s, ran 300 s', { enabled: true }, 300_000, 1, true],
  ] as const)('%s → restarted: %s', (_name, restartPolicy, ranMs, exitCode, restarts) => {
    const sim = runningSim([{ name: 'web', restartPolicy: { ...restartPolicy } }]);
    sim.advance(ranMs);
    sim.docker.exit('web', sim.now, exitCode);
    const out = sim.step();
    if (restarts) {
      expect(out.actions).toEqual([{ kind: 'start', container: 'web', restart: true }]);
      expect(out.report.lastStatus).toBe('RUNNING');
      expect(out.report.stopCode).toBeUndefined();
      expect(reported(out, 'web').lastStatus).toBe('RUNNING');
      expect(out.record.containers.web?.restarts).toBe(1);
      sim.apply(out.actions);
      const after = sim.step();
      expect(after.actions).toEqual([]);
      expect(after.report.lastStatus).toBe('RUNNING');
      expect(reported(after, 'web').lastStatus).toBe('RUNNING');
    } else {
      expect(out.actions).toEqual([]);
      expect(out.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
      expect(reported(out, 'web')).toMatchObject({ lastStatus: 'STOPPED', exitCode });
    }
  });

  it('a second restart needs another attempt period since the first', () => {
    const sim = runningSim([{ name: 'web', restartPolicy: policy }]);
    sim.advance(120_000);
    sim.docker.exit('web', sim.now, 1);
    expect(sim.tick().actions).toEqual([{ kind: 'start', container: 'web', restart: true }]);
    sim.advance(30_000);
    sim.docker.exit('web', sim.now, 1);
    expect(sim.step().report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
  });

  it('a non-essential container that exited too early is not restarted later on', () => {
    const sim = runningSim([{ name: 'web' }, { name: 'sidecar', essential: false, restartPolicy: policy }]);
    sim.advance(10_000);
    sim.docker.exit('sidecar', sim.now, 1);
    const out = sim.tick();
    expect(out.actions).toEqual([]);
    expect(reported(out, 'sidecar').lastStatus).toBe('STOPPED');
    sim.advance(120_000);
    const later = sim.tick();
    expect(later.actions).toEqual([]);
    expect(reported(later, 'sidecar').lastStatus).toBe('STOPPED');
  });

  it('nothing is restarted while the task is stopping', () => {
    const sim = runningSim([{ name: 'web', restartPolicy: policy }]);
    sim.advance(120_000);
    sim.stopTask();
    sim.docker.exit('web', sim.now, 1);
    const out = sim.step();
    expect(out.actions).toEqual([]);
    expect(out.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'UserInitiated' });
  });

  it('a restart decided in a round that also stops the task is dropped, not half-applied', () => {
    const sim = runningSim([{ name: 'a', restartPolicy: policy }, { name: 'b' }]);
    sim.advance(120_000);
    sim.docker.exit('a', sim.now, 1);
    sim.docker.exit('b', sim.now, 1);
    const out = sim.step();
    expect(out.actions).toEqual([]);
    expect(out.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
    expect(reported(out, 'a').lastStatus).toBe('STOPPED');
    expect(out.record.containers.a?.restarts).toBeUndefined();
  });
});

// --- cleanup ---------------------------------------------------------------------------------------

describe('stepTask: cleanup', () => {
  it('keeps the containers for the cleanup delay, then removes them and the task resources', () => {
    const sim = runningSim([{ name: 'web' }, { name: 'log', essential: false }], {
      ...SETTINGS,
      cleanupDelayMs: 600_000,
    });
    sim.advance(5_000);
    sim.docker.exit('web', sim.now, 1);
    const stopped = sim.settle();
    expect(stopped.report.lastStatus).toBe('STOPPED');
    const stoppedAt = stopped.report.stoppedAt ?? 0;

    sim.now = stoppedAt + 599_999;
    expect(sim.step().actions).toEqual([]);
    sim.now = stoppedAt + 600_000;
    const removing = sim.tick();
    expect(removing.actions).toEqual([
      { kind: 'remove', container: 'web' },
      { kind: 'remove', container: 'log' },
    ]);
    const resources = sim.tick();
    expect(resources.actions).toEqual([{ kind: 'removeTaskResources' }]);
    const done = sim.step();
    expect(done.actions).toEqual([]);
    expect(isFullyCleanedUp(done.record, sim.docker.list())).toBe(true);
    // Removed by bosun: still described truthfully, never as vanished.
    expect(done.report).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
    expect(reported(done, 'web')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 1 });
    expect(reported(done, 'web').reason).toBeUndefined();
    expect(reported(done, 'log').reason).toBeUndefined();
  });

  it('a task that never created a container only removes its resources', () => {
    const sim = new Sim(taskDef([{ name: 'web' }]));
    sim.stopTask();
    expect(sim.tick().report.lastStatus).toBe('STOPPED');
    sim.advance(SETTINGS.cleanupDelayMs);
    expect(sim.tick().actions).toEqual([{ kind: 'removeTaskResources' }]);
    expect(sim.step().actions).toEqual([]);
  });
});

// --- health ----------------------------------------------------------------------------------------

describe('stepTask: health', () => {
  type Health = ObservedContainer['health'];
  const hc = { healthCheck: HEALTH_CHECK };
  it.each<[string, ContainerSpec[], Record<string, Health>, string, Record<string, string | undefined>]>([
    ['one healthy', [{ name: 'web', ...hc }], { web: 'healthy' }, 'HEALTHY', { web: 'HEALTHY' }],
    ['one unhealthy', [{ name: 'web', ...hc }], { web: 'unhealthy' }, 'UNHEALTHY', { web: 'UNHEALTHY' }],
    ['one starting', [{ name: 'web', ...hc }], { web: 'starting' }, 'UNKNOWN', { web: 'UNKNOWN' }],
    [
      'starting before unhealthy',
      [
        { name: 'a', ...hc },
        { name: 'b', ...hc },
      ],
      { a: 'starting', b: 'unhealthy' },
      'UNHEALTHY',
      { a: 'UNKNOWN', b: 'UNHEALTHY' },
    ],
    [
      'healthy and unhealthy',
      [
        { name: 'a', ...hc },
        { name: 'b', ...hc },
      ],
      { a: 'healthy', b: 'unhealthy' },
      'UNHEALTHY',
      { a: 'HEALTHY', b: 'UNHEALTHY' },
    ],
    [
      'a non-essential unhealthy container does not count',
      [
        { name: 'web', ...hc },
        { name: 'side', essential: false, ...hc },
      ],
      { web: 'healthy', side: 'unhealthy' },
      'HEALTHY',
      { web: 'HEALTHY', side: 'UNHEALTHY' },
    ],
    [
      'essential containers without a health check do not count',
      [{ name: 'web', ...hc }, { name: 'plain' }],
      { web: 'healthy' },
      'HEALTHY',
      { web: 'HEALTHY', plain: undefined },
    ],
    ['no health checks at all', [{ name: 'web' }], {}, 'UNKNOWN', { web: undefined }],
  ])('%s', (_name, containers, health, taskHealth, containerHealth) => {
    const record = newTaskRecord(TASK_ID, T0);
    const out = stepTask({
      desired: desiredTask(taskDef(containers)),
      record,
      observed: containers.map((c) => observed(c.name, health[c.name] ? { health: health[c.name] } : {})),
      now: T0,
      settings: SETTINGS,
    });
    expect(out.report.lastStatus).toBe('RUNNING');
    expect(out.report.healthStatus).toBe(taskHealth);
    for (const [name, h] of Object.entries(containerHealth)) expect(reported(out, name).healthStatus).toBe(h);
  });
});

// --- properties ------------------------------------------------------------------------------------

interface GenContainer {
  essential: boolean;
  healthCheck: boolean;
  restart?: { ignoreZero: boolean; period: number };
  stopTimeout?: number;
  startTimeout?: number;
  /** Index (mod i) of an earlier container to depend on, and a condition preference. */
  dep?: { on: number; pick: number };
}

const genContainer: fc.Arbitrary<GenContainer> = fc.record(
  {
    essential: fc.boolean(),
    healthCheck: fc.boolean(),
    restart: fc.record({ ignoreZero: fc.boolean(), period: fc.integer({ min: 60, max: 600 }) }),
    stopTimeout: fc.integer({ min: 2, max: 120 }),
    startTimeout: fc.integer({ min: 2, max: 600 }),
    dep: fc.record({ on: fc.nat(), pick: fc.nat() }),
  },
  { requiredKeys: ['essential', 'healthCheck'] },
);

/** A valid task definition from generated containers: c0 is essential, dependencies point backwards. */
function buildSpec(gen: GenContainer[]): TaskDefinitionSpec {
  const specs: ContainerSpec[] = gen.map((g, i) => ({
    name: `c${i}`,
    essential: i === 0 ? true : g.essential,
    ...(g.healthCheck ? { healthCheck: HEALTH_CHECK } : {}),
    ...(g.restart
      ? {
          restartPolicy: {
            enabled: true,
            ignoredExitCodes: g.restart.ignoreZero ? [0] : [],
            restartAttemptPeriod: g.restart.period,
          },
        }
      : {}),
    ...(g.stopTimeout !== undefined ? { stopTimeout: g.stopTimeout } : {}),
    ...(g.startTimeout !== undefined ? { startTimeout: g.startTimeout } : {}),
  }));
  gen.forEach((g, i) => {
    if (i === 0 || !g.dep) return;
    const target = specs[g.dep.on % i];
    const spec = specs[i];
    if (!target || !spec) return;
    const allowed = [
      'START',
      ...(target.essential ? [] : (['COMPLETE', 'SUCCESS'] as const)),
      ...(target.healthCheck ? (['HEALTHY'] as const) : []),
    ] as const;
    const condition = allowed[g.dep.pick % allowed.length] ?? 'START';
    spec.dependsOn = [{ containerName: target.name, condition }];
  });
  return taskDef(specs);
}

type SimEvent =
  | { kind: 'exit'; container: number; code: number; oom: boolean }
  | { kind: 'health'; container: number; health: 'starting' | 'healthy' | 'unhealthy' }
  | { kind: 'advance'; ms: number }
  | { kind: 'vanish'; container: number }
  | { kind: 'stop' }
  | { kind: 'tick' };

const genEvent: fc.Arbitrary<SimEvent> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('exit' as const),
      container: fc.nat(),
      code: fc.constantFrom(0, 1, 2, 137, 143),
      oom: fc.boolean(),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('health' as const),
      container: fc.nat(),
      health: fc.constantFrom('starting' as const, 'healthy' as const, 'unhealthy' as const),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 700_000 }) }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('vanish' as const), container: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('stop' as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('tick' as const) }), weight: 3 },
);

const genScenario = fc.record({
  containers: fc.array(genContainer, { minLength: 1, maxLength: 4 }),
  events: fc.array(genEvent, { maxLength: 40 }),
  failingRun: fc.option(fc.nat(), { nil: undefined }),
  stopExitCode: fc.constantFrom(0, 137),
});

/** Runs a scenario, checking the per-step invariants; returns the simulation for the final checks. */
type Scenario = typeof genScenario extends fc.Arbitrary<infer T> ? T : never;

function runScenario(s: Scenario): Sim {
  const spec = buildSpec(s.containers);
  const names = spec.containerDefinitions.map((d) => d.name);
  const nameOf = (i: number): string => names[i % names.length] ?? 'c0';
  const sim = new Sim(spec);
  sim.checkPurity = true;
  sim.docker.stopExitCode = () => s.stopExitCode;
  if (s.failingRun !== undefined)
    sim.failingRuns.set(nameOf(s.failingRun), 'CannotPullContainerError: not found');

  let lastTaskRank = -1;
  const lastContainerRank = new Map<string, number>();
  const tick = (): StepOutput => {
    const out = sim.step();
    // (1) the task's lastStatus never moves backwards
    const rank = taskStatusRank(out.report.lastStatus);
    expect(rank).toBeGreaterThanOrEqual(lastTaskRank);
    lastTaskRank = rank;
    // (2) nor does a container's
    for (const c of out.report.containers) {
      const r = containerStatusRank(c.lastStatus);
      expect(r, `container ${c.name}`).toBeGreaterThanOrEqual(lastContainerRank.get(c.name) ?? -1);
      lastContainerRank.set(c.name, r);
    }
    // (3) never a run for a container Docker already has
    for (const a of out.actions) {
      if (a.kind === 'run') expect(sim.docker.containers.has(a.container), `run ${a.container}`).toBe(false);
    }
    sim.apply(out.actions);
    sim.advance(1_000);
    return out;
  };

  tick();
  for (const e of s.events) {
    switch (e.kind) {
      case 'exit':
        sim.docker.exit(nameOf(e.container), sim.now, e.code, e.oom);
        break;
      case 'health':
        sim.docker.setHealth(nameOf(e.container), e.health);
        break;
      case 'advance':
        sim.advance(e.ms);
        break;
      case 'vanish':
        sim.docker.remove(nameOf(e.container));
        break;
      case 'stop':
        sim.stopTask('UserInitiated', 'stopped by the test');
        break;
      case 'tick':
        break;
    }
    tick();
  }

  // (4) once desired is STOPPED and Docker carries out the stops, STOPPED follows within a bound:
  // one round per container (reverse dependency order) plus one to notice.
  sim.stopTask('UserInitiated', 'stopped by the test');
  let out = tick();
  for (let i = 0; i < names.length + 1 && out.report.lastStatus !== 'STOPPED'; i++) out = tick();
  expect(out.report.lastStatus).toBe('STOPPED');
  expect(out.report.stopCode).toBeDefined();
  expect(out.report.stoppedAt).toBeDefined();
  for (const c of out.report.containers) expect(c.lastStatus).toBe('STOPPED');
  expect([...sim.docker.containers.values()].some((c) => c.state === 'running')).toBe(false);
  return sim;
}

describe('stepTask: properties', () => {
  it('status never goes back, no duplicate runs, stops in bounded rounds, pure and deterministic', () => {
    fc.assert(
      fc.property(genScenario, (s) => {
        const sim = runScenario(s);
        // And the cleanup finishes: after the delay, two rounds leave nothing behind.
        sim.advance(SETTINGS.cleanupDelayMs);
        sim.tick();
        sim.tick();
        const done = sim.step();
        expect(done.actions).toEqual([]);
        expect(isFullyCleanedUp(done.record, sim.docker.list())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a task whose containers all keep running stays RUNNING, with nothing to do', () => {
    fc.assert(
      fc.property(
        fc.array(genContainer, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 5 }),
        (gen, rounds) => {
          const spec = buildSpec(gen);
          const defs = spec.containerDefinitions;
          const deps = defs.flatMap((d) => d.dependsOn ?? []);
          // A container that must exit (COMPLETE / SUCCESS) cannot also be awaited HEALTHY.
          fc.pre(
            !deps.some(
              (d) =>
                (d.condition === 'COMPLETE' || d.condition === 'SUCCESS') &&
                deps.some((o) => o.containerName === d.containerName && o.condition === 'HEALTHY'),
            ),
          );
          const sim = new Sim(spec);
          // Health checks pass as soon as a container runs, so HEALTHY dependencies resolve.
          for (let i = 0; i < spec.containerDefinitions.length + 1; i++) {
            sim.tick();
            for (const d of spec.containerDefinitions) sim.docker.setHealth(d.name, 'healthy');
            // COMPLETE / SUCCESS dependencies resolve when their (non-essential) dependency exits 0.
            for (const d of spec.containerDefinitions) {
              for (const dep of d.dependsOn ?? []) {
                if (dep.condition === 'COMPLETE' || dep.condition === 'SUCCESS')
                  sim.docker.exit(dep.containerName, sim.now, 0);
              }
            }
          }
          for (let i = 0; i < rounds; i++) {
            sim.advance(1_000);
            const out = sim.tick();
            expect(out.actions).toEqual([]);
            expect(out.report.lastStatus).toBe('RUNNING');
          }
        },
      ),
    );
  });
});

describe('effectiveDesired: when the agent stops a task on its own', () => {
  const desired = desiredTask(taskDef([{ name: 'web' }]));
  const running = newTaskRecord(desired.taskId, 0);
  const cases: [string, Parameters<typeof effectiveDesired>[2], 'RUNNING' | 'STOPPED', RegExp | undefined][] =
    [
      [
        'listed, in contact',
        { released: false, silenceMs: 1_000, stopAfterDisconnectMs: 0 },
        'RUNNING',
        undefined,
      ],
      [
        'silent for an hour, limit off (the default)',
        { released: false, silenceMs: 3_600_000, stopAfterDisconnectMs: 0 },
        'RUNNING',
        undefined,
      ],
      [
        'silent within the limit',
        { released: false, silenceMs: 5_000, stopAfterDisconnectMs: 10_000 },
        'RUNNING',
        undefined,
      ],
      [
        'silent past the limit',
        { released: false, silenceMs: 12_000, stopAfterDisconnectMs: 10_000 },
        'STOPPED',
        /lost contact .* 12 s/,
      ],
      [
        'no longer listed by the control plane',
        { released: true, silenceMs: 0, stopAfterDisconnectMs: 0 },
        'STOPPED',
        /no longer lists/,
      ],
    ];
  it.each(cases)('%s', (_what, context, status, reason) => {
    const out = effectiveDesired(desired, running, context);
    expect(out.desiredStatus).toBe(status);
    if (reason) expect(out.stoppedReason).toMatch(reason);
    if (status === 'RUNNING') expect(out).toBe(desired);
  });

  it('keeps the control plane’s own stop reason, and leaves a STOPPED task alone', () => {
    const told = {
      ...desired,
      desiredStatus: 'STOPPED' as const,
      stopCode: 'UserInitiated' as const,
      stoppedReason: 'by hand',
    };
    expect(
      effectiveDesired(told, running, { released: true, silenceMs: 0, stopAfterDisconnectMs: 0 }),
    ).toMatchObject({
      stopCode: 'UserInitiated',
      stoppedReason: 'by hand',
    });
    const done = { ...running, status: 'STOPPED' as const };
    expect(effectiveDesired(desired, done, { released: true, silenceMs: 0, stopAfterDisconnectMs: 0 })).toBe(
      desired,
    );
  });
});

describe('stepTask: the host policy refuses the task', () => {
  const reason =
    "HostPolicyRefused: this host does not allow privileged container 'web' (BOSUN_ALLOW_PRIVILEGED=1)";

  it('before anything is created: STOPPED TaskFailedToStart with the reason, no Docker call', () => {
    const out = stepTask({
      desired: desiredTask(
        taskDef([
          { name: 'web', privileged: true },
          { name: 'side', essential: false },
        ]),
      ),
      refusal: reason,
      record: newTaskRecord(TASK_ID, T0),
      observed: [],
      now: T0,
      settings: SETTINGS,
    });
    expect(out.actions).toEqual([]);
    expect(out.report).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
      stoppedReason: reason,
    });
    expect(out.report.containers.map((c) => c.lastStatus)).toEqual(['STOPPED', 'STOPPED']);
  });

  it('a task whose containers already exist (adopted after a restart) is not refused after the fact', () => {
    const record = newTaskRecord(TASK_ID, T0);
    record.containers.web = { createRequested: true, runtimeId: 'c-web' };
    const out = stepTask({
      desired: desiredTask(taskDef([{ name: 'web' }])),
      refusal: reason,
      record,
      observed: [observed('web', { state: 'running' })],
      now: T0,
      settings: SETTINGS,
    });
    expect(out.report.lastStatus).toBe('RUNNING');
  });
});
