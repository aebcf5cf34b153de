import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredTask } from '@bosun/model';
import type { HostPolicy } from '@bosun/model/escapes';
import type { Logger } from 'pino';
import { Backoff, LONG_POLL_BACKOFF } from './backoff.ts';
import { type ControlPlaneClient, ControlPlaneError } from './control-plane-client.ts';
import {
  type DockerController,
  DockerOperationError,
  type ImagePullBehavior,
  type ObservedContainer,
} from './docker/types.ts';
import { settleRefusal } from './host-policy.ts';
import {
  type AgentAction,
  effectiveDesired,
  isFullyCleanedUp,
  newTaskRecord,
  type StepSettings,
  stepTask,
  type TaskRecord,
} from './reconcile/step.ts';
import { ReportOutbox } from './reports/outbox.ts';
import type { TaskStore } from './task-store.ts';

export interface AgentSettings extends StepSettings {
  instanceId: string;
  hostIp: string;
  imagePullBehavior: ImagePullBehavior;
  /** Docker is listed again this often even without events (kubelet's relist). */
  relistIntervalMs: number;
  /** How long one desired-state long-poll may wait on the control plane. */
  longPollSeconds: number;
  /** Test hook for the fault suite: exit hard right after a container is created, before recording it. */
  crashAfterCreate?: boolean;
  /** Test hook: each full scan holds its list this long before using it, as a scan slowed by load. */
  scanDelayMs?: number;
  /**
   * Stop every task once the control plane has been unreachable this long; 0 (the default) never
   * does, so a control-plane outage is never a self-inflicted task outage.
   */
  stopTasksAfterDisconnectMs?: number;
  /** What tasks may reach on this host; absent = the default, which refuses every escape. */
  hostPolicy?: HostPolicy;
}

/** Containers as listed, and the tick their list was asked for at. */
interface Look {
  observed: ObservedContainer[];
  listedAt: number;
}

interface TaskEntry {
  desired: DesiredTask;
  record: TaskRecord;
  /** The task left the control plane's desired list: forget it once cleaned up. */
  released: boolean;
  /** The host policy's verdict (host-policy.ts), once asked: null = allowed. */
  refusal?: string | null;
}

/** Bounded so a stuck Docker call cannot spin a task forever inside one reconcile. */
const MAX_ROUNDS_PER_RECONCILE = 20;
const EVENT_COALESCE_MS = 25;

/**
 * The agent's I/O shell: desired tasks come from the control plane (long-poll), actual containers
 * from Docker (events plus a periodic relist); for each task `stepTask` decides, this class carries
 * out the Docker operations, keeps the records on disk and reports state back at-least-once.
 * Tasks reconcile independently, so a slow pull or a 30 s stop timeout holds up only its own task.
 */
export class Agent {
  readonly #tasks = new Map<string, TaskEntry>();
  readonly #busy = new Set<string>();
  readonly #again = new Set<string>();
  /** Reports on their way to the control plane: bounded, chunked, retried with back-off. */
  readonly #outbox: ReportOutbox;
  #version = 0;
  /**
   * Orders container lists against actions: a full scan's list can have been taken while a task was
   * still acting (before its create returned, say), and such a list is not used for that task.
   */
  #tick = 0;
  readonly #actedAt = new Map<string, number>();
  /** When the control plane last answered (desired state or a report). */
  #lastContact: number;
  /** False until the control plane first answered this process (#lastContact starts at the start). */
  #contacted = false;
  /** Docker as the last container list found it. */
  #docker: { reachable: boolean | undefined; checkedAt: number | undefined; error?: string } = {
    reachable: undefined,
    checkedAt: undefined,
  };
  /** True once this process has the control plane's list: only then are unknown containers orphans. */
  #authoritative = false;
  #stopping = false;
  #scheduled = false;
  #eventTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  readonly #timers: NodeJS.Timeout[] = [];
  #unwatch: (() => void) | undefined;
  #inFlight = new Set<Promise<void>>();
  readonly #pollBackoff = new Backoff(LONG_POLL_BACKOFF);

  constructor(
    private readonly docker: DockerController,
    private readonly client: ControlPlaneClient,
    private readonly store: TaskStore,
    private readonly log: Logger,
    private readonly settings: AgentSettings,
    private readonly clock: () => number = Date.now,
  ) {
    this.#lastContact = clock();
    this.#outbox = new ReportOutbox(client, log, () => this.noteContact());
  }

  async start(): Promise<void> {
    const saved = await this.store.load();
    this.#version = saved.version;
    for (const t of saved.tasks) this.#tasks.set(t.desired.taskId, { ...t, released: false });
    if (saved.tasks.length > 0)
      this.log.info({ tasks: saved.tasks.length }, 'resuming tasks from the state directory');
    this.#unwatch = this.docker.watchEvents(() => this.#scheduleAfterEvent());
    this.#timers.push(setInterval(() => this.schedule(), this.settings.relistIntervalMs));
    void this.#pollDesired();
    this.schedule();
  }

  /** Stops the loops; containers keep running (they are adopted on the next start). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort();
    this.#unwatch?.();
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#eventTimer);
    this.#outbox.stop();
    // Brief: a Docker stop may take its full timeout, and the records already make any cut-off safe.
    await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(3000)]);
    await this.#persist();
  }

  /** The control plane answered (e.g. a heartbeat): a long-poll in flight is not silence. */
  noteContact(): void {
    this.#lastContact = this.clock();
    this.#contacted = true;
  }

  /** What the loops know, for health.json (health.ts). */
  healthView() {
    return {
      lastContactAt: this.#contacted ? this.#lastContact : undefined,
      desiredStateFailures: this.#pollBackoff.failures,
      docker: { ...this.#docker },
      taskStatuses: [...this.#tasks.values()].map((t) => t.record.status),
      reports: {
        pending: this.#outbox.pending,
        dropped: this.#outbox.dropped,
        failures: this.#outbox.failures,
        lastError: this.#outbox.lastError,
      },
    };
  }

  /** Docker answered a list, or did not. */
  #noteDocker(error: unknown): void {
    this.#docker =
      error === undefined
        ? { reachable: true, checkedAt: this.clock() }
        : { reachable: false, checkedAt: this.clock(), error: (error as Error).message };
  }

  /** Asks for a reconcile of every task soon; bursts of events collapse into one. */
  schedule(): void {
    if (this.#scheduled || this.#stopping) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#track(this.#reconcileAll());
    });
  }

  /**
   * Docker events come in bursts (each create and start of 20 tasks starting together is one), and
   * most are the agent's own doing: one scan per EVENT_COALESCE_MS window sees them all.
   */
  #scheduleAfterEvent(): void {
    if (this.#eventTimer || this.#stopping) return;
    this.#eventTimer = setTimeout(() => {
      this.#eventTimer = undefined;
      this.schedule();
    }, EVENT_COALESCE_MS);
  }

  #track(p: Promise<void>): void {
    const wrapped = p.catch((e: unknown) => this.log.error({ err: e }, 'reconcile failed'));
    this.#inFlight.add(wrapped);
    void wrapped.finally(() => this.#inFlight.delete(wrapped));
  }

  /** Long-polls back to back while it works; after a failure, waits a jittered, capped back-off. */
  async #pollDesired(): Promise<void> {
    while (!this.#stopping) {
      try {
        const res = await this.client.desired(
          this.#version,
          this.settings.longPollSeconds,
          this.#abort.signal,
        );
        this.noteContact();
        if (this.#pollBackoff.failures > 0) this.log.info('control plane reachable again');
        this.#pollBackoff.reset();
        this.#applyDesired(res.version, res.tasks);
      } catch (e) {
        if (this.#stopping) return;
        const delay = this.#pollBackoff.fail();
        const failures = this.#pollBackoff.failures;
        const fatal = e instanceof ControlPlaneError && !e.retryable;
        if (fatal || failures === 1 || failures % 10 === 0) {
          this.log.warn(
            { err: (e as Error).message, failures, retryInMs: delay },
            'cannot fetch desired tasks; running tasks keep running',
          );
        }
        await sleep(delay, undefined, { signal: this.#abort.signal }).catch(() => {});
      }
    }
  }

  #applyDesired(version: number, tasks: DesiredTask[]): void {
    const listed = new Set<string>();
    for (const desired of tasks) {
      listed.add(desired.taskId);
      const entry = this.#tasks.get(desired.taskId);
      if (entry) {
        entry.desired = desired;
        entry.released = false;
      } else {
        this.#tasks.set(desired.taskId, {
          desired,
          record: newTaskRecord(desired.taskId, this.clock()),
          released: false,
        });
      }
    }
    for (const [taskId, entry] of this.#tasks) {
      if (!listed.has(taskId)) entry.released = true;
    }
    this.#version = version;
    this.#authoritative = true;
    void this.#persist();
    this.schedule();
  }

  async #reconcileAll(): Promise<void> {
    let observed: ObservedContainer[];
    const listedAt = ++this.#tick;
    try {
      observed = await this.docker.listTaskContainers(this.settings.instanceId);
      this.#noteDocker(undefined);
    } catch (e) {
      this.#noteDocker(e);
      this.log.warn({ err: (e as Error).message }, 'cannot list containers; Docker unreachable?');
      return;
    }
    if (this.settings.scanDelayMs) await sleep(this.settings.scanDelayMs);
    const byTask = groupByTask(observed);
    for (const taskId of this.#tasks.keys()) {
      this.#reconcileTask(taskId, { observed: byTask.get(taskId) ?? [], listedAt });
    }
    if (this.#authoritative) {
      for (const [taskId, containers] of byTask) {
        // Busy while it runs, so the scans that its own stops and removals cause do not repeat it.
        if (!this.#tasks.has(taskId) && !this.#busy.has(taskId)) {
          this.#exclusive(taskId, () => this.#removeOrphans(taskId, containers));
        }
      }
    }
  }

  /**
   * Runs the task's reconcile unless one is running; then it runs once more after it, on a look
   * of its own (only that task's containers: a full scan for each would grow with the task count).
   */
  #reconcileTask(taskId: string, look?: Look): void {
    if (this.#busy.has(taskId)) {
      this.#again.add(taskId);
      return;
    }
    this.#exclusive(taskId, () => this.#lookAndRun(taskId, look));
  }

  /** Runs work for a task with it marked busy; a reconcile asked for meanwhile runs after it. */
  #exclusive(taskId: string, work: () => Promise<void>): void {
    this.#busy.add(taskId);
    this.#track(
      work().finally(() => {
        this.#busy.delete(taskId);
        if (this.#again.delete(taskId)) this.#reconcileTask(taskId);
      }),
    );
  }

  async #lookAndRun(taskId: string, scanned?: Look): Promise<void> {
    // A scan's list taken while the task was still acting may not show what it created (read as
    // "vanished": a false EssentialContainerExited) or started: then the task looks again.
    const stale = scanned === undefined || (this.#actedAt.get(taskId) ?? 0) > scanned.listedAt;
    const look = stale ? await this.#look(taskId) : scanned;
    if (look) await this.#runTask(taskId, look.observed);
  }

  /** Only this task's containers. */
  async #look(taskId: string): Promise<Look | undefined> {
    const listedAt = ++this.#tick;
    try {
      return { observed: await this.docker.listTaskContainers(this.settings.instanceId, taskId), listedAt };
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot list containers');
      return undefined;
    }
  }

  async #runTask(taskId: string, listed: ObservedContainer[]): Promise<void> {
    let observed = listed;
    for (let round = 0; round < MAX_ROUNDS_PER_RECONCILE && !this.#stopping; round++) {
      const entry = this.#tasks.get(taskId);
      if (!entry) return;
      const desired = effectiveDesired(entry.desired, entry.record, {
        released: entry.released,
        silenceMs: this.clock() - this.#lastContact,
        stopAfterDisconnectMs: this.settings.stopTasksAfterDisconnectMs ?? 0,
      });
      const before = entry.record.status;
      if (!(await settleRefusal(entry, this.settings.hostPolicy, this.docker, this.log))) return;
      const out = stepTask({
        desired,
        ...(entry.refusal ? { refusal: entry.refusal } : {}),
        record: entry.record,
        observed,
        now: this.clock(),
        settings: this.settings,
      });
      entry.record = out.record;
      if (out.record.status !== before) {
        this.log.info(
          { taskId, transition: `${before}->${out.record.status}`, stopCode: out.record.stopCode },
          'task',
        );
      }
      this.#outbox.queue(out.report);
      if (entry.released && isFullyCleanedUp(entry.record, observed)) {
        this.#tasks.delete(taskId);
        this.#outbox.forget(taskId);
        this.#actedAt.delete(taskId);
        await this.#persist();
        return;
      }
      if (out.actions.length === 0) {
        await this.#persist();
        return;
      }
      for (const action of out.actions) await this.#execute(entry, action, observed);
      // Ticked once the actions are done: only a list begun after this shows what they did.
      this.#actedAt.set(taskId, ++this.#tick);
      await this.#persist();
      const look = await this.#look(taskId);
      if (!look) return;
      observed = look.observed;
    }
  }

  async #execute(entry: TaskEntry, action: AgentAction, observed: ObservedContainer[]): Promise<void> {
    const { desired, record } = entry;
    const log = this.log.child({ taskId: desired.taskId });
    if (action.kind === 'removeTaskResources') {
      await this.#dockerCall(log, action, async () => {
        await this.docker.removeTaskResources(desired.taskId);
        record.resourcesRemoved = true;
      });
      return;
    }
    const def = desired.taskDefinition.containerDefinitions.find((c) => c.name === action.container);
    record.containers[action.container] ??= {};
    const rec = record.containers[action.container] ?? {};
    const id = observed.find((c) => c.containerName === action.container)?.id ?? rec.runtimeId;
    if (!def) return;
    switch (action.kind) {
      case 'run': {
        // Name before create: if we crash inside create, the next start finds the container by name.
        rec.createRequested = true;
        await this.#persist();
        await this.#dockerCall(
          log,
          action,
          async () => {
            record.pullStartedAt ??= this.clock();
            await this.docker.ensureImage(
              def.image,
              this.settings.imagePullBehavior,
              desired.registryAuth?.[def.name],
            );
            record.pullStoppedAt ??= this.clock();
            const created = await this.docker.createContainer(desired, def, {
              instanceId: this.settings.instanceId,
              hostIp: this.settings.hostIp,
            });
            if (this.settings.crashAfterCreate) {
              log.warn('BOSUN_AGENT_CRASH_AFTER_CREATE: exiting between create and record');
              process.kill(process.pid, 'SIGKILL');
            }
            rec.runtimeId = created.id;
            await this.docker.startContainer(created.id);
          },
          rec,
        );
        return;
      }
      case 'start':
        if (id) await this.#dockerCall(log, action, () => this.docker.startContainer(id), rec);
        return;
      case 'stop':
        if (id)
          await this.#dockerCall(log, action, () => this.docker.stopContainer(id, action.timeoutSeconds));
        return;
      case 'remove':
        if (id) {
          await this.#dockerCall(log, action, async () => {
            await this.docker.removeContainer(id);
            rec.removed = true;
          });
        }
        return;
    }
  }

  /**
   * Runs one Docker operation. A refusal (bad image, port taken…) is recorded on the container, so the
   * step function fails the task with Docker's reason; an unreachable Docker is retried next round.
   */
  async #dockerCall(
    log: Logger,
    action: AgentAction,
    op: () => Promise<void>,
    rec?: { failure?: string },
  ): Promise<void> {
    try {
      await op();
    } catch (e) {
      const retryable = !(e instanceof DockerOperationError) || e.retryable;
      const reason = e instanceof DockerOperationError ? e.reason : (e as Error).message;
      log.warn({ action, reason, retryable }, 'docker operation failed');
      if (!retryable && rec) rec.failure = reason;
      if (retryable) await sleep(500);
    }
  }

  async #removeOrphans(taskId: string, containers: ObservedContainer[]): Promise<void> {
    this.log.warn(
      { taskId, containers: containers.map((c) => c.name) },
      'removing containers of a task nobody knows',
    );
    for (const c of containers) {
      try {
        await this.docker.stopContainer(c.id, this.settings.defaultStopTimeoutSeconds);
        await this.docker.removeContainer(c.id);
      } catch (e) {
        this.log.warn({ err: (e as Error).message, container: c.name }, 'could not remove orphan');
      }
    }
    await this.docker.removeTaskResources(taskId).catch(() => {});
  }

  #persist(): Promise<void> {
    return this.store
      .save({
        version: this.#version,
        tasks: [...this.#tasks.values()].map(({ desired, record }) => ({ desired, record })),
      })
      .catch((e: unknown) => this.log.error({ err: e }, 'cannot write the state directory'));
  }
}

function groupByTask(containers: ObservedContainer[]): Map<string, ObservedContainer[]> {
  const out = new Map<string, ObservedContainer[]>();
  for (const c of containers) {
    const list = out.get(c.taskId);
    if (list) list.push(c);
    else out.set(c.taskId, [c]);
  }
  return out;
}
