import { PRIVILEGED_TASK_DEFINITION_ACTION } from '../auth/policy.ts';
import {
  CreateAccessKey,
  DeleteAccessKey,
  ListAccessKeys,
  PutAccessKeyPolicy,
  UpdateAccessKey,
} from './access-keys.ts';
import type { Action } from './action.ts';
import { DeleteAttributes, ListAttributes, PutAttributes } from './attributes.ts';
import { ListAuditEvents } from './audit.ts';
import { CreateCluster, DeleteCluster, DescribeClusters, ListClusters } from './clusters.ts';
import {
  DeregisterContainerInstance,
  DescribeContainerInstances,
  ListContainerInstances,
  UpdateContainerInstancesState,
} from './container-instances.ts';
import { CreateJoinToken, ListJoinTokens, RevokeJoinToken } from './join-tokens.ts';
import { DeleteSecret, ListSecrets, PutSecret } from './secrets.ts';
import { CreateService, DeleteService, DescribeServices, ListServices, UpdateService } from './services.ts';
import { ListTagsForResource, TagResource, UntagResource } from './tags.ts';
import {
  DeregisterTaskDefinition,
  DescribeTaskDefinition,
  ListTaskDefinitionFamilies,
  ListTaskDefinitions,
  RegisterTaskDefinition,
} from './task-definitions.ts';
import { DescribeTasks, ListTasks, RunTask, StartTask, StopTask } from './tasks.ts';

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';
/** bosun's own operations (join tokens…) share the endpoint and SigV4, under their own prefix. */
export const BOSUN_TARGET_PREFIX = 'BosunV1';

/** Every ECS action bosun serves, by its wire name. */
export const actions: Readonly<Record<string, Action>> = {
  CreateCluster,
  DescribeClusters,
  ListClusters,
  DeleteCluster,
  RegisterTaskDefinition,
  DescribeTaskDefinition,
  DeregisterTaskDefinition,
  ListTaskDefinitions,
  ListTaskDefinitionFamilies,
  TagResource,
  UntagResource,
  ListTagsForResource,
  ListContainerInstances,
  DescribeContainerInstances,
  UpdateContainerInstancesState,
  DeregisterContainerInstance,
  PutAttributes,
  DeleteAttributes,
  ListAttributes,
  RunTask,
  StartTask,
  StopTask,
  DescribeTasks,
  ListTasks,
  CreateService,
  UpdateService,
  DeleteService,
  DescribeServices,
  ListServices,
};

export const bosunActions: Readonly<Record<string, Action>> = {
  CreateJoinToken,
  ListJoinTokens,
  RevokeJoinToken,
  PutSecret,
  DeleteSecret,
  ListSecrets,
  CreateAccessKey,
  ListAccessKeys,
  UpdateAccessKey,
  PutAccessKeyPolicy,
  DeleteAccessKey,
  ListAuditEvents,
};

/** X-Amz-Target value → action. */
export const actionsByTarget: ReadonlyMap<string, Action> = new Map([
  ...Object.entries(actions).map(([name, a]) => [`${ECS_TARGET_PREFIX}.${name}`, a] as const),
  ...Object.entries(bosunActions).map(([name, a]) => [`${BOSUN_TARGET_PREFIX}.${name}`, a] as const),
]);

/** `service:Action`, lower-cased, of every action served, and the privileged-definition permission. */
export const knownPolicyActions: ReadonlySet<string> = new Set([
  ...Object.keys(actions).map((n) => `ecs:${n}`.toLowerCase()),
  ...Object.keys(bosunActions).map((n) => `bosun:${n}`.toLowerCase()),
  PRIVILEGED_TASK_DEFINITION_ACTION.toLowerCase(),
]);
