/** What placement is asked: the candidate instances, the constraints and the strategies. */
import type { ContainerInstanceStatus } from '@bosun/model';
import type { QueryAst, QueryTarget } from '../query/ast.ts';
import type { TaskRequirements } from './requirements.ts';

export interface CandidateInstance extends QueryTarget {
  /** Container instance ARN, reported in failures[]. */
  arn: string;
  status: ContainerInstanceStatus;
  remainingCpu: number;
  remainingMemory: number;
  /** `tcp:8080`, `udp:53`; includes the reserved ports (22, the agent's own). */
  usedPorts: ReadonlySet<string>;
}

export type PlacementConstraint = { type: 'distinctInstance' } | { type: 'memberOf'; expression: QueryAst };

/** `host` is the same as `instanceId`, as in ECS. */
export type SpreadField = 'instanceId' | 'host' | `attribute:${string}`;

export type PlacementStrategy =
  | { type: 'binpack'; field: 'cpu' | 'memory' }
  | { type: 'spread'; field: SpreadField }
  | { type: 'random' };

export interface PlacementRequest {
  task: TaskRequirements;
  count: number;
  constraints: readonly PlacementConstraint[];
  /** Empty means no preference: the lowest instance id wins. Service defaults are the caller's to add. */
  strategy: readonly PlacementStrategy[];
  /** Seeds the `random` strategy; taken as an unsigned 32-bit integer. */
  seed: number;
  /**
   * Tasks of `task.group` already on each instance (instanceId → count), for spread and distinctInstance.
   * An instance whose `taskGroups` holds the group counts at least one even when absent here.
   */
  existingGroupTasks?: ReadonlyMap<string, number>;
}
