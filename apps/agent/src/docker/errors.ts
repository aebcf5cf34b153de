import { DockerOperationError } from './types.ts';

/**
 * dockerode rejects with `statusCode` + `json` when Docker answered, and with a socket error (`code`)
 * when it could not be reached. Only the second is worth retrying as is: an answer from Docker will
 * be the same answer next time.
 */

export type EcsErrorName =
  | 'CannotPullContainerError'
  | 'CannotCreateContainerError'
  | 'CannotStartContainerError'
  | 'CannotStopContainerError'
  | 'CannotRemoveContainerError'
  | 'CannotInspectContainerError'
  | 'CannotListContainersError'
  | 'CannotInspectVolumeError'
  | 'CannotRemoveTaskResourcesError';

export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('statusCode' in err)) return undefined;
  return typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

export function isDockerUnreachable(err: unknown): boolean {
  if (err instanceof DockerOperationError) return err.retryable;
  if (statusCodeOf(err) !== undefined) return false;
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string';
}

/** Docker's own wording, without dockerode's `(HTTP code 500) server error - ` prefix. */
export function dockerMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'json' in err) {
    const json = err.json;
    if (typeof json === 'object' && json !== null && 'message' in json && typeof json.message === 'string') {
      return json.message.trim();
    }
    if (typeof json === 'string' && json.trim() !== '') return json.trim();
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

export function operationError(name: EcsErrorName, err: unknown): DockerOperationError {
  if (err instanceof DockerOperationError) return err;
  const unreachable = isDockerUnreachable(err);
  const detail = unreachable ? `Docker is unreachable: ${dockerMessage(err)}` : dockerMessage(err);
  return new DockerOperationError(`${name}: ${detail}`, unreachable, { cause: err });
}
