import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  /** The variables `.bosun/env` exports, parsed. */
  clientEnv: Record<string, string>;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Parses the `export NAME='value'` lines the control plane writes. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return out;
}

/** Starts `apps/control-plane/src/server.ts` as a real process, the way scripts/up does. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const stateDir = env.BOSUN_STATE_DIR ?? '';
  const envFile = `${stateDir}/env`;
  const { child, output } = spawnTs('apps/control-plane/src/server.ts', {
    BOSUN_PORT: '0',
    BOSUN_LOG_LEVEL: 'info',
    ...env,
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!output().includes('bosun control plane ready')) {
    if (child.exitCode !== null) throw new Error(`control plane exited with ${child.exitCode}:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`control plane did not become ready:\n${output()}`);
    await sleep(100);
  }
  if (!existsSync(envFile)) throw new Error(`control plane did not write ${envFile}`);
  return {
    child,
    clientEnv: parseEnvFile(readFileSync(envFile, 'utf8')),
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a TypeScript entry point of this repo with tsx, as scripts/up does, collecting its output. */
export function spawnTs(
  entry: string,
  env: Record<string, string>,
): { child: ChildProcess; output(): string } {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  return { child, output: () => output };
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}
