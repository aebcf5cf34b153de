import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { run } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnRedis, startOwnRedis } from '../../agent/test/faults/own-redis.ts';
import { type FakeAgent, registerAgent } from './fake-agent.ts';
import { eventually } from './fake-fleet.ts';

/**
 * Redis stopped under a running control plane (a redis-server of the test's own): the API never
 * waits for it. Agents' heartbeats, reports and long-polls and the ECS reads answer within a few
 * seconds; RunTask answers ServiceUnavailableException; /readyz says Redis is not ready, and ready
 * again once it is back; the service evaluation a report could not queue is made by the sweep then.
 */
const ANSWER_WITHIN_MS = 3_000;

let redis: OwnRedis;
let cp: TestControlPlane;
let agent: FakeAgent;
let standalone = '';
let serviceTask = '';
let beating = true;
let beats: Promise<void> = Promise.resolve();

const redisPort = () => new URL(redis.url).port;
const stopRedis = () =>
  run('redis-cli', ['-h', '127.0.0.1', '-p', redisPort(), 'shutdown', 'nosave']).catch(() => undefined);

/** The call's outcome and how long it took. */
async function timed<T>(call: () => Promise<T>): Promise<{ value?: T; err?: unknown; ms: number }> {
  const started = performance.now();
  try {
    const value = await call();
    return { value, ms: performance.now() - started };
  } catch (err) {
    return { err, ms: performance.now() - started };
  }
}

async function readyz(): Promise<{ status: number; body: { status: string; notReady: string[] } }> {
  const res = await fetch(`${cp.endpoint}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; notReady: string[] } };
}

beforeAll(async () => {
  redis = await startOwnRedis();
  cp = await startControlPlane({ redisUrl: redis.url, timeouts: { redisCommandTimeoutMs: 1_000 } });
  await cp.ecs.send(new CreateClusterCommand({ clusterName: 'outage' }));
  await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'outage',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory: 16, cpu: 8 }],
    }),
  );
  agent = await registerAgent(cp, { cluster: 'outage' });
  // The host stays in contact throughout, as a real agent would (errors are the test's to see below).
  beats = (async () => {
    while (beating) {
      await agent.heartbeat().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();
  const ran = await cp.ecs.send(new RunTaskCommand({ cluster: 'outage', taskDefinition: 'outage' }));
  standalone = ran.tasks?.[0]?.taskArn?.split('/').at(-1) ?? '';
  await cp.ecs.send(
    new CreateServiceCommand({
      cluster: 'outage',
      serviceName: 'web',
      taskDefinition: 'outage',
      desiredCount: 1,
    }),
  );
  serviceTask = await eventually('the service task placed', async () => {
    const state = await agent.desired();
    return state.tasks.find((t) => t.taskId !== standalone)?.taskId;
  });
});
afterAll(async () => {
  beating = false;
  await beats;
  // Redis must be up for the control plane to clean its queues.
  if (redis !== undefined && (await readyz().catch(() => undefined))?.body.notReady.includes('redis')) {
    await redis.restart();
  }
  await cp?.close();
  await redis?.destroy();
});

describe('Redis down', () => {
  it('is ready before', async () => {
    expect(await readyz()).toMatchObject({ status: 200, body: { status: 'ready', notReady: [] } });
    expect((await fetch(`${cp.endpoint}/livez`)).status).toBe(200);
  });

  it('answers agents and the API within a few seconds while Redis is stopped, and /readyz names Redis', async () => {
    await stopRedis();
    await eventually(
      '/readyz to say Redis is not ready',
      async () => {
        const r = await readyz();
        return r.status === 503 && r.body.notReady.includes('redis') ? r : undefined;
      },
      5_000,
    );
    expect((await readyz()).body.notReady).toEqual(['redis']);
    expect((await fetch(`${cp.endpoint}/livez`)).status).toBe(200);

    const beat = await timed(() => agent.heartbeat());
    expect(beat.err).toBeUndefined();
    expect(beat.value?.status).toBe('ACTIVE');
    expect(beat.ms).toBeLessThan(ANSWER_WITHIN_MS);

    // A service task's report queues an evaluation of its service: only a nudge, so it is answered.
    const now = Date.now();
    const report = await timed(() =>
      agent.report([
        {
          taskId: serviceTask,
          lastStatus: 'RUNNING',
          startedAt: now,
          containers: [{ name: 'app', lastStatus: 'RUNNING', runtimeId: 'c-outage' }],
        },
      ]),
    );
    expect(report.err).toBeUndefined();
    expect(report.value).toMatchObject({ unknownTaskIds: [], refused: [] });
    expect(report.ms).toBeLessThan(ANSWER_WITHIN_MS);
    const [row] = await cp.database.sql<{ last_status: string }[]>`
      select last_status from tasks where id = ${serviceTask}`;
    expect(row?.last_status).toBe('RUNNING');

    const poll = await timed(() => agent.desired(0, 1));
    expect(poll.err).toBeUndefined();
    expect(poll.ms).toBeLessThan(ANSWER_WITHIN_MS);

    const listed = await timed(() => cp.ecs.send(new ListTasksCommand({ cluster: 'outage' })));
    expect(listed.err).toBeUndefined();
    expect(listed.value?.taskArns?.map((arn) => arn.split('/').at(-1)).sort()).toEqual(
      [standalone, serviceTask].sort(),
    );
    expect(listed.ms).toBeLessThan(ANSWER_WITHIN_MS);

    const described = await timed(() =>
      cp.ecs.send(new DescribeServicesCommand({ cluster: 'outage', services: ['web'] })),
    );
    expect(described.err).toBeUndefined();
    expect(described.ms).toBeLessThan(ANSWER_WITHIN_MS);

    // RunTask cannot queue its placement: it answers at once, and nothing is left to start later.
    const ranDown = await timed(() =>
      cp.ecs.send(new RunTaskCommand({ cluster: 'outage', taskDefinition: 'outage' })),
    );
    expect(ranDown.err).toMatchObject({
      name: 'ServiceUnavailableException',
      $metadata: { httpStatusCode: 503 },
    });
    expect(ranDown.ms).toBeLessThan(ANSWER_WITHIN_MS);
    const pending = await cp.database.sql<{ n: number }[]>`
      select count(*)::int as n from placement_requests where status = 'PENDING'`;
    expect(pending[0]?.n).toBe(0);
  });

  it('is ready again once Redis is back, and the sweep makes the evaluation the report could not queue', async () => {
    await redis.restart();
    await eventually(
      '/readyz to say ready',
      async () => {
        const r = await readyz();
        return r.status === 200 ? r : undefined;
      },
      10_000,
    );
    // The report's evaluation was not queued; the sweep (re-asserted on the empty Redis) does it.
    await eventually('the service to count its running task', async () => {
      const out = await cp.ecs.send(new DescribeServicesCommand({ cluster: 'outage', services: ['web'] }));
      return out.services?.[0]?.runningCount === 1 ? true : undefined;
    });
    const ran = await eventually('RunTask to place again', () =>
      cp.ecs.send(new RunTaskCommand({ cluster: 'outage', taskDefinition: 'outage' })),
    );
    expect(ran.tasks).toHaveLength(1);
  });
});
