/** The docker CLI, synchronously (clean-up steps and measurements call it between awaits). */
import { execFileSync } from 'node:child_process';

/** Runs the docker CLI against DOCKER_HOST `host` (undefined: the environment's). */
export function dockerCli(host: string | undefined, args: string[], timeoutMs = 120_000): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    env: { ...process.env, ...(host ? { DOCKER_HOST: host } : {}) },
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}
