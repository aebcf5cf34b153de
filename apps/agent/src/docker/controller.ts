import type { ContainerDefinition, DesiredTask } from '@bosun/model';
import type Dockerode from 'dockerode';
import {
  buildContainerSpec,
  buildNetworkContainerSpec,
  type ContainerSpec,
  LABEL,
  NETWORK_ROLE,
  type VolumeRequirement,
  volumeRequirements,
} from './container-spec.ts';
import { dockerMessage, isDockerUnreachable, operationError, statusCodeOf } from './errors.ts';
import { watchDockerEvents } from './events.ts';
import { normalizeImageRef, registryServerAddress } from './image-ref.ts';
import { onJsonLines, streamFinished } from './json-lines.ts';
import { type ContainerSummary, ObservationCache } from './observation-cache.ts';
import { type InspectedContainer, isSharedNamespace, toObservedContainer } from './observe.ts';
import {
  type CreateContext,
  type DockerController,
  DockerOperationError,
  type ImagePullBehavior,
  type ObservedContainer,
} from './types.ts';

export interface DockerControllerOptions {
  /** Image of the awsvpc namespace holder; it must have `sleep`. Used from cache when present. */
  networkImage?: string;
  /** A pull that shows no progress for this long is abandoned (ECS's pull inactivity timeout). */
  pullInactivityTimeoutMs?: number;
  /** Reconnect back-off of the event watch. */
  eventsBackoffMs?: { initial: number; max: number };
}

export const DEFAULT_NETWORK_IMAGE = 'bosun/busybox:latest';
export const DEFAULT_PULL_INACTIVITY_TIMEOUT_MS = 60_000;
/** The longest an inspect is reused while the event watch is live (see ObservationCache). */
const OBSERVATION_MAX_AGE_MS = 30_000;

type Auth = { username: string; password: string };

export function createDockerController(
  docker: Dockerode,
  options: DockerControllerOptions = {},
): DockerController {
  const networkImage = options.networkImage ?? DEFAULT_NETWORK_IMAGE;
  const pullTimeoutMs = options.pullInactivityTimeoutMs ?? DEFAULT_PULL_INACTIVITY_TIMEOUT_MS;
  // ECS's 'once' is per agent lifetime: images this process has pulled successfully.
  const pulledOnce = new Set<string>();
  // Pulls under way, by image and credentials: the tasks of a service starting together share one pull
  // (one registry round trip a wave, not one a task; an unreachable registry is waited on once).
  const pullsInFlight = new Map<string, Promise<void>>();
  const observations = new ObservationCache(OBSERVATION_MAX_AGE_MS);
  let liveWatches = 0;

  async function inspect(idOrName: string): Promise<InspectedContainer> {
    return docker.getContainer(idOrName).inspect();
  }

  async function observe(idOrName: string): Promise<ObservedContainer> {
    const info = await inspect(idOrName);
    return toObservedContainer(info, await networkHolderOf(info));
  }

  /** A listed container's observation: the cached one while it holds, else a fresh inspect. */
  async function observeListed(summary: ContainerSummary): Promise<ObservedContainer> {
    const cached = observations.lookup(summary);
    if (cached) return cached;
    const generation = observations.generation(summary.Id);
    const info = await inspect(summary.Id);
    const holder = await networkHolderOf(info);
    const observed = toObservedContainer(info, holder);
    observations.store(observed, generation, holder?.Id);
    return observed;
  }

  async function networkHolderOf(info: InspectedContainer): Promise<InspectedContainer | undefined> {
    if (!isSharedNamespace(info)) return undefined;
    const target = (info.HostConfig.NetworkMode ?? '').slice('container:'.length);
    return inspect(target).catch(() => undefined);
  }

  async function isCached(image: string): Promise<boolean> {
    try {
      await docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusCodeOf(err) === 404) return false;
      throw operationError('CannotPullContainerError', err);
    }
  }

  function pull(image: string, auth: Auth | undefined): Promise<void> {
    const key = JSON.stringify([image, auth?.username, auth?.password]);
    const shared = pullsInFlight.get(key);
    if (shared) return shared;
    const pulling = pullFromRegistry(image, auth).finally(() => pullsInFlight.delete(key));
    pullsInFlight.set(key, pulling);
    return pulling;
  }

  async function pullFromRegistry(image: string, auth: Auth | undefined): Promise<void> {
    const authconfig = auth ? { ...auth, serveraddress: registryServerAddress(image) } : undefined;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), pullTimeoutMs);
    };
    rearm();
    try {
      const stream = await docker.createImage(authconfig, { fromImage: image, abortSignal: abort.signal });
      let streamError: string | undefined;
      onJsonLines(stream, (event) => {
        rearm();
        streamError ??= pullEventError(event);
      });
      await streamFinished(stream);
      if (abort.signal.aborted) throw abortedPull(image, pullTimeoutMs);
      if (streamError !== undefined)
        throw new DockerOperationError(`CannotPullContainerError: ${streamError}`, false);
      pulledOnce.add(image);
    } catch (err) {
      if (abort.signal.aborted) throw abortedPull(image, pullTimeoutMs);
      throw operationError('CannotPullContainerError', err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Pulls; when that fails for a reason other than Docker being down, a cached copy will do. */
  async function pullOrUseCache(image: string, auth: Auth | undefined): Promise<{ pulled: boolean }> {
    try {
      await pull(image, auth);
      return { pulled: true };
    } catch (err) {
      if (isDockerUnreachable(err) || !(await isCached(image))) throw err;
      return { pulled: false };
    }
  }

  async function ensureImage(
    image: string,
    behavior: ImagePullBehavior,
    auth?: Auth,
  ): Promise<{ pulled: boolean }> {
    const ref = normalizeImageRef(image);
    switch (behavior) {
      case 'always':
        await pull(ref, auth);
        return { pulled: true };
      case 'prefer-cached':
        if (await isCached(ref)) return { pulled: false };
        await pull(ref, auth);
        return { pulled: true };
      case 'once':
        if (pulledOnce.has(ref) && (await isCached(ref))) return { pulled: false };
        return pullOrUseCache(ref, auth);
      default:
        return pullOrUseCache(ref, auth);
    }
  }

  /** Creates under the deterministic name; a 409 means an earlier attempt did, so that one is adopted. */
  async function createOrAdopt(spec: ContainerSpec): Promise<string> {
    try {
      const created = await docker.createContainer({ ...spec.options, name: spec.name });
      return created.id;
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw operationError('CannotCreateContainerError', err);
      const existing = await inspect(spec.name).catch((e: unknown) => {
        throw operationError('CannotCreateContainerError', e);
      });
      return existing.Id;
    }
  }

  async function ensureVolume(requirement: VolumeRequirement): Promise<void> {
    const name = requirement.options.Name;
    if (requirement.create) {
      // Volume create is idempotent in Docker: an existing volume of that name is returned as is.
      await docker.createVolume(requirement.options);
      return;
    }
    try {
      await docker.getVolume(name).inspect();
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
      throw new DockerOperationError(
        `CannotCreateContainerError: shared volume '${name}' does not exist and autoprovision is not set`,
        false,
      );
    }
  }

  async function bosunVolumes(names: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const name of new Set(names)) {
      try {
        const volume = (await docker.getVolume(name).inspect()) as { Labels?: Record<string, string> | null };
        // A shared volume bosun made; not another task's task-scoped one, which carries bosun's label too.
        const labels = volume.Labels ?? {};
        if (labels[LABEL.managed] === 'true' && labels[LABEL.volumeScope] === 'shared') out.add(name);
      } catch (err) {
        if (statusCodeOf(err) !== 404) throw operationError('CannotInspectVolumeError', err);
        out.add(name);
      }
    }
    return out;
  }

  async function ensureTaskNetwork(task: DesiredTask, ctx: CreateContext): Promise<void> {
    await ensureImage(networkImage, 'prefer-cached');
    const id = await createOrAdopt(buildNetworkContainerSpec(task, ctx, networkImage));
    try {
      await docker.getContainer(id).start();
    } catch (err) {
      if (statusCodeOf(err) !== 304) throw operationError('CannotStartContainerError', err);
    }
  }

  async function createContainer(
    task: DesiredTask,
    container: ContainerDefinition,
    ctx: CreateContext,
  ): Promise<ObservedContainer> {
    try {
      if (task.taskDefinition.networkMode === 'awsvpc') await ensureTaskNetwork(task, ctx);
      for (const v of volumeRequirements(task, container, ctx)) await ensureVolume(v);
      const id = await createOrAdopt(buildContainerSpec(task, container, ctx));
      return await observe(id);
    } catch (err) {
      throw operationError('CannotCreateContainerError', err);
    }
  }

  async function listTaskContainers(instanceId: string, taskId?: string): Promise<ObservedContainer[]> {
    try {
      const label = [`${LABEL.instanceId}=${instanceId}`];
      if (taskId !== undefined) label.push(`${LABEL.taskId}=${taskId}`);
      const summaries = await docker.listContainers({ all: true, filters: { label } });
      const task = summaries.filter((s) => s.Labels[LABEL.role] !== NETWORK_ROLE);
      if (taskId === undefined) observations.retainOnly(new Set(summaries.map((s) => s.Id)));
      const observed = await Promise.all(task.map((s) => observeListed(s).catch(ignoreGone)));
      return observed.filter((o): o is ObservedContainer => o !== undefined);
    } catch (err) {
      throw operationError('CannotListContainersError', err);
    }
  }

  async function startContainer(id: string): Promise<void> {
    observations.invalidate(id);
    try {
      await startNetworkHolderOf(id);
      await docker.getContainer(id).start();
    } catch (err) {
      if (statusCodeOf(err) === 304) return;
      throw operationError('CannotStartContainerError', err);
    }
  }

  /**
   * An awsvpc container cannot start while its namespace holder is stopped (after a daemon or host
   * restart, say); the holder is restarted first so an in-place restart of the task's container works.
   */
  async function startNetworkHolderOf(id: string): Promise<void> {
    const info = await inspect(id);
    if (!isSharedNamespace(info)) return;
    const holder = (info.HostConfig.NetworkMode ?? '').slice('container:'.length);
    await docker
      .getContainer(holder)
      .start()
      .catch((err: unknown) => {
        if (statusCodeOf(err) !== 304) throw err;
      });
  }

  async function stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    observations.invalidate(id);
    try {
      await docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (err) {
      const status = statusCodeOf(err);
      if (status === 304 || status === 404) return;
      throw operationError('CannotStopContainerError', err);
    }
  }

  async function removeContainer(id: string): Promise<void> {
    observations.invalidate(id);
    try {
      await docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      if (isGoneOrGoing(err)) return;
      throw operationError('CannotRemoveContainerError', err);
    }
  }

  async function removeTaskResources(taskId: string): Promise<void> {
    try {
      const holders = await docker.listContainers({
        all: true,
        filters: { label: [`${LABEL.taskId}=${taskId}`, `${LABEL.role}=${NETWORK_ROLE}`] },
      });
      for (const h of holders) await removeContainer(h.Id);
      const { Volumes } = await docker.listVolumes({
        filters: { label: [`${LABEL.taskId}=${taskId}`, `${LABEL.volumeScope}=task`] },
      });
      for (const v of Volumes ?? []) {
        await docker
          .getVolume(v.Name)
          .remove()
          .catch((err: unknown) => {
            if (statusCodeOf(err) !== 404) throw err;
          });
      }
    } catch (err) {
      throw operationError('CannotRemoveTaskResourcesError', err);
    }
  }

  return {
    listTaskContainers,
    ensureImage,
    createContainer,
    startContainer,
    stopContainer,
    removeContainer,
    removeTaskResources,
    bosunVolumes,
    watchEvents: (onChange) =>
      watchDockerEvents(
        docker,
        (id, action) => {
          observations.invalidate(id);
          onChange(id, action);
        },
        options.eventsBackoffMs,
        (live) => {
          liveWatches = Math.max(0, liveWatches + (live ? 1 : -1));
          observations.setLive(liveWatches > 0);
        },
      ),
  };
}

function pullEventError(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || !('error' in event)) return undefined;
  return typeof event.error === 'string' ? event.error : dockerMessage(event);
}

function abortedPull(image: string, timeoutMs: number): DockerOperationError {
  return new DockerOperationError(
    `CannotPullContainerError: pulling ${image} made no progress for ${Math.round(timeoutMs / 1000)} s`,
    false,
  );
}

function ignoreGone(err: unknown): undefined {
  // Removed between the list and the inspect: it is simply not there any more.
  if (statusCodeOf(err) === 404) return undefined;
  throw err;
}

function isGoneOrGoing(err: unknown): boolean {
  const status = statusCodeOf(err);
  return status === 404 || (status === 409 && /already in progress/i.test(dockerMessage(err)));
}
