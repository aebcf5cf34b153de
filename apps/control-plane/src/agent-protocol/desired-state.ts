import { type ArnScope, arns, type DesiredStateResponse, type DesiredTask } from '@bosun/model';
import type { SecretBox } from '../auth/secret-box.ts';
import type { Db } from '../db/client.ts';
import { resolveRegistryAuth } from '../repositories/secrets.ts';
import { loadSpecs, revisionKey } from '../repositories/task-definitions.ts';
import { applyOverrides } from '../scheduling/inputs.ts';
import { desiredRows } from './statements.ts';

/**
 * What an instance should run: every task placed on it that it has not yet reported STOPPED, with the
 * task definition as the task runs it (containerOverrides applied). The version is read first, so the
 * tasks are never older than the version the agent is told.
 */
export async function desiredState(
  db: Db,
  scope: ArnScope,
  box: SecretBox,
  instanceId: string,
): Promise<DesiredStateResponse> {
  const rows = await desiredRows(db, instanceId);
  const specs = await loadSpecs(
    db,
    rows.flatMap((r) => (r.task === null ? [] : [r.task])),
  );
  const placed = rows.flatMap((r) => {
    const spec = r.task === null ? undefined : specs.get(revisionKey(r.task));
    return r.task === null || spec === undefined ? [] : [{ ...r.task, spec, clusterName: r.clusterName }];
  });
  // Registry credentials are resolved per spec: the agent gets them only for tasks placed on it.
  const auths = await Promise.all(placed.map((t) => resolveRegistryAuth(db, box, t.spec)));
  return {
    version: rows[0]?.version ?? 0,
    tasks: placed.map(
      (task, i): DesiredTask => ({
        taskArn: arns.task(scope, task.clusterName, task.id),
        taskId: task.id,
        clusterArn: arns.cluster(scope, task.clusterName),
        taskDefinitionArn: arns.taskDefinition(scope, task.family, task.revision),
        desiredStatus: task.desiredStatus,
        taskDefinition: applyOverrides(task.spec, task.overrides.containerOverrides),
        group: task.group,
        ...(auths[i] ? { registryAuth: auths[i] } : {}),
        ...(task.startedBy === null ? {} : { startedBy: task.startedBy }),
        ...(task.desiredStatus === 'STOPPED' && task.stopCode !== null ? { stopCode: task.stopCode } : {}),
        ...(task.desiredStatus === 'STOPPED' && task.stoppedReason !== null
          ? { stoppedReason: task.stoppedReason }
          : {}),
      }),
    ),
  };
}
