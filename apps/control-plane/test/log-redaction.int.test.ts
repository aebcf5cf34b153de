import { createScratchDatabase, type ScratchDatabase } from '@bosun/testkit';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../src/db/client.ts';
import { LOG_SERIALIZERS } from '../src/db/safe-error.ts';

/**
 * A failed statement carries its parameters (drizzle's message and fields, postgres.js's `parameters`,
 * Postgres' own message quoting the value); the control plane's loggers must print none of them.
 */
let scratch: ScratchDatabase;
let database: Database;
beforeAll(async () => {
  scratch = await createScratchDatabase();
  database = connectDatabase(scratch.url, { max: 1 });
});
afterAll(async () => {
  await database?.close();
  await scratch?.drop();
});

const SECRET = 'TASK_ENV_SECRET_value_7f3a';

/** The log line a logger writes for this error. */
function logged(err: unknown, serializers?: typeof LOG_SERIALIZERS): string {
  const lines: string[] = [];
  const stream = { write: (l: string) => void lines.push(l) };
  const log = serializers ? pino({ serializers }, stream) : pino({}, stream);
  log.error({ err }, 'request failed');
  return lines.join('');
}

describe('failed database statements in the log', () => {
  it('never show a parameter, yet keep what tells what failed', async () => {
    // Postgres refuses the value and quotes it in its message; drizzle puts it in its own too.
    const err = await database.db.execute(sql`select ${SECRET}::int as n`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);

    // Without the serializer the secret is printed (so this test can fail)…
    expect(logged(err)).toContain(SECRET);

    // …with it, not; what remains says what failed.
    const line = logged(err, LOG_SERIALIZERS);
    expect(line).not.toContain(SECRET);
    expect(line).not.toContain('params');
    const parsed = JSON.parse(line) as {
      err: { message: string; cause: { code: string; routine: string; message: string } };
    };
    expect(parsed.err.message).toMatch(/Failed query/);
    expect(parsed.err.cause.code).toBe('22P02');
    expect(parsed.err.cause.message).toBe('invalid input syntax for type integer: "…"');
  });

  it('hold for a unique violation, whose detail repeats the value', async () => {
    await database.db.execute(sql`create table t (name text primary key)`);
    await database.db.execute(sql`insert into t values (${SECRET})`);
    const err = await database.db.execute(sql`insert into t values (${SECRET})`).catch((e: unknown) => e);
    expect(logged(err)).toContain(SECRET);
    const line = logged(err, LOG_SERIALIZERS);
    expect(line).not.toContain(SECRET);
    expect(line).toContain('t_pkey');
  });
});
