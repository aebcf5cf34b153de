import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  ListClustersCommand,
  ListTagsForResourceCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-ecs';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusters, containerInstances, services, tasks } from '../src/db/schema/index.ts';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.close();
});

const arn = (name: string) => `arn:aws:ecs:local:000000000000:cluster/${name}`;

describe('clusters through the AWS SDK', () => {
  it('has a default cluster from the first start', async () => {
    const out = await cp.ecs.send(new DescribeClustersCommand({}));
    expect(out.clusters?.[0]).toMatchObject({
      clusterName: 'default',
      status: 'ACTIVE',
      clusterArn: arn('default'),
    });
  });

  it('creates a cluster with tags and settings, and creating it again is a no-op', async () => {
    const first = await cp.ecs.send(
      new CreateClusterCommand({ clusterName: 'demo', tags: [{ key: 'team', value: 'infra' }] }),
    );
    expect(first.cluster).toMatchObject({
      clusterArn: arn('demo'),
      clusterName: 'demo',
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
      runningTasksCount: 0,
      pendingTasksCount: 0,
      activeServicesCount: 0,
      settings: [{ name: 'containerInsights', value: 'disabled' }],
      tags: [{ key: 'team', value: 'infra' }],
    });
    const again = await cp.ecs.send(new CreateClusterCommand({ clusterName: 'demo' }));
    expect(again.cluster?.clusterArn).toBe(arn('demo'));
    const tags = await cp.ecs.send(new ListTagsForResourceCommand({ resourceArn: arn('demo') }));
    expect(tags.tags).toEqual([{ key: 'team', value: 'infra' }]);
  });

  it('describes by name and ARN, with MISSING failures for unknown clusters', async () => {
    const out = await cp.ecs.send(
      new DescribeClustersCommand({
        clusters: ['demo', arn('default'), 'nope'],
        include: ['TAGS', 'SETTINGS'],
      }),
    );
    expect(out.clusters?.map((c) => c.clusterName)).toEqual(['demo', 'default']);
    expect(out.clusters?.[0]?.tags).toEqual([{ key: 'team', value: 'infra' }]);
    expect(out.failures).toEqual([{ arn: arn('nope'), reason: 'MISSING' }]);
  });

  it('lists clusters with pagination', async () => {
    for (const n of ['p1', 'p2', 'p3']) await cp.ecs.send(new CreateClusterCommand({ clusterName: n }));
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await cp.ecs.send(new ListClustersCommand({ maxResults: 2, nextToken }));
      expect(out.clusterArns?.length).toBeLessThanOrEqual(2);
      seen.push(...(out.clusterArns ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
    expect(seen).toEqual(['default', 'demo', 'p1', 'p2', 'p3'].map(arn));
  });

  it('tags, untags and rejects reserved or excess tags without changing anything', async () => {
    await cp.ecs.send(
      new TagResourceCommand({
        resourceArn: arn('p1'),
        tags: [
          { key: 'a', value: '1' },
          { key: 'b', value: '2' },
        ],
      }),
    );
    await cp.ecs.send(new TagResourceCommand({ resourceArn: arn('p1'), tags: [{ key: 'a', value: 'one' }] }));
    await cp.ecs.send(new UntagResourceCommand({ resourceArn: arn('p1'), tagKeys: ['b', 'never-there'] }));
    const out = await cp.ecs.send(new ListTagsForResourceCommand({ resourceArn: arn('p1') }));
    expect(out.tags).toEqual([{ key: 'a', value: 'one' }]);

    await expect(
      cp.ecs.send(
        new TagResourceCommand({ resourceArn: arn('p1'), tags: [{ key: 'aws:owner', value: 'x' }] }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    const many = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    await expect(
      cp.ecs.send(new TagResourceCommand({ resourceArn: arn('p1'), tags: many })),
    ).rejects.toMatchObject({
      name: 'LimitExceededException',
    });
    const after = await cp.ecs.send(new ListTagsForResourceCommand({ resourceArn: arn('p1') }));
    expect(after.tags).toEqual([{ key: 'a', value: 'one' }]);

    await expect(
      cp.ecs.send(new ListTagsForResourceCommand({ resourceArn: arn('ghost') })),
    ).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    await expect(
      cp.ecs.send(
        new ListTagsForResourceCommand({
          resourceArn: 'arn:aws:ecs:local:000000000000:task-definition/none:1',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('refuses to delete a cluster that holds instances, services or tasks, with the ECS exception', async () => {
    await cp.ecs.send(new CreateClusterCommand({ clusterName: 'busy' }));
    const [row] = await cp.database.db.select().from(clusters);
    const busy = (await cp.database.db.select().from(clusters)).find((c) => c.name === 'busy');
    expect(row && busy).toBeTruthy();
    const clusterId = busy?.id ?? '';

    const [inst] = await cp.database.db
      .insert(containerInstances)
      .values({ clusterId, status: 'ACTIVE' })
      .returning();
    await expect(cp.ecs.send(new DeleteClusterCommand({ cluster: 'busy' }))).rejects.toMatchObject({
      name: 'ClusterContainsContainerInstancesException',
    });
    await cp.database.sql`update container_instances set status = 'INACTIVE' where id = ${inst?.id ?? ''}`;

    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'busy-td',
        containerDefinitions: [{ name: 'app', image: 'nginx', memory: 64 }],
      }),
    );
    await cp.database.db
      .insert(services)
      .values({ clusterId, name: 'web', status: 'ACTIVE', family: 'busy-td', revision: 1 });
    await expect(cp.ecs.send(new DeleteClusterCommand({ cluster: 'busy' }))).rejects.toMatchObject({
      name: 'ClusterContainsServicesException',
    });
    await cp.database.sql`update services set status = 'INACTIVE' where cluster_id = ${clusterId}`;

    await cp.database.db.insert(tasks).values({
      id: 'a'.repeat(32),
      clusterId,
      family: 'busy-td',
      revision: 1,
      group: 'family:busy-td',
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
    });
    await expect(cp.ecs.send(new DeleteClusterCommand({ cluster: arn('busy') }))).rejects.toMatchObject({
      name: 'ClusterContainsTasksException',
    });
    const still = await cp.ecs.send(new DescribeClustersCommand({ clusters: ['busy'] }));
    expect(still.clusters?.[0]).toMatchObject({ status: 'ACTIVE', runningTasksCount: 1 });

    await cp.database
      .sql`update tasks set last_status = 'STOPPED', desired_status = 'STOPPED' where cluster_id = ${clusterId}`;
    const deleted = await cp.ecs.send(new DeleteClusterCommand({ cluster: 'busy' }));
    expect(deleted.cluster?.status).toBe('INACTIVE');
  });

  it('deletes an empty cluster: it leaves the list, shows INACTIVE, and can be created anew', async () => {
    await cp.ecs.send(new DeleteClusterCommand({ cluster: 'p2' }));
    const list = await cp.ecs.send(new ListClustersCommand({}));
    expect(list.clusterArns).not.toContain(arn('p2'));
    const described = await cp.ecs.send(new DescribeClustersCommand({ clusters: ['p2'] }));
    expect(described.clusters?.[0]?.status).toBe('INACTIVE');
    await expect(cp.ecs.send(new DeleteClusterCommand({ cluster: 'p2' }))).rejects.toMatchObject({
      name: 'ClusterNotFoundException',
    });
    const again = await cp.ecs.send(new CreateClusterCommand({ clusterName: 'p2' }));
    expect(again.cluster?.status).toBe('ACTIVE');
  });

  it('rejects bad cluster names with InvalidParameterException', async () => {
    for (const clusterName of ['has space', 'x'.repeat(256), 'ümlaut', 'emoji🚀']) {
      await expect(cp.ecs.send(new CreateClusterCommand({ clusterName }))).rejects.toMatchObject({
        name: 'InvalidParameterException',
      });
    }
  });
});
