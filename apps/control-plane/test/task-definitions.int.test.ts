import { readFileSync } from 'node:fs';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const example = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../../examples/${name}`, import.meta.url), 'utf8'),
  ) as RegisterTaskDefinitionCommandInput;
const tdArn = (family: string, rev: number) =>
  `arn:aws:ecs:local:000000000000:task-definition/${family}:${rev}`;

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.close();
});

describe('task definitions through the AWS SDK', () => {
  it('registers the web example with its health check and tags', async () => {
    const out = await cp.ecs.send(new RegisterTaskDefinitionCommand(example('web-server.json')));
    expect(out.taskDefinition).toMatchObject({
      taskDefinitionArn: tdArn('web', 1),
      family: 'web',
      revision: 1,
      status: 'ACTIVE',
      networkMode: 'bridge',
      containerDefinitions: [
        {
          name: 'web',
          essential: true,
          portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp', name: 'http' }],
          healthCheck: {
            command: ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1'],
            interval: 5,
            timeout: 2,
            retries: 3,
            startPeriod: 5,
          },
        },
      ],
    });
    expect(out.taskDefinition?.registeredAt).toBeInstanceOf(Date);
    expect(out.tags).toEqual([{ key: 'example', value: 'web-server' }]);
  });

  it('registers the two-container dependsOn example', async () => {
    const out = await cp.ecs.send(new RegisterTaskDefinitionCommand(example('two-containers.json')));
    const app = out.taskDefinition?.containerDefinitions?.find((c) => c.name === 'app');
    expect(app?.dependsOn).toEqual([{ containerName: 'migrate', condition: 'SUCCESS' }]);
  });

  it('describes by family (latest ACTIVE), family:revision and ARN, with tags on request', async () => {
    await cp.ecs.send(new RegisterTaskDefinitionCommand(example('web-server.json')));
    const byFamily = await cp.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }));
    expect(byFamily.taskDefinition?.revision).toBe(2);
    const byRev = await cp.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:1' }));
    expect(byRev.taskDefinition?.revision).toBe(1);
    const byArn = await cp.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: tdArn('web', 2), include: ['TAGS'] }),
    );
    expect(byArn.taskDefinition?.revision).toBe(2);
    expect(byArn.tags).toEqual([{ key: 'example', value: 'web-server' }]);
    await expect(
      cp.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:99' })),
    ).rejects.toMatchObject({
      name: 'ClientException',
      message: 'Unable to describe task definition.',
    });
  });

  it('deregisters a revision: INACTIVE, still describable, family falls back to the latest ACTIVE one', async () => {
    const out = await cp.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:2' }));
    expect(out.taskDefinition).toMatchObject({ revision: 2, status: 'INACTIVE' });
    expect(out.taskDefinition?.deregisteredAt).toBeInstanceOf(Date);
    const latest = await cp.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }));
    expect(latest.taskDefinition?.revision).toBe(1);
    const inactive = await cp.ecs.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE' }));
    expect(inactive.taskDefinitionArns).toEqual([tdArn('web', 2)]);
    await expect(
      cp.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web' })),
    ).rejects.toMatchObject({
      name: 'ClientException',
    });
    // Deregistering twice is harmless and returns the same INACTIVE revision.
    const again = await cp.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: tdArn('web', 2) }));
    expect(again.taskDefinition?.status).toBe('INACTIVE');
  });

  it('lists families by prefix and status', async () => {
    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({ ...example('web-server.json'), family: 'webhooks' }),
    );
    await cp.ecs.send(new RegisterTaskDefinitionCommand({ ...example('web-server.json'), family: 'gone' }));
    await cp.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'gone:1' }));
    const active = await cp.ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'web' }));
    expect(active.families).toEqual(['web', 'webhooks']);
    const inactive = await cp.ecs.send(new ListTaskDefinitionFamiliesCommand({ status: 'INACTIVE' }));
    expect(inactive.families).toEqual(['gone']);
    const all = await cp.ecs.send(new ListTaskDefinitionFamiliesCommand({ status: 'ALL', maxResults: 2 }));
    expect(all.families).toEqual(['app-with-migrations', 'gone']);
    expect(all.nextToken).toBeTruthy();
  });

  it('handles thousands of revisions: numbered in order, paged in both directions', async () => {
    const base = example('web-server.json');
    const family = 'many';
    const total = 1200;
    // Concurrent registrations must still get distinct, gap-free revisions.
    for (let i = 0; i < total; i += 40) {
      await Promise.all(
        Array.from({ length: Math.min(40, total - i) }, () =>
          cp.ecs.send(new RegisterTaskDefinitionCommand({ ...base, family })),
        ),
      );
    }
    const collect = async (sort: 'ASC' | 'DESC') => {
      const arns: string[] = [];
      let nextToken: string | undefined;
      do {
        const out = await cp.ecs.send(
          new ListTaskDefinitionsCommand({ familyPrefix: family, sort, maxResults: 100, nextToken }),
        );
        arns.push(...(out.taskDefinitionArns ?? []));
        nextToken = out.nextToken;
      } while (nextToken);
      return arns;
    };
    const asc = await collect('ASC');
    expect(asc).toEqual(Array.from({ length: total }, (_, i) => tdArn(family, i + 1)));
    expect(await collect('DESC')).toEqual([...asc].reverse());
    const latest = await cp.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family }));
    expect(latest.taskDefinition?.revision).toBe(total);
  }, 120_000);

  it('rejects invalid definitions with the ECS exception and stores nothing', async () => {
    const before = await cp.ecs.send(
      new ListTaskDefinitionFamiliesCommand({ status: 'ALL', maxResults: 100 }),
    );
    const bad: [string, RegisterTaskDefinitionCommandInput, string][] = [
      ['no memory', { family: 'bad', containerDefinitions: [{ name: 'a', image: 'x' }] }, 'memory'],
      [
        'dependency cycle',
        {
          family: 'bad',
          containerDefinitions: [
            { name: 'a', image: 'x', memory: 32, dependsOn: [{ containerName: 'b', condition: 'START' }] },
            { name: 'b', image: 'x', memory: 32, dependsOn: [{ containerName: 'a', condition: 'START' }] },
          ],
        },
        'a',
      ],
      [
        'health check interval out of range',
        {
          family: 'bad',
          containerDefinitions: [
            { name: 'a', image: 'x', memory: 32, healthCheck: { command: ['CMD', 'true'], interval: 1 } },
          ],
        },
        'interval',
      ],
      [
        'bad constraint expression',
        {
          family: 'bad',
          containerDefinitions: [{ name: 'a', image: 'x', memory: 32 }],
          placementConstraints: [{ type: 'memberOf', expression: 'attribute:zone ==' }],
        },
        'expression',
      ],
    ];
    for (const [what, input, fragment] of bad) {
      const err = await cp.ecs.send(new RegisterTaskDefinitionCommand(input)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, what).toBeDefined();
      expect(['ClientException', 'InvalidParameterException'], what).toContain(err?.name);
      expect(err?.message, what).toContain(fragment);
    }
    const after = await cp.ecs.send(
      new ListTaskDefinitionFamiliesCommand({ status: 'ALL', maxResults: 100 }),
    );
    expect(after.families).toEqual(before.families);
  });
});
