import { ecsTarget, rawEcsCall } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ bodyLimitBytes: 256 * 1024 });
});
afterAll(async () => {
  await cp?.close();
});

/** A fingerprint of everything stored, to prove a failed request changed nothing. */
async function snapshot(): Promise<string> {
  const rows = await cp.database.db.execute(sql`
    select (select json_agg(c order by name) from (select name, status, settings from clusters) c) as clusters,
           (select json_agg(t order by family, revision) from (select family, revision, status from task_definitions) t) as tds,
           (select json_agg(g order by resource_arn, key) from tags g) as tags,
           (select json_agg(f order by family) from task_definition_families f) as families`);
  return JSON.stringify(rows);
}

const call = (action: string, body: string) =>
  rawEcsCall(cp.endpoint, { target: ecsTarget(action), body, key: cp.key });

const deep = (n: number) => `{"clusterName":${'['.repeat(n)}${']'.repeat(n)}}`;

const cases: [string, string, string, string][] = [
  ['malformed JSON', 'CreateCluster', '{"clusterName": "x"', 'ClientException'],
  ['a JSON array body', 'CreateCluster', '[1,2]', 'ClientException'],
  ['a JSON string body', 'CreateCluster', '"hi"', 'ClientException'],
  ['wrong type', 'CreateCluster', '{"clusterName": 42}', 'InvalidParameterException'],
  [
    'wrong type deep inside',
    'RegisterTaskDefinition',
    '{"family":"f","containerDefinitions":[{"name":"a","image":"x","memory":"lots"}]}',
    'InvalidParameterException',
  ],
  ['missing required field', 'DeleteCluster', '{}', 'InvalidParameterException'],
  ['missing containerDefinitions', 'RegisterTaskDefinition', '{"family":"f"}', 'InvalidParameterException'],
  ['null where a list belongs', 'DescribeClusters', '{"clusters": null}', 'InvalidParameterException'],
  ['NUL in a name', 'CreateCluster', '{"clusterName": "a\\u0000b"}', 'InvalidParameterException'],
  [
    'lone surrogate in a tag',
    'CreateCluster',
    '{"clusterName":"ok","tags":[{"key":"k","value":"\\ud800"}]}',
    'InvalidParameterException',
  ],
  [
    'right-to-left override in a name',
    'CreateCluster',
    '{"clusterName": "abc\\u202Edef"}',
    'InvalidParameterException',
  ],
  [
    'zero-width joiner in a family',
    'RegisterTaskDefinition',
    '{"family":"a\\u200db","containerDefinitions":[{"name":"a","image":"x","memory":32}]}',
    'ClientException|InvalidParameterException',
  ],
  ['very deep nesting', 'CreateCluster', deep(50_000), 'InvalidParameterException'],
  ['maxResults out of range', 'ListClusters', '{"maxResults": 1000}', 'InvalidParameterException'],
  ['garbage nextToken', 'ListClusters', '{"nextToken": "not-a-token"}', 'InvalidParameterException'],
  [
    'too many clusters to describe',
    'DescribeClusters',
    JSON.stringify({ clusters: Array.from({ length: 101 }, (_, i) => `c${i}`) }),
    'InvalidParameterException',
  ],
  [
    'oversized body',
    'CreateCluster',
    JSON.stringify({ clusterName: 'big', tags: [{ key: 'k', value: 'v'.repeat(300 * 1024) }] }),
    'ClientException',
  ],
  [
    'oversized task definition',
    'RegisterTaskDefinition',
    JSON.stringify({
      family: 'huge',
      containerDefinitions: [
        {
          name: 'a',
          image: 'x',
          memory: 32,
          environment: Array.from({ length: 1500 }, (_, i) => ({ name: `VAR_${i}`, value: 'x'.repeat(40) })),
        },
      ],
    }),
    'ClientException',
  ],
  ['unknown operation', 'LaunchRockets', '{}', 'UnknownOperationException'],
];

describe('bad input gets a clear ECS error, never a 5xx, and stores nothing', () => {
  it.each(cases)('%s', async (_what, action, body, expected) => {
    const before = await snapshot();
    const res = await call(action, body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(expected.split('|')).toContain(res.body.__type);
    expect(res.headers.get('x-amzn-errortype')).toBe(res.body.__type);
    expect(typeof res.body.message).toBe('string');
    expect((res.body.message as string).length).toBeGreaterThan(5);
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(await snapshot()).toBe(before);
  });

  it('a request without X-Amz-Target is refused: the operation must be signed', async () => {
    const res = await rawEcsCall(cp.endpoint, { body: '{}', key: cp.key });
    expect(res.status).toBe(403);
    expect(res.body.__type).toBe('IncompleteSignatureException');
    expect(res.body.message).toMatch(/x-amz-target/);
  });

  it('a signed request for an operation bosun does not serve is an unknown operation', async () => {
    const res = await rawEcsCall(cp.endpoint, {
      target: 'AmazonEC2ContainerServiceV20141113.Nope',
      body: '{}',
      key: cp.key,
    });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('UnknownOperationException');
  });

  it('an empty body means an empty input', async () => {
    const res = await call('ListClusters', '');
    expect(res.status).toBe(200);
    expect(res.body.clusterArns).toEqual(['arn:aws:ecs:local:000000000000:cluster/default']);
  });

  it('unknown fields are ignored as AWS does, and valid unicode in tag values is kept', async () => {
    const res = await call(
      'CreateCluster',
      JSON.stringify({ clusterName: 'uni', surprise: true, tags: [{ key: 'note', value: 'größe 🚢 日本' }] }),
    );
    expect(res.status).toBe(200);
    const tags = await call(
      'ListTagsForResource',
      JSON.stringify({ resourceArn: 'arn:aws:ecs:local:000000000000:cluster/uni' }),
    );
    expect(tags.body.tags).toEqual([{ key: 'note', value: 'größe 🚢 日本' }]);
  });

  it('unknown paths and methods get an ECS-shaped error', async () => {
    const res = await fetch(`${cp.endpoint}/v2/anything`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });
});
