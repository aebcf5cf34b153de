import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../../apps/agent/build.ts';
import { type NodeProcess, spawnNode, waitForProcess } from './node-process.ts';
import { REPO_ROOT } from './repo-root.ts';

const run = promisify(execFile);

export type AgentProcess = NodeProcess;

/**
 * The agent as a real process, resolving once it has registered or resumed. Without `bundle`,
 * `node --import tsx apps/agent/src/main.ts`, as in development; with `bundle` (a file built by
 * apps/agent/build.ts), that file under plain node with AGENT_ENV and `nodeFlags` (AGENT_NODE_FLAGS by
 * default), as scripts/up and docker-compose.yml run it.
 */
export async function startAgentProcess(
  env: Record<string, string>,
  o: {
    bundle?: string | undefined;
    nodeFlags?: readonly string[];
    logFile?: string;
    /** Called as soon as the process exists, before it registered (to register its clean-up). */
    onSpawn?: (proc: NodeProcess) => void;
  } = {},
): Promise<AgentProcess> {
  const args = o.bundle
    ? [...(o.nodeFlags ?? AGENT_NODE_FLAGS), o.bundle]
    : ['--import', 'tsx', 'apps/agent/src/main.ts'];
  const proc = spawnNode(
    args,
    { ...(o.bundle ? AGENT_ENV : {}), BOSUN_LOG_LEVEL: 'info', BOSUN_HOST_IP: '127.0.0.1', ...env },
    o.logFile ? { logFile: o.logFile } : {},
  );
  o.onSpawn?.(proc);
  try {
    await waitForProcess(
      proc,
      'agent',
      () => /registered container instance|resuming as registered/.test(proc.output()),
      60_000,
    );
  } catch (e) {
    await proc.stop('SIGKILL');
    throw e;
  }
  return proc;
}

/** The container instance id the agent keeps in its state directory, once it wrote it. */
export function agentInstanceId(stateDir: string): string | undefined {
  const file = join(stateDir, 'agent.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { containerInstanceId: string }).containerInstanceId;
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
