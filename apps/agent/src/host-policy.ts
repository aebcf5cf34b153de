import type { DesiredTask } from '@bosun/model';
// The subpath: no zod schema is loaded for this (see docker/container-spec.ts).
import {
  DEFAULT_HOST_POLICY,
  escapesOf,
  type HostPolicy,
  refusalReason,
  refusedEscapes,
} from '@bosun/model/escapes';
import type { Logger } from 'pino';
import type { DockerController } from './docker/types.ts';
import { anythingCreated, type TaskRecord } from './reconcile/step.ts';

/**
 * The host's verdict on a task, before any of its containers is created: undefined when it may run
 * here, else the stoppedReason naming what the host refuses and the setting that would allow it.
 * The decision is refusedEscapes (pure, table-tested in @bosun/model); the only I/O is asking Docker
 * which shared volumes bosun made, and only when the task names one and the host does not allow all.
 */
export async function hostRefusal(
  desired: DesiredTask,
  policy: HostPolicy,
  bosunVolumes: (names: string[]) => Promise<Set<string>>,
): Promise<string | undefined> {
  const escapes = escapesOf(desired.taskDefinition);
  if (escapes.length === 0) return undefined;
  const shared = escapes.filter((e) => e.kind === 'sharedVolume').map((e) => e.detail);
  const effective =
    shared.length > 0 && !policy.allowSharedVolumes
      ? { ...policy, bosunVolumes: await bosunVolumes(shared) }
      : policy;
  const refused = refusedEscapes(escapes, effective);
  return refused.length === 0 ? undefined : refusalReason(refused);
}

/**
 * Fills `entry.refusal` (null = allowed) once, before anything of the task is created; a task whose
 * containers exist already (adopted after a restart) is not judged after the fact. False when Docker
 * could not be asked: the caller skips the task this round, and the next relist asks again.
 */
export async function settleRefusal(
  entry: { desired: DesiredTask; record: TaskRecord; refusal?: string | null },
  policy: HostPolicy | undefined,
  docker: Pick<DockerController, 'bosunVolumes'>,
  log: Logger,
): Promise<boolean> {
  if (entry.refusal !== undefined || anythingCreated(entry.record)) return true;
  try {
    const verdict = await hostRefusal(entry.desired, policy ?? DEFAULT_HOST_POLICY, (n) =>
      docker.bosunVolumes(n),
    );
    entry.refusal = verdict ?? null;
    return true;
  } catch (e) {
    log.warn(
      { taskId: entry.desired.taskId, err: (e as Error).message },
      'cannot check the task against the host policy',
    );
    return false;
  }
}
