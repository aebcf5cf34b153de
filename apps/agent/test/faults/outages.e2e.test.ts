import { ecsTarget, rawEcsCall, type Stack, type StackAgent, startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnPostgres, startOwnPostgres } from './own-postgres.ts';
import { type OwnRedis, startOwnRedis } from './own-redis.ts';
import { FAULT_SERVER_ENV, runFault } from './untouched.ts';

/**
 * Fault scenarios 11, 12 and 13: the control plane, its Postgres and its Redis each gone for 60 s, far
 * longer than the agent timeout (10 s). Heartbeats cannot be recorded meanwhile, yet the hosts were
 * never lost: nothing running may be touched. Two agents share the machine's Docker daemon (each
 * manages only its own containers); a service of 3 per scenario, compared before and after from
 * Postgres' tasks and Docker's containers (untouched.ts).
 */
const OUTAGE_MS = 60_000;
let pg: OwnPostgres;
let redis: OwnRedis;
let stack: Stack;
let agents: StackAgent[];

beforeAll(async () => {
  pg = await startOwnPostgres();
  redis = await startOwnRedis();
  stack = await startStack({
    databaseServerUrl: pg.url,
    noAgent: true,
    serverEnv: { REDIS_URL: redis.url, ...FAULT_SERVER_ENV },
  });
  agents = [];
  for (const n of [1, 2]) {
    agents.push(await stack.addAgent({ BOSUN_ZONE: `zone-${n}`, BOSUN_HOSTNAME: `outage-${n}` }));
  }
  await stack.registerBusybox('steady');
}, 180_000);

afterAll(async () => {
  await stack?.close();
  await pg?.destroy();
  await redis?.destroy();
}, 180_000);

describe('fault suite: outages of the control plane and its stores leave running tasks alone', () => {
  it('11. the control plane down 60 s (kill -9, then started again): 0 replaced, the same containers', async () => {
    let startAgain: (() => Promise<void>) | undefined;
    const figures = await runFault(stack, agents, {
      scenario: '11. control plane down 60 s',
      service: 'cp-down',
      family: 'steady',
      apply: async () => {
        startAgain = await stack.stopServer('SIGKILL');
      },
      holdMs: OUTAGE_MS,
      heal: async () => {
        await startAgain?.();
      },
    });
    expect(figures).toMatchObject({ replaced: 0, stopped: 0, lost: 0, duplicates: 0, sameContainers: true });
  }, 300_000);

  it('12. Postgres down 60 s: 0 replaced, the same containers; the API answers 503 at once throughout', async () => {
    let answeredInMs = Number.NaN;
    const figures = await runFault(stack, agents, {
      scenario: '12. Postgres down 60 s',
      service: 'pg-down',
      family: 'steady',
      apply: () => pg.stop(),
      holdMs: OUTAGE_MS,
      // Deep into the outage, after many failed reconnects: the API still answers at once.
      during: async () => {
        const asked = Date.now();
        const res = await rawEcsCall(stack.server.endpoint, {
          target: ecsTarget('ListClusters'),
          body: '{}',
          key: stack.server.key,
        });
        answeredInMs = Date.now() - asked;
        expect(res.body.__type).toBe('ServiceUnavailableException');
      },
      heal: () => pg.start(),
    });
    console.log(`[fault] 30 s into the Postgres outage the API answered 503 in ${answeredInMs} ms`);
    expect(answeredInMs).toBeLessThan(3_000);
    expect(stack.server.child.exitCode).toBeNull();
    expect(figures).toMatchObject({ replaced: 0, stopped: 0, lost: 0, duplicates: 0, sameContainers: true });
  }, 300_000);

  it('13. Redis down 60 s (back empty): 0 replaced, the same containers', async () => {
    const figures = await runFault(stack, agents, {
      scenario: '13. Redis down 60 s',
      service: 'redis-down',
      family: 'steady',
      apply: () => redis.stop(),
      holdMs: OUTAGE_MS,
      heal: () => redis.start(),
    });
    expect(stack.server.child.exitCode).toBeNull();
    expect(figures).toMatchObject({ replaced: 0, stopped: 0, lost: 0, duplicates: 0, sameContainers: true });
  }, 300_000);
});
