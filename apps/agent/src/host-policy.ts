import type { DesiredTask } from '@bosun/model';
// The subpath: no zod schema is loaded for this (see docker/container-spec.ts).
import { escapesOf, type HostPolicy, refusalReason, refusedEscapes } from '@bosun/model/escapes';

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
