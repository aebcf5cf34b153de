import { ClientError, ServiceUnavailableError } from '@bosun/model';
import { DrizzleQueryError } from 'drizzle-orm';
import Fastify from 'fastify';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { ecsErrorHandler } from './errors.ts';

const pgError = (code: string) =>
  new postgres.PostgresError({ code, message: `sqlstate ${code}` } as unknown as string);

/** What the one error handler answers for an error a handler throws. */
async function answerFor(err: unknown) {
  const app = Fastify({ logger: false });
  app.setErrorHandler(ecsErrorHandler);
  app.post('/', async () => {
    throw err;
  });
  const res = await app.inject({ method: 'POST', url: '/' });
  await app.close();
  return { status: res.statusCode, type: res.headers['x-amzn-errortype'], body: res.json() };
}

describe('ecsErrorHandler', () => {
  it.each([
    {
      what: 'a lock timeout (through drizzle)',
      err: new DrizzleQueryError('update …', [], pgError('55P03')),
      status: 503,
      type: 'ServiceUnavailableException',
      message: /timed out/,
    },
    {
      what: 'a statement timeout',
      err: pgError('57014'),
      status: 503,
      type: 'ServiceUnavailableException',
      message: /timed out/,
    },
    {
      what: 'Postgres unreachable',
      err: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      status: 503,
      type: 'ServiceUnavailableException',
      message: /cannot reach its database/,
    },
    {
      what: 'Redis unreachable (a queue add)',
      err: new ServiceUnavailableError(
        'bosun cannot reach Redis to queue a services job; retry the request.',
      ),
      status: 503,
      type: 'ServiceUnavailableException',
      message: /cannot reach Redis/,
    },
    {
      what: 'a value Postgres refuses',
      err: pgError('22007'),
      status: 500,
      type: 'ServerException',
      message: /internal error/,
    },
    {
      what: 'a bug',
      err: new TypeError('x is undefined'),
      status: 500,
      type: 'ServerException',
      message: /internal/,
    },
    {
      what: 'a client error',
      err: new ClientError('bad'),
      status: 400,
      type: 'ClientException',
      message: /bad/,
    },
  ])('$what → $status $type', async ({ err, status, type, message }) => {
    const answer = await answerFor(err);
    expect(answer.status).toBe(status);
    expect(answer.type).toBe(type);
    expect(answer.body.__type).toBe(type);
    expect(answer.body.message).toMatch(message);
  });
});
