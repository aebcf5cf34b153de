import { createScratchDatabase } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../src/db/client.ts';
import { insertRowsAsJson } from '../src/db/insert-json.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import { clusters, joinTokens } from '../src/db/schema/index.ts';

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let database: Database;

beforeAll(async () => {
  scratch = await createScratchDatabase();
  await applyMigrations(scratch.url);
  database = connectDatabase(scratch.url, { max: 1 });
}, 60_000);

afterAll(async () => {
  await database?.close();
  await scratch?.drop();
});

describe('insertRowsAsJson', () => {
  it('stores every row whole, a key only a later row has included; columns no row names take their defaults', async () => {
    const [cluster] = await database.db
      .insert(clusters)
      .values({ name: 'json', status: 'ACTIVE', settings: [] })
      .returning({ id: clusters.id });
    const clusterId = cluster?.id ?? '';
    const expiresAt = new Date('2030-01-02T03:04:05.678Z');
    await database.db.transaction((tx) =>
      insertRowsAsJson(tx, joinTokens, [
        { clusterId, tokenHash: 'first', expiresAt },
        { clusterId, tokenHash: 'second "quoted"', expiresAt, maxCpu: 2048 },
      ]),
    );
    const rows = await database.sql`
      select token_hash, max_cpu, revoked_at, created_at, id from join_tokens order by token_hash`;
    expect(rows.map((r) => [r.token_hash, r.max_cpu, r.revoked_at])).toEqual([
      ['first', null, null],
      ['second "quoted"', 2048, null],
    ]);
    for (const row of rows) {
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.now() - new Date(row.created_at).getTime()).toBeLessThan(60_000);
    }
  });

  it('inserts nothing for no rows', async () => {
    const count = async () => (await database.sql`select count(*)::int as n from join_tokens`)[0]?.n;
    const before = await count();
    await database.db.transaction((tx) => insertRowsAsJson(tx, joinTokens, []));
    expect(await count()).toBe(before);
  });
});
