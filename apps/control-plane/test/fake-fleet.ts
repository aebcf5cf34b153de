import type { DesiredTask, TaskStateReport } from '@bosun/model';
import type { FakeAgent } from './fake-agent.ts';

/**
 * What a simulated host does with a task it is given: become RUNNING and HEALTHY, only RUNNING (no
 * health result), fail before ever running (TaskFailedToStart), or nothing at all (stays PROVISIONING).
 */
export type Fate = 'healthy' | 'running' | 'fail-start' | 'ignore';

/**
 * A fake agent's reconcile loop: long-polls its desired state (1 s), reports a new task per `fate`,
 * a task asked to stop as STOPPED, and heartbeats with every round. `stop()` makes the host fall
 * silent (its agent "dies"); `resume()` brings it back.
 */
export class AgentLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private version = -1;
  /** Last status reported per task id. */
  readonly reported = new Map<string, TaskStateReport['lastStatus']>();
  errors: unknown[] = [];

  /** Tasks asked to stop that this host does not report STOPPED yet (a slow shutdown). */
  holdStop: (task: DesiredTask) => boolean = () => false;

  constructor(
    readonly agent: FakeAgent,
    public fate: (task: DesiredTask) => Fate = () => 'healthy',
    /** Delay before a new task is reported (a host taking time to start it). */
    public startDelayMs = 0,
  ) {}

  get id(): string {
    return this.agent.id;
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.loop = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  resume(): this {
    return this.start();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const state = await this.agent.desired(this.version, 1);
        if (!this.running) break;
        this.version = state.version;
        const reports: TaskStateReport[] = [];
        for (const task of state.tasks) {
          const last = this.reported.get(task.taskId);
          if (task.desiredStatus === 'STOPPED') {
            if (last === 'STOPPED' || this.holdStop(task)) continue;
            reports.push(stopped(task, last === 'RUNNING'));
            continue;
          }
          if (last !== undefined) continue;
          const fate = this.fate(task);
          if (fate === 'ignore') continue;
          if (this.startDelayMs > 0) await new Promise((r) => setTimeout(r, this.startDelayMs));
          if (fate === 'fail-start')
            reports.push(stopped(task, false, 'CannotPullContainerError: no such image'));
          else reports.push(runningReport(task, fate === 'healthy' ? 'HEALTHY' : undefined));
        }
        // Always: it is the heartbeat too.
        await this.agent.report(reports);
        for (const r of reports) this.reported.set(r.taskId, r.lastStatus);
      } catch (err) {
        this.errors.push(err);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Reports a task of this host STOPPED by itself (a crash), as the real agent would. */
  async crash(taskId: string, exitCode = 1): Promise<void> {
    await this.agent.report([
      {
        taskId,
        lastStatus: 'STOPPED',
        containers: [],
        stopCode: 'EssentialContainerExited',
        stoppedReason: `Essential container in task exited (exit code ${exitCode})`,
      },
    ]);
    this.reported.set(taskId, 'STOPPED');
  }

  /** Reports a running task's health. */
  async health(taskId: string, healthStatus: 'HEALTHY' | 'UNHEALTHY'): Promise<void> {
    await this.agent.report([{ taskId, lastStatus: 'RUNNING', containers: [], healthStatus }]);
  }
}

function runningReport(task: DesiredTask, health: 'HEALTHY' | undefined): TaskStateReport {
  return {
    taskId: task.taskId,
    lastStatus: 'RUNNING',
    ...(health ? { healthStatus: health } : {}),
    containers: task.taskDefinition.containerDefinitions.map((c) => ({
      name: c.name,
      lastStatus: 'RUNNING' as const,
      runtimeId: `ctr-${task.taskId.slice(0, 8)}-${c.name}`,
      ...(health ? { healthStatus: health } : {}),
    })),
  };
}

function stopped(task: DesiredTask, ran: boolean, reason?: string): TaskStateReport {
  return {
    taskId: task.taskId,
    lastStatus: 'STOPPED',
    containers: task.taskDefinition.containerDefinitions.map((c) => ({
      name: c.name,
      lastStatus: 'STOPPED' as const,
      exitCode: ran ? 0 : 125,
      ...(reason ? { reason } : {}),
    })),
  };
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
