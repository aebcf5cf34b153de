import { describe, expect, it } from 'vitest';
import { arnsInResult, authorizationRequest, isMutating } from './authorization.ts';

const scope = { region: 'local', accountId: '000000000000' };
const A = 'arn:aws:ecs:local:000000000000';

describe('authorizationRequest: what a call acts on', () => {
  const cases: Array<
    [string, 'ecs' | 'bosun', string, Record<string, unknown>, string[], string | undefined]
  > = [
    ['ListClusters', 'ecs', 'ListClusters', {}, ['*'], undefined],
    [
      'CreateCluster',
      'ecs',
      'CreateCluster',
      { clusterName: 'prod' },
      [`${A}:cluster/prod`],
      `${A}:cluster/prod`,
    ],
    [
      'DescribeClusters',
      'ecs',
      'DescribeClusters',
      { clusters: ['a', `${A}:cluster/b`] },
      [`${A}:cluster/a`, `${A}:cluster/b`],
      undefined,
    ],
    [
      'CreateService, default cluster',
      'ecs',
      'CreateService',
      { serviceName: 'web', taskDefinition: 'web' },
      [`${A}:service/default/web`],
      `${A}:cluster/default`,
    ],
    [
      'UpdateService by ARN in a cluster given by ARN',
      'ecs',
      'UpdateService',
      { cluster: `${A}:cluster/prod`, service: `${A}:service/prod/web` },
      [`${A}:service/prod/web`],
      `${A}:cluster/prod`,
    ],
    [
      'RunTask: the task definition, in the cluster',
      'ecs',
      'RunTask',
      { cluster: 'prod', taskDefinition: 'web:3' },
      [`${A}:task-definition/web:3`],
      `${A}:cluster/prod`,
    ],
    [
      'RunTask of the latest revision',
      'ecs',
      'RunTask',
      { taskDefinition: 'web' },
      [`${A}:task-definition/web:*`],
      `${A}:cluster/default`,
    ],
    [
      'StopTask',
      'ecs',
      'StopTask',
      { cluster: 'prod', task: 'abc' },
      [`${A}:task/prod/abc`],
      `${A}:cluster/prod`,
    ],
    [
      'RegisterTaskDefinition',
      'ecs',
      'RegisterTaskDefinition',
      { family: 'web' },
      [`${A}:task-definition/web:*`],
      undefined,
    ],
    [
      'ListTasks: the cluster',
      'ecs',
      'ListTasks',
      { cluster: 'prod' },
      [`${A}:cluster/prod`],
      `${A}:cluster/prod`,
    ],
    ['TagResource', 'ecs', 'TagResource', { resourceArn: `${A}:cluster/x` }, [`${A}:cluster/x`], undefined],
    [
      'PutSecret',
      'bosun',
      'PutSecret',
      { name: 'db/pass' },
      ['arn:aws:secretsmanager:local:000000000000:secret:db/pass'],
      undefined,
    ],
    [
      'CreateAccessKey',
      'bosun',
      'CreateAccessKey',
      { UserName: 'ci' },
      ['arn:aws:iam::000000000000:user/ci'],
      undefined,
    ],
    [
      'CreateJoinToken',
      'bosun',
      'CreateJoinToken',
      { cluster: 'edge' },
      [`${A}:cluster/edge`],
      `${A}:cluster/edge`,
    ],
  ];
  it.each(cases)('%s', (_name, service, action, input, resources, cluster) => {
    const r = authorizationRequest(service, action, input, scope);
    expect(r.action).toBe(`${service}:${action}`);
    expect(r.resources).toEqual(resources);
    expect(r.context['ecs:cluster']).toBe(cluster);
  });
});

describe('isMutating', () => {
  it.each([
    ['DescribeServices', false],
    ['ListAuditEvents', false],
    ['CreateService', true],
    ['RunTask', true],
    ['PutSecret', true],
    ['UpdateAccessKey', true],
  ])('%s → %s', (name, mutating) => expect(isMutating(name)).toBe(mutating));
});

describe('arnsInResult', () => {
  it('finds the ARNs an answer made, at the top and one level down', () => {
    expect(
      arnsInResult({
        taskDefinition: { taskDefinitionArn: `${A}:task-definition/web:1`, containerDefinitions: [{ x: 1 }] },
        tasks: [{ taskArn: `${A}:task/default/1`, containers: [{ containerArn: `${A}:container/x` }] }],
        failures: [],
      }),
    ).toEqual([`${A}:task-definition/web:1`, `${A}:task/default/1`]);
  });
});
