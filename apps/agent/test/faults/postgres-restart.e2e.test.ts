import { setTimeout as sleep } from 'node:timers/promises';
import { docker, ecsTarget, rawEcsCall, type Stack, startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureTasks, recordFigures, seconds } from './figures.ts';
import { type OwnPostgres, startOwnPostgres } from './own-postgres.ts';

/**
 * Fault scenario 9: Postgres restarts. While it is down the API answers at once with ECS's
 * ServiceUnavailableException (503, no hang), tasks keep running, and the agent's reports wait; once it is back
 * everything recovers by itself and nothing is lost.
 */
let pg: OwnPostgres;
let stack: Stack;

const listClusters = () =>
  rawEcsCall(stack.server.endpoint, { target: ecsTarget('ListClusters'), body: '{}', key: stack.server.key });

beforeAll(async () => {
  pg = await startOwnPostgres();
  stack = await startStack({ databaseServerUrl: pg.url });
  await stack.registerBusybox('steady');
}, 120_000);

afterAll(async () => {
  await pg?.start().catch(() => undefined);
  await stack?.close();
  await pg?.destroy();
}, 120_000);

describe('fault suite: Postgres restarts', () => {
  it('9. the API says ServiceUnavailableException while Postgres is down, recovers on its own, nothing lost', async () => {
    const keep = await stack.runTask('steady');
    const dies = await stack.runTask('steady');
    await stack.waitForTask(keep, (t) => t.lastStatus === 'RUNNING');
    const dying = await stack.waitForTask(dies, (t) => t.lastStatus === 'RUNNING');

    await pg.stop();
    const asked = Date.now();
    const res = await listClusters();
    const answeredIn = Date.now() - asked;
    expect(res.status).toBe(503);
    expect(res.body.__type).toBe('ServiceUnavailableException');
    expect(answeredIn).toBeLessThan(10_000);
    // Meanwhile a container dies on the host; the agent cannot report it yet.
    await docker('kill', dying.containers[0]?.runtimeId ?? '');
    await sleep(2000);

    await pg.start();
    const restarted = Date.now();
    let recovered = 0;
    while (Date.now() - restarted < 30_000) {
      if ((await listClusters()).status === 200) {
        recovered = Date.now() - restarted;
        break;
      }
      await sleep(100);
    }
    expect(recovered).toBeGreaterThan(0);
    expect(stack.server.child.exitCode).toBeNull();
    const stopped = await stack.waitForTask(dies, (t) => t.lastStatus === 'STOPPED', 30_000);
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect((await stack.describeTask(keep)).lastStatus).toBe('RUNNING');
    const families = (await stack.aws('list-task-definition-families')) as { families: string[] };
    expect(families.families).toContain('steady');
    recordFigures({
      scenario: '9. Postgres restart',
      detectionSeconds: seconds(answeredIn),
      recoverySeconds: seconds(recovered),
      ...(await measureTasks(stack.aws, ['--family', 'steady'])),
      note: 'detection = time to ServiceUnavailableException while down',
    });
    await stack.aws('stop-task', '--task', keep);
  }, 120_000);
});
