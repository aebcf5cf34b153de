import type { Action } from './action.ts';
import { CreateCluster, DeleteCluster, DescribeClusters, ListClusters } from './clusters.ts';
import { ListTagsForResource, TagResource, UntagResource } from './tags.ts';
import {
  DeregisterTaskDefinition,
  DescribeTaskDefinition,
  ListTaskDefinitionFamilies,
  ListTaskDefinitions,
  RegisterTaskDefinition,
} from './task-definitions.ts';

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';

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
};
