/**
 * One error hierarchy for all of bosun. Each error carries the ECS error code the API reports
 * (`__type`). Only the control plane's error handler knows how these become HTTP responses.
 */
export type EcsErrorCode =
  | 'ClientException'
  | 'InvalidParameterException'
  | 'ServerException'
  // AWS-wide: a dependency of the service is down or slow; the SDKs retry it (HTTP 503).
  | 'ServiceUnavailableException'
  | 'ClusterNotFoundException'
  | 'ServiceNotFoundException'
  | 'ServiceNotActiveException'
  | 'ClusterContainsContainerInstancesException'
  | 'ClusterContainsServicesException'
  | 'ClusterContainsTasksException'
  | 'AccessDeniedException'
  | 'LimitExceededException'
  | 'ResourceNotFoundException'
  | 'UnsupportedFeatureException'
  | 'AttributeLimitExceededException'
  | 'TargetNotFoundException'
  // AWS-wide authentication errors; the SDKs and the CLI know these names.
  | 'MissingAuthenticationTokenException'
  | 'UnrecognizedClientException'
  | 'InvalidSignatureException'
  // A signature that lacks a required part (AWS's name for it).
  | 'IncompleteSignatureException'
  | 'UnknownOperationException';

export class BosunError extends Error {
  readonly code: EcsErrorCode;
  constructor(code: EcsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = code;
    this.code = code;
  }
}

/** The request itself is wrong in a way ECS reports as a client error. */
export class ClientError extends BosunError {
  constructor(message: string) {
    super('ClientException', message);
  }
}

/** A parameter has a wrong value or shape. */
export class InvalidParameterError extends BosunError {
  constructor(message: string) {
    super('InvalidParameterException', message);
  }
}

export class ClusterNotFoundError extends BosunError {
  constructor(message = 'Cluster not found.') {
    super('ClusterNotFoundException', message);
  }
}

/** No service of that name or ARN in the cluster. */
export class ServiceNotFoundError extends BosunError {
  constructor(message = 'Service not found.') {
    super('ServiceNotFoundException', message);
  }
}

/** The service exists but is not ACTIVE (being deleted, or deleted). */
export class ServiceNotActiveError extends BosunError {
  constructor(message = 'Service was not ACTIVE.') {
    super('ServiceNotActiveException', message);
  }
}

export class ResourceNotFoundError extends BosunError {
  constructor(message: string) {
    super('ResourceNotFoundException', message);
  }
}

export class LimitExceededError extends BosunError {
  constructor(message: string) {
    super('LimitExceededException', message);
  }
}

/** A resource would carry more custom attributes than allowed (ECS: 10 per resource, 10 per call). */
export class AttributeLimitExceededError extends BosunError {
  constructor(message: string) {
    super('AttributeLimitExceededException', message);
  }
}

/** The target of an attribute call (a container instance) does not exist in the cluster. */
export class TargetNotFoundError extends BosunError {
  constructor(message: string) {
    super('TargetNotFoundException', message);
  }
}

/** The cluster still holds something that must go first. */
export class ClusterNotEmptyError extends BosunError {
  constructor(
    what:
      | 'ClusterContainsContainerInstancesException'
      | 'ClusterContainsServicesException'
      | 'ClusterContainsTasksException',
    message: string,
  ) {
    super(what, message);
  }
}

export class UnsupportedFeatureError extends BosunError {
  constructor(message: string) {
    super('UnsupportedFeatureException', message);
  }
}

export class AuthenticationError extends BosunError {
  constructor(
    code:
      | 'MissingAuthenticationTokenException'
      | 'UnrecognizedClientException'
      | 'InvalidSignatureException'
      | 'IncompleteSignatureException',
    message: string,
  ) {
    super(code, message);
  }
}

/** The caller's key is known and its signature good, but its policy does not allow the call. */
export class AccessDeniedError extends BosunError {
  constructor(message: string) {
    super('AccessDeniedException', message);
  }
}

export class UnknownOperationError extends BosunError {
  constructor(action: string) {
    super('UnknownOperationException', `Unknown operation ${JSON.stringify(action)}.`);
  }
}

/** Something on bosun's side failed (database down, bug). Safe to retry. */
export class ServerError extends BosunError {
  constructor(message: string, cause?: unknown) {
    super('ServerException', message, { cause });
  }
}

/**
 * bosun cannot serve the request now because Postgres or Redis is down or did not answer in time.
 * Safe to retry; the SDKs and the CLI retry it by themselves.
 */
export class ServiceUnavailableError extends BosunError {
  constructor(message: string, cause?: unknown) {
    super('ServiceUnavailableException', message, { cause });
  }
}

/** Expected outcomes of pure code are values, not throws. */
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });
