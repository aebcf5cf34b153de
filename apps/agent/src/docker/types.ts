import type { ContainerDefinition, DesiredTask, NetworkBinding } from '@bosun/model';

/**
 * The contract between the agent's reconcile loop and Docker. The loop decides (pure, see
 * reconcile/step.ts); the controller only carries out one idempotent operation at a time.
 */

/** Docker's container states. */
export type DockerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** One container bosun made, as Docker reports it (found by the `bosun.*` labels). */
export interface ObservedContainer {
  /** Docker's id. */
  id: string;
  /** Docker's name without the leading '/': `bosun-<taskId>-<containerName>`. */
  name: string;
  taskId: string;
  /** The container definition's name. */
  containerName: string;
  state: DockerState;
  exitCode?: number;
  oomKilled: boolean;
  /** Docker's State.Error, when it could not start the process. */
  error?: string;
  /** Epoch ms; undefined while Docker shows its zero time. */
  startedAt?: number;
  finishedAt?: number;
  /** Docker health, when the container has a healthcheck. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** Published ports with the host ports Docker actually bound. */
  networkBindings: NetworkBinding[];
  /** The image digest or id the container runs. */
  imageId: string;
}

/** ECS image pull behaviours (ECS_IMAGE_PULL_BEHAVIOR). */
export type ImagePullBehavior = 'default' | 'always' | 'once' | 'prefer-cached';

/** What every create needs besides the task and the container definition. */
export interface CreateContext {
  /** This agent's container instance id: a label, so an agent manages only its own containers. */
  instanceId: string;
  /** Host address published ports bind to. */
  hostIp: string;
}

/**
 * A failed Docker operation, with the reason ECS shows on the container
 * (`CannotPullContainerError: …`, `CannotCreateContainerError: …`, `CannotStartContainerError: …`).
 * `retryable` is true when Docker itself was unreachable, false when the request was refused.
 */
export class DockerOperationError extends Error {
  constructor(
    readonly reason: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

export interface DockerController {
  /**
   * Every container carrying `bosun.instance-id=<instanceId>` (and `bosun.task-id=<taskId>` when
   * given), stopped ones included. Each is inspected, so one task's look is not paid for every task.
   */
  listTaskContainers(instanceId: string, taskId?: string): Promise<ObservedContainer[]>;
  /**
   * Makes the image available under the behaviour; resolves with whether a pull happened.
   * `default`: pull, and fall back to a cached copy when the pull fails. Throws DockerOperationError
   * (`CannotPullContainerError: …`) when no usable image results.
   */
  ensureImage(
    image: string,
    behavior: ImagePullBehavior,
    auth?: { username: string; password: string },
  ): Promise<{ pulled: boolean }>;
  /**
   * Creates the container with its deterministic name. A name conflict means an earlier attempt
   * (maybe before a crash) created it already: that container is returned, never a second one.
   * For awsvpc tasks it first ensures the task's network container (see ensureTaskNetwork).
   */
  createContainer(
    task: DesiredTask,
    container: ContainerDefinition,
    ctx: CreateContext,
  ): Promise<ObservedContainer>;
  /** Already running counts as success. */
  startContainer(id: string): Promise<void>;
  /** SIGTERM (or the image's stop signal), wait timeoutSeconds, SIGKILL. Already stopped or gone is success. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** Gone already is success. Removes anonymous volumes too. */
  removeContainer(id: string): Promise<void>;
  /**
   * Of these named volumes, the ones a task may share without BOSUN_ALLOW_SHARED_VOLUMES: shared volumes
   * bosun made (`bosun.managed=true`, `bosun.volume-scope=shared`), and those that do not exist yet
   * (bosun creates them so labelled). Another task's task-scoped volume is not one of them.
   */
  bosunVolumes(names: readonly string[]): Promise<Set<string>>;
  /** Removes what a task had besides its containers (the awsvpc network container, task-scoped volumes). */
  removeTaskResources(taskId: string): Promise<void>;
  /**
   * Calls back on every container event of bosun's containers (start, die, health_status, oom,
   * destroy…) until the returned function is called; reconnects by itself when the stream breaks.
   */
  watchEvents(onChange: (containerId: string, action: string) => void): () => void;
}
