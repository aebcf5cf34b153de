/**
 * The processes a benchmark starts, through the testkit's one way of starting each, with their output
 * in bench/results/logs/<name>.log and each one stopped at clean-up (SIGTERM, then SIGKILL).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AccessKey,
  type NodeProcess,
  requireEnv,
  spawnNode,
  startAgentProcess,
  startControlPlaneProcess,
} from '@bosun/testkit';
import { AGENT_NODE_FLAGS, buildAgent } from '../../apps/agent/build.ts';
import { resultsDir } from './report.ts';
import { onCleanup } from './run.ts';
import { tempDir } from './services.ts';

export interface Proc extends NodeProcess {
  logFile: string;
}

function logFileFor(name: string): string {
  const dir = join(resultsDir(), 'logs');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.log`);
}

/**
 * Registers a process for clean-up the moment it exists (a start that fails or is interrupted leaves
 * nothing running); `owned` gives back what the start made, with a stop() that also unregisters it.
 */
function ownedByRun(name: string): {
  onSpawn(proc: NodeProcess): void;
  owned<P extends NodeProcess>(proc: P): P & Proc;
} {
  let remove: () => Promise<void> = async () => {};
  return {
    onSpawn(proc) {
      remove = onCleanup(`stop ${name} (pid ${proc.pid})`, () => proc.stop());
    },
    owned(proc) {
      return {
        ...proc,
        logFile: proc.logFile ?? '',
        async stop(signal?: NodeJS.Signals) {
          const code = await proc.stop(signal);
          await remove();
          return code;
        },
      };
    },
  };
}

/** `node ARGS` with output to its log file; stopped at clean-up. */
export function spawnLogged(name: string, args: string[], env: Record<string, string>): Proc {
  const run = ownedByRun(name);
  const proc = spawnNode(args, env, { logFile: logFileFor(name) });
  run.onSpawn(proc);
  return run.owned(proc);
}

export interface ControlPlane extends Proc {
  endpoint: string;
  key: AccessKey;
  stateDir: string;
}

/**
 * `apps/control-plane/src/server.ts` as a real process, the way scripts/up starts it. BOSUN_LOG_LEVEL
 * defaults to warn here (BOSUN_BENCH_LOG_LEVEL overrides): with `info`, fastify logs two lines per
 * request, which would be part of what is measured.
 */
export async function startControlPlane(
  name: string,
  o: { databaseUrl: string; queuePrefix: string; masterKey?: string; env?: Record<string, string> },
): Promise<ControlPlane> {
  const run = ownedByRun(name);
  // BOSUN_BENCH_CPU_PROF=DIR: write a V8 CPU profile of the control plane there when it stops.
  const profile = process.env.BOSUN_BENCH_CPU_PROF;
  const cp = await startControlPlaneProcess(
    {
      DATABASE_URL: o.databaseUrl,
      REDIS_URL: requireEnv('REDIS_URL'),
      BOSUN_STATE_DIR: tempDir(`bosun-bench-${name}-`),
      BOSUN_QUEUE_PREFIX: o.queuePrefix,
      BOSUN_LOG_LEVEL: process.env.BOSUN_BENCH_LOG_LEVEL ?? 'warn',
      ...(o.masterKey ? { BOSUN_MASTER_KEY: o.masterKey } : {}),
      ...o.env,
    },
    {
      logFile: logFileFor(name),
      nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
      onSpawn: run.onSpawn,
    },
  );
  return run.owned(cp);
}

/**
 * The agent as a real process, resolving once it registered: with `bundle` (agentBundle()), that file
 * under plain `node` with agentNodeFlags() and AGENT_ENV, as scripts/up and docker-compose.yml run it;
 * without, `node --import tsx apps/agent/src/main.ts`, as in development and the tests.
 */
export async function startAgent(name: string, env: Record<string, string>, bundle?: string): Promise<Proc> {
  const run = ownedByRun(name);
  const agent = await startAgentProcess(env, {
    bundle,
    nodeFlags: agentNodeFlags(),
    logFile: logFileFor(name),
    onSpawn: run.onSpawn,
  });
  return run.owned(agent);
}

/**
 * Node flags for the bundled agent: apps/agent/build.ts's AGENT_NODE_FLAGS, those scripts/up and
 * docker-compose.yml use; BOSUN_BENCH_AGENT_NODE_FLAGS (space-separated, may be empty) replaces them,
 * to see what a flag is worth.
 */
export function agentNodeFlags(): string[] {
  const override = process.env.BOSUN_BENCH_AGENT_NODE_FLAGS;
  if (override === undefined) return [...AGENT_NODE_FLAGS];
  return override.split(/\s+/).filter(Boolean);
}

/**
 * The agent bundle as scripts/build-agent makes it (apps/agent/build.ts, the same function), written
 * to bench/results/agent-bundle/agent.mjs rather than apps/agent/dist/ so that a running scripts/up is
 * left alone. Returns its path and size.
 */
export async function agentBundle(): Promise<{ file: string; bytes: number }> {
  const dir = join(resultsDir(), 'agent-bundle');
  mkdirSync(dir, { recursive: true });
  const { outfile, bytes } = await buildAgent({ outfile: join(dir, 'agent.mjs') });
  return { file: outfile, bytes };
}
