import { BosunError, type EcsErrorCode } from '@bosun/model';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { databaseFailure } from '../db/failures.ts';

const AUTH_CODES = new Set<EcsErrorCode>([
  'MissingAuthenticationTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
]);

export function httpStatusFor(code: EcsErrorCode): number {
  if (code === 'ServerException') return 500;
  if (code === 'ServiceUnavailableException') return 503;
  // Refused signatures are 403 (as AWS); AccessDeniedException is an ECS error like the others: 400.
  if (AUTH_CODES.has(code)) return 403;
  if (code === 'UnknownOperationException') return 400;
  return 400;
}

/** What the caller is told when Postgres is down or a statement ran out of time (db/failures.ts). */
const DATABASE_MESSAGES = {
  unavailable: 'bosun cannot reach its database right now; retry the request.',
  timeout:
    'A database statement of this request timed out (a slow statement or a lock held too long); retry the request.',
} as const;

/**
 * The one place that turns errors into ECS error responses. Anything the client caused is a 4xx
 * with an ECS `__type`; Postgres or Redis down or too slow is ServiceUnavailableException (503, which
 * the SDKs retry); any other fault on bosun's side is ServerException.
 */
export function ecsErrorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const { code, message } = classifyError(error, request);
  const status = httpStatusFor(code);
  // Only the error itself: a postgres.js error's query and parameters are left out by the logger's
  // serializer (http/log-redaction.ts), and the request body is never logged.
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code, message }, 'request rejected');
  return sendEcsError(reply, code, message);
}

/** The ECS error code and message the caller gets for an error (also what the audit log records). */
export function classifyError(
  error: FastifyError | Error,
  request?: FastifyRequest,
): { code: EcsErrorCode; message: string } {
  let code: EcsErrorCode;
  let message: string;
  if (error instanceof BosunError) {
    code = error.code;
    message = error.message;
  } else if ('statusCode' in error && typeof error.statusCode === 'number' && error.statusCode < 500) {
    // fastify's own client errors: body too large, bad content length, aborted request…
    code = 'ClientException';
    message =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `Request body is larger than the limit of ${request?.routeOptions.bodyLimit ?? 'the configured'} bytes.`
        : error.message;
  } else {
    const failure = databaseFailure(error);
    if (failure !== undefined) {
      code = 'ServiceUnavailableException';
      message = DATABASE_MESSAGES[failure];
    } else {
      code = 'ServerException';
      message = 'bosun hit an internal error; the request may be retried.';
    }
  }
  return { code, message };
}

export function sendEcsError(
  reply: FastifyReply,
  code: EcsErrorCode,
  message: string,
  status = httpStatusFor(code),
) {
  return reply
    .status(status)
    .header('content-type', 'application/x-amz-json-1.1')
    .header('x-amzn-ErrorType', code)
    .send(JSON.stringify({ __type: code, message }));
}
