import { DrizzleQueryError } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { databaseFailure } from './failures.ts';

const pgError = (code: string) =>
  new postgres.PostgresError({ code, message: `sqlstate ${code}` } as unknown as string);
const coded = (code: string) => Object.assign(new Error(code), { code });

describe('databaseFailure', () => {
  it.each([
    { what: 'statement_timeout', err: pgError('57014'), failure: 'timeout' },
    { what: 'lock_timeout', err: pgError('55P03'), failure: 'timeout' },
    { what: 'idle_in_transaction_session_timeout', err: pgError('25P03'), failure: 'timeout' },
    { what: 'admin shutdown', err: pgError('57P01'), failure: 'unavailable' },
    { what: 'the database is starting up', err: pgError('57P03'), failure: 'unavailable' },
    { what: 'too many connections', err: pgError('53300'), failure: 'unavailable' },
    { what: 'connection failure', err: pgError('08006'), failure: 'unavailable' },
    { what: 'I/O error', err: pgError('58030'), failure: 'unavailable' },
    { what: 'connection refused', err: coded('ECONNREFUSED'), failure: 'unavailable' },
    { what: "postgres.js' connect timeout", err: coded('CONNECT_TIMEOUT'), failure: 'unavailable' },
    { what: "postgres.js' closed connection", err: coded('CONNECTION_CLOSED'), failure: 'unavailable' },
    {
      what: 'a timeout wrapped by drizzle',
      err: new DrizzleQueryError('select 1', [], pgError('55P03')),
      failure: 'timeout',
    },
    { what: 'a refused timestamp (the statement’s own)', err: pgError('22007'), failure: undefined },
    { what: 'a unique violation', err: pgError('23505'), failure: undefined },
    { what: 'a deadlock', err: pgError('40P01'), failure: undefined },
    {
      what: 'a refused value wrapped by drizzle',
      err: new DrizzleQueryError('select 1', [], pgError('22008')),
      failure: undefined,
    },
    { what: 'a plain error', err: new Error('bug'), failure: undefined },
    { what: 'not an error', err: 'oops', failure: undefined },
  ])('$what → $failure', ({ err, failure }) => {
    expect(databaseFailure(err)).toBe(failure);
  });
});
