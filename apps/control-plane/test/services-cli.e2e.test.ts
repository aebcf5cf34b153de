import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  awsEcs,
  type ControlPlaneProcess,
  createScratchDatabase,
  deleteQueueKeys,
  newQueuePrefix,
  REPO_ROOT,
  type ScratchDatabase,
  startControlPlaneProcess,
} from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent } from './fake-agent.ts';
import { AgentLoop } from './fake-fleet.ts';

let scratch: ScratchDatabase;
let server: ControlPlaneProcess;
let stateDir: string;
const loops: AgentLoop[] = [];
const queuePrefix = newQueuePrefix('bosun_e2e');

const aws = (...args: string[]) => awsEcs(server.clientEnv, stateDir, ...args);

/** Fake hosts that join through the real join-token flow and report tasks RUNNING + HEALTHY. */
async function joinHosts(cluster: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const agent = await registerAgent(server, { cluster, hostname: `host-${i}` });
    loops.push(new AgentLoop(agent).start());
  }
}

beforeAll(async () => {
  scratch = await createScratchDatabase();
  stateDir = mkdtempSync(join(tmpdir(), 'bosun-e2e-svc-'));
  server = await startControlPlaneProcess({
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
  await deleteQueueKeys(process.env.REDIS_URL ?? '', queuePrefix);
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
