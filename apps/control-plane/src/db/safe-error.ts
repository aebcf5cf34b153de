/**
 * What the control plane's logs may say about an error. A failed database statement carries its
 * values: drizzle's DrizzleQueryError puts the query and every parameter in its message and fields,
 * postgres.js adds `query`, `parameters` and `args`, and Postgres itself quotes offending values in
 * its messages and `detail` (`invalid input syntax for type integer: "…"`, `Key (name)=(…)`). Those
 * values are task environments, secrets (sealed or not), access-key policies. So every logger of the
 * control plane serializes `err` through `safeError`: type, SQLSTATE code, routine and schema names,
 * the message with quoted values blanked and without drizzle's query/params part, the stack frames,
 * and the cause — never query text, parameters or details.
 */
export interface SafeError {
  [key: string]: unknown;
  type: string;
  message: string;
  code?: string;
  severity?: string;
  routine?: string;
  table?: string;
  column?: string;
  constraint?: string;
  stack: string;
  cause?: SafeError;
}

/** Double- or single-quoted runs: where Postgres (and drizzle's `params:` line) puts values. */
const QUOTED = /"[^"]*"|'[^']*'/g;

function safeMessage(message: string): string {
  // DrizzleQueryError: "Failed query: <sql>\nparams: <values>". The statement's text is bosun's, but
  // jsonb and raw fragments may inline values: keep neither.
  if (message.startsWith('Failed query:'))
    return 'Failed query (statement and parameters withheld from the log)';
  return message.replace(QUOTED, '"…"');
}

const field = (e: Record<string, unknown>, name: string): string | undefined =>
  typeof e[name] === 'string' ? (e[name] as string) : undefined;

export function safeError(err: unknown, depth = 0): SafeError {
  if (!(err instanceof Error)) {
    const message = '(a thrown non-error value, withheld)';
    return { type: typeof err, message, stack: message };
  }
  const e = err as unknown as Record<string, unknown>;
  const message = safeMessage(err.message);
  const type = err.constructor?.name ?? err.name;
  const frames = typeof err.stack === 'string' ? err.stack.indexOf('\n    at ') : -1;
  const out: SafeError = {
    type,
    message,
    ...(field(e, 'code') === undefined ? {} : { code: field(e, 'code') }),
    ...(field(e, 'severity') === undefined ? {} : { severity: field(e, 'severity') }),
    ...(field(e, 'routine') === undefined ? {} : { routine: field(e, 'routine') }),
    ...(field(e, 'table_name') === undefined ? {} : { table: field(e, 'table_name') }),
    ...(field(e, 'column_name') === undefined ? {} : { column: field(e, 'column_name') }),
    ...(field(e, 'constraint_name') === undefined ? {} : { constraint: field(e, 'constraint_name') }),
    stack: `${type}: ${message}${frames === -1 ? '' : (err.stack as string).slice(frames)}`,
  };
  if (err.cause !== undefined && depth < 5) out.cause = safeError(err.cause, depth + 1);
  return out;
}

/** pino's `serializers` for every logger of the control plane. */
export const LOG_SERIALIZERS = { err: safeError, error: safeError };
