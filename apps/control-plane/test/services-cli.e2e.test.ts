import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RegisterInstanceResponse } from '@bosun/model';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_CATALOG } from '../src/workers/queues.ts';
import { FakeAgent } from './fake-agent.ts';
import { AgentLoop } from './fake-fleet.ts';
import { createScratchDatabase } from './harness.ts';
import { REPO_ROOT, type ServerProcess, startServerProcess } from './server-process.ts';
import { rawEcsCall } from './signed-fetch.ts';

const run = promisify(execFile);

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let server: ServerProcess;
let stateDir: string;
const loops: AgentLoop[] = [];
const queuePrefix = `bosun_e2e_${process.pid}`;

/** Runs the real AWS CLI with only what `source .bosun/env` gives it. */
async function aws(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('aws', ['ecs', ...args, '--output', 'json'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: stateDir, ...server.clientEnv },
  });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}

/** Two fake hosts that join through the real join-token flow and report tasks RUNNING + HEALTHY. */
async function joinHosts(cluster: string, n: number): Promise<void> {
  const endpoint = server.clientEnv.AWS_ENDPOINT_URL_ECS ?? '';
  const key = {
    accessKeyId: server.clientEnv.AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: server.clientEnv.AWS_SECRET_ACCESS_KEY ?? '',
  };
  for (let i = 0; i < n; i++) {
    const token = await rawEcsCall(endpoint, {
      target: 'BosunV1.CreateJoinToken',
      body: JSON.stringify({ cluster }),
      key,
    });
    const res = await fetch(`${endpoint}/agent/v1/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        joinToken: token.body.joinToken,
        hostname: `host-${i}`,
        cpu: 2048,
        memory: 2048,
        reservedPorts: ['tcp:22'],
        attributes: [],
        versionInfo: { agentVersion: '0.1.0', dockerVersion: '27.0.0' },
      }),
    });
    const registration = (await res.json()) as RegisterInstanceResponse;
    loops.push(new AgentLoop(new FakeAgent(endpoint, registration)).start());
  }
}

beforeAll(async () => {
  scratch = await createScratchDatabase();
  stateDir = mkdtempSync(join(tmpdir(), 'bosun-e2e-svc-'));
  server = await startServerProcess({
    DATABASE_URL: scratch.url,
    REDIS_URL: process.env.REDIS_URL ?? '',
    BOSUN_STATE_DIR: stateDir,
    // Its own queues in the shared test Redis.
    BOSUN_QUEUE_PREFIX: queuePrefix,
  });
});
afterAll(async () => {
  await Promise.all(loops.map((l) => l.stop()));
  await server?.stop();
  // Leave nothing of this install's queues (the sweep's schedule included) in the test Redis.
  const redis = new Redis(process.env.REDIS_URL ?? '', { maxRetriesPerRequest: null });
  for (const q of Object.values(QUEUE_CATALOG)) {
    const queue = new Queue(q.name, { connection: redis, prefix: queuePrefix });
    await queue.obliterate({ force: true });
    await queue.close();
  }
  redis.disconnect();
  await scratch?.drop();
});

describe('a first service with the aws CLI', () => {
  it('create-service, wait services-stable, update-service, describe-services events', async () => {
    await aws('create-cluster', '--cluster-name', 'demo');
    await joinHosts('demo', 2);
    await aws('register-task-definition', '--cli-input-json', `file://${REPO_ROOT}examples/web-server.json`);

    let started = performance.now();
    const created = await aws(
      'create-service',
      '--cluster',
      'demo',
      '--service-name',
      'web',
      '--task-definition',
      'web',
      '--desired-count',
      '2',
    );
    expect(created.service).toMatchObject({ serviceName: 'web', status: 'ACTIVE', desiredCount: 2 });
    await aws('wait', 'services-stable', '--cluster', 'demo', '--services', 'web');
    console.log(
      `aws ecs wait services-stable returned ${(performance.now() - started).toFixed(0)} ms after create-service`,
    );

    const tasks = await aws('list-tasks', '--cluster', 'demo', '--service-name', 'web');
    expect(tasks.taskArns).toHaveLength(2);

    await aws('register-task-definition', '--cli-input-json', `file://${REPO_ROOT}examples/web-server.json`);
    started = performance.now();
    const updated = await aws(
      'update-service',
      '--cluster',
      'demo',
      '--service',
      'web',
      '--task-definition',
      'web:2',
    );
    expect((updated.service as { taskDefinition: string }).taskDefinition).toBe(
      'arn:aws:ecs:local:000000000000:task-definition/web:2',
    );
    await aws('wait', 'services-stable', '--cluster', 'demo', '--services', 'web');
    console.log(
      `rollout to web:2 stable per the CLI waiter in ${(performance.now() - started).toFixed(0)} ms`,
    );

    const described = await aws('describe-services', '--cluster', 'demo', '--services', 'web');
    const service = (described.services as Record<string, unknown>[])[0] as {
      deployments: { taskDefinition: string; rolloutState: string }[];
      events: { message: string; createdAt: number }[];
      runningCount: number;
    };
    expect(service.deployments).toHaveLength(1);
    expect(service.deployments[0]).toMatchObject({
      taskDefinition: 'arn:aws:ecs:local:000000000000:task-definition/web:2',
      rolloutState: 'COMPLETED',
    });
    expect(service.runningCount).toBe(2);
    expect(service.events[0]?.message).toBe('(service web) has reached a steady state.');
    expect(typeof service.events[0]?.createdAt).toBe('number');
    expect(server.output()).toContain('service evaluated');
  }, 120_000);
});
