import postgres from 'postgres';

/**
 * Why a statement failed, when the reason is the database rather than what the statement carried:
 * - `unavailable`: no connection (refused, closed, connect timeout) or a server that is shutting down,
 *   out of connections or resources;
 * - `timeout`: the statement ran out of `statement_timeout`, waited out `lock_timeout` or its
 *   transaction sat idle past `idle_in_transaction_session_timeout` (client/settings.ts).
 * Anything else (undefined) may be the statement's own doing: a value Postgres refuses, a constraint.
 */
export type DatabaseFailure = 'unavailable' | 'timeout';

/** postgres.js' own connection errors, and the socket's. */
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a statement stopped by a timeout: query_canceled (statement_timeout), lock_not_available, idle_in_transaction_session_timeout. */
const TIMEOUT_STATES = new Set(['57014', '55P03', '25P03']);

/**
 * SQLSTATE classes of a server that cannot serve: 08 connection exception, 53 insufficient
 * resources (too many connections, disk full), 57P0x admin/crash shutdown and "cannot connect now"
 * (starting up), 58 system error.
 */
function unavailableState(state: string): boolean {
  return (
    state.startsWith('08') || state.startsWith('53') || state.startsWith('57P') || state.startsWith('58')
  );
}

export function databaseFailure(err: unknown): DatabaseFailure | undefined {
  // drizzle wraps the driver's error (DrizzleQueryError); look through causes.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof postgres.PostgresError) {
      if (TIMEOUT_STATES.has(e.code)) return 'timeout';
      if (unavailableState(e.code)) return 'unavailable';
      return undefined;
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return 'unavailable';
  }
  return undefined;
}
