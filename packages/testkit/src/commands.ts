import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from './repo-root.ts';

/** Runs a command (no shell); resolves with its stdout and stderr, rejects on a non-zero exit. */
export const run = promisify(execFile);

/** The docker CLI against the environment's daemon; its trimmed stdout. */
export const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim();

/**
 * The real AWS CLI (`aws ecs ARGS --output json`) with nothing but what `source .bosun/env` gives a
 * user (`clientEnv`) and a HOME of its own, from the repository root (`file://examples/…` works);
 * the parsed answer.
 */
export async function awsEcs(
  clientEnv: Record<string, string>,
  home: string,
  ...args: string[]
): Promise<Record<string, unknown>> {
  const { stdout } = await run('aws', ['ecs', ...args, '--output', 'json'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: home, ...clientEnv },
  });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}
