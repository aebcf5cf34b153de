import { CreateClusterCommand, DeleteClusterCommand, ListClustersCommand } from '@aws-sdk/client-ecs';
import { createScratchDatabase, type ScratchDatabase } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../src/db/client.ts';
import { databaseFailure } from '../src/db/failures.ts';

/**
 * Postgres' statement_timeout, lock_timeout and idle_in_transaction_session_timeout on every
 * connection of the control plane (db/client.ts, BOSUN_DB_*_TIMEOUT_SECONDS): a statement stuck behind
 * a lock someone holds fails after the timeout instead of hanging its caller, and the API answers
 * ServiceUnavailableException (503) in ECS's shape.
 */
describe('a connection with timeouts', () => {
  let scratch: ScratchDatabase;
  let database: Database;
  let holder: postgres.Sql;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    database = connectDatabase(scratch.url, {
      max: 2,
      statementTimeoutMs: 400,
      lockTimeoutMs: 300,
      idleInTransactionTimeoutMs: 500,
    });
    holder = postgres(scratch.url, { max: 1, onnotice: () => {} });
    await holder`create table t (id int primary key, n int)`;
    await holder`insert into t values (1, 0)`;
  });
  afterAll(async () => {
    await database?.close();
    await holder?.end();
    await scratch?.drop();
  });

  it('fails a statement waiting for a held row lock after lock_timeout, instead of waiting', async () => {
    let outcome: { err: unknown; ms: number } | undefined;
    await holder.begin(async (tx) => {
      await tx`select id from t where id = 1 for update`;
      const started = performance.now();
      outcome = await database.sql`update t set n = n + 1 where id = 1`.then(
        () => ({ err: undefined, ms: performance.now() - started }),
        (err: unknown) => ({ err, ms: performance.now() - started }),
      );
    });
    expect(outcome?.err).toMatchObject({ code: '55P03' });
    expect(databaseFailure(outcome?.err)).toBe('timeout');
    expect(outcome?.ms).toBeGreaterThanOrEqual(250);
    expect(outcome?.ms).toBeLessThan(2_000);
    // The lock is free again: the same statement goes through.
    await database.sql`update t set n = n + 1 where id = 1`;
    expect((await holder<{ n: number }[]>`select n from t`)[0]?.n).toBe(1);
  });

  it('cancels a statement running past statement_timeout', async () => {
    const started = performance.now();
    const err = await database.sql`select pg_sleep(5)`.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '57014' });
    expect(databaseFailure(err)).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('ends a transaction left idle past idle_in_transaction_session_timeout, freeing its locks', async () => {
    const err = await database.sql
      .begin(async (tx) => {
        await tx`select id from t where id = 1 for update`;
        await new Promise((r) => setTimeout(r, 900));
        await tx`select 1`;
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(databaseFailure(err)).toBeDefined();
    // Nobody holds the row now.
    await holder`update t set n = n + 1 where id = 1`;
  });
});

describe('an API call behind a held lock', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ timeouts: { lockTimeoutMs: 500 } });
    await cp.ecs.send(new CreateClusterCommand({ clusterName: 'held' }));
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('answers ServiceUnavailableException (503) after the lock timeout, and works once the lock is gone', async () => {
    const holder = postgres(cp.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      let outcome: { err: unknown; ms: number } | undefined;
      await holder.begin(async (tx) => {
        await tx`select id from clusters where name = 'held' for update`;
        const started = performance.now();
        outcome = await cp.ecs.send(new DeleteClusterCommand({ cluster: 'held' })).then(
          () => ({ err: undefined, ms: performance.now() - started }),
          (err: unknown) => ({ err, ms: performance.now() - started }),
        );
      });
      expect(outcome?.err).toMatchObject({
        name: 'ServiceUnavailableException',
        $metadata: { httpStatusCode: 503 },
      });
      expect(String((outcome?.err as Error | undefined)?.message)).toMatch(/timed out/);
      expect(outcome?.ms).toBeLessThan(3_000);
    } finally {
      await holder.end();
    }
    // Nothing was deleted, and the next call goes through.
    const listed = await cp.ecs.send(new ListClustersCommand({}));
    expect(listed.clusterArns?.some((arn) => arn.endsWith('/held'))).toBe(true);
    await cp.ecs.send(new DeleteClusterCommand({ cluster: 'held' }));
  });
});
