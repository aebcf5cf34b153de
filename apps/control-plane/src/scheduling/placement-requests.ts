/**
 * RunTask/StartTask requests → placeBatch's input, and its result → each request's outcome. Pure; the
 * placement worker (workers/placement.ts) loads the rows and applies the plan.
 */
import { type ArnScope, arns, type TaskDefinitionSpec } from '@bosun/model';
import type { BatchRequest, BatchResult, TaskRequirements } from '@bosun/scheduler';
import type { PlacementOutcome } from '../db/schema/index.ts';
import type { PlacementRequestRow } from '../repositories/placement-requests.ts';
import { applyOverrides, compileStoredConstraints, requirementsOf } from './inputs.ts';

/** A PENDING request as the batch plans it; `outcome` set means it is answered without placing. */
export interface PreparedRequest {
  row: PlacementRequestRow;
  /** The task definition as its tasks run it (containerOverrides applied). */
  definition?: TaskDefinitionSpec;
  requirements?: TaskRequirements;
  batch?: BatchRequest;
  distinctInstance: boolean;
  outcome?: PlacementOutcome;
}

/** The same request always replays the same decisions (random strategy included). */
export const seedOf = (requestId: string): number =>
  Number.parseInt(requestId.replace(/-/g, '').slice(0, 8), 16);

/** An outcome of failures only, naming the cluster (MISSING, as ECS reports what it cannot find). */
export function clusterFailure(scope: ArnScope, clusterName: string, detail: string): PlacementOutcome {
  return { taskIds: [], failures: [{ arn: arns.cluster(scope, clusterName), reason: 'MISSING', detail }] };
}

/**
 * One request as placeBatch takes it. A request that cannot be planned (its revision or a stored
 * expression unreadable: a bug, not bad input, since RunTask checked both) gets a failure outcome of
 * its own rather than failing the batch, so one bad row cannot hold up a cluster's placements.
 */
export function prepareRequest(
  row: PlacementRequestRow,
  stored: TaskDefinitionSpec | undefined,
  scope: ArnScope,
  clusterName: string,
): PreparedRequest {
  const fail = (detail: string): PreparedRequest => ({
    row,
    distinctInstance: false,
    outcome: clusterFailure(scope, clusterName, detail),
  });
  if (stored === undefined) return fail(`task definition ${row.spec.family}:${row.spec.revision} is missing`);
  const definition = applyOverrides(stored, row.spec.containerOverrides);
  const requirements = requirementsOf(definition, row.spec.group);
  if (row.spec.containerInstanceIds) {
    return {
      row,
      definition,
      requirements,
      distinctInstance: false,
      batch: { kind: 'start', task: requirements, instanceIds: row.spec.containerInstanceIds },
    };
  }
  let constraints: ReturnType<typeof compileStoredConstraints>;
  try {
    constraints = compileStoredConstraints(row.spec.constraints);
  } catch (err) {
    return fail((err as Error).message);
  }
  return {
    row,
    definition,
    requirements,
    distinctInstance: row.spec.constraints.some((c) => c.type === 'distinctInstance'),
    batch: {
      kind: 'run',
      request: {
        task: requirements,
        count: row.spec.count,
        constraints,
        strategy: row.spec.strategy,
        seed: seedOf(row.id),
      },
    },
  };
}

/** RunTask's tasks and failures; StartTask's failures in the order its instances were named. */
export function outcomeOf(
  p: PreparedRequest,
  plan: BatchResult | undefined,
  taskIds: readonly string[],
  scope: ArnScope,
  clusterName: string,
): PlacementOutcome {
  if (p.outcome !== undefined) return p.outcome;
  const failures: PlacementOutcome['failures'] = [
    ...(plan?.missingInstanceIds ?? []).map((id) => ({
      arn: arns.containerInstance(scope, clusterName, id),
      reason: 'MISSING' as const,
    })),
    ...(plan?.failures ?? []).map((f) => ({
      arn: f.arn,
      reason: f.reason,
      detail: `${f.detail}. ${plan?.explanation ?? ''}`,
    })),
  ];
  const named = p.row.spec.containerInstanceIds;
  if (named !== undefined) {
    const position = (arn: string) => named.indexOf(arn.slice(arn.lastIndexOf('/') + 1));
    failures.sort((a, b) => position(a.arn) - position(b.arn));
  }
  return { taskIds: [...taskIds], failures };
}
