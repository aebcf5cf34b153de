import type { ContainerDefinition, DesiredTask, TaskDefinitionSpec } from '@bosun/model';

/**
 * Builders for DesiredTasks in tests. They skip the registration schema on purpose, so the Docker
 * layer can be driven with values the schema would refuse (a 1 s healthcheck interval keeps tests fast).
 */

export function testContainer(
  overrides: Partial<ContainerDefinition> & { name: string },
): ContainerDefinition {
  return {
    image: 'bosun/busybox:latest',
    cpu: 0,
    portMappings: [],
    essential: true,
    environment: [],
    mountPoints: [],
    volumesFrom: [],
    ...overrides,
  };
}

export function testTask(
  taskId: string,
  containers: ContainerDefinition[],
  overrides: Partial<TaskDefinitionSpec> = {},
): DesiredTask {
  const cluster = 'arn:aws:ecs:local:000000000000:cluster/default';
  return {
    taskArn: `arn:aws:ecs:local:000000000000:task/default/${taskId}`,
    taskId,
    clusterArn: cluster,
    taskDefinitionArn: 'arn:aws:ecs:local:000000000000:task-definition/web:3',
    desiredStatus: 'RUNNING',
    group: 'family:web',
    taskDefinition: {
      family: 'web',
      containerDefinitions: containers,
      networkMode: 'bridge',
      volumes: [],
      placementConstraints: [],
      ...overrides,
    },
  };
}
