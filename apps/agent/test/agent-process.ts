import { type ChildProcess, execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { REPO_ROOT, spawnTs } from '../../control-plane/test/server-process.ts';

const run = promisify(execFile);

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM by default; SIGKILL to simulate a crash. Resolves with the exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A join token for `cluster`, made the way a user does: the bosun CLI with the admin env file. */
export async function createJoinToken(envFile: string, cluster = 'default'): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      'apps/control-plane/src/cli.ts',
      'join-token',
      '--cluster',
      cluster,
      '--env',
      envFile,
    ],
    { cwd: REPO_ROOT },
  );
  return stdout.trim();
}

/** Starts `apps/agent/src/main.ts` as a real process and waits until it has registered or resumed. */
export async function startAgentProcess(env: Record<string, string>): Promise<AgentProcess> {
  const { child, output } = spawnTs('apps/agent/src/main.ts', {
    BOSUN_LOG_LEVEL: 'info',
    BOSUN_HOST_IP: '127.0.0.1',
    ...env,
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!/registered container instance|resuming as registered/.test(output())) {
    if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`agent did not register:\n${output()}`);
    await sleep(100);
  }
  return {
    child,
    output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
