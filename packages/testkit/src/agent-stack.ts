import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AgentProcess, agentInstanceId, createJoinToken, startAgentProcess } from './agent-process.ts';
import { awsEcs, run } from './commands.ts';
import { type ControlPlaneProcess, startControlPlaneProcess } from './control-plane-process.ts';
import { freePort } from './free-port.ts';
import { REPO_ROOT } from './repo-root.ts';
import { createScratchDatabase } from './scratch-database.ts';

export interface Task {
  taskArn: string;
  lastStatus: string;
  desiredStatus: string;
  stopCode?: string;
  stoppedReason?: string;
  containers: {
    name: string;
    lastStatus: string;
    exitCode?: number;
    reason?: string;
    runtimeId?: string;
    healthStatus?: string;
    networkBindings?: { hostPort: number; containerPort: number; bindIP: string }[];
  }[];
}

/** One agent of the stack: its process, state directory and Docker. */
export interface StackAgent {
  process: AgentProcess;
  dir: string;
  /** The Docker daemon it manages (DOCKER_HOST), or undefined for the default one. */
  dockerHost: string | undefined;
  instanceId(): string;
  /** Kills or stops it and starts it again on the same state directory (extra env for this run). */
  restart(signal: NodeJS.Signals, env?: Record<string, string>): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again after stop(). */
  start(env?: Record<string, string>): Promise<void>;
}

export interface Stack {
  server: ControlPlaneProcess;
  /** The first agent's process. */
  agent: AgentProcess;
  agents: StackAgent[];
  /** Another agent, joined with its own token (e.g. on another Docker host: DOCKER_HOST in env). */
  addAgent(env?: Record<string, string>): Promise<StackAgent>;
  stateDir: string;
  /** The stack's scratch database (for tests that read Postgres' own record, e.g. with queryOnce). */
  databaseUrl: string;
  aws(...args: string[]): Promise<Record<string, unknown>>;
  /** The aws CLI against another control-plane process of this stack. */
  awsVia(server: ControlPlaneProcess, ...args: string[]): Promise<Record<string, unknown>>;
  /** Another control-plane process on the same database, Redis and master key (extra env for it alone). */
  addServer(env?: Record<string, string>): Promise<ControlPlaneProcess>;
  /** scripts/bosun with this stack's credentials. */
  bosun(...args: string[]): Promise<string>;
  describeTask(arn: string): Promise<Task>;
  waitForTask(arn: string, ok: (t: Task) => boolean, timeoutMs?: number): Promise<Task>;
  runTask(family: string): Promise<string>;
  /** Registers a one-container task definition of bosun/busybox running `command` (default: sleep). */
  registerBusybox(family: string, command?: string[]): Promise<void>;
  /** Kills or stops the agent and starts it again on the same state directory (extra env for this run). */
  restartAgent(signal: NodeJS.Signals, env?: Record<string, string>): Promise<void>;
  /** Stops the control plane; the returned function starts it again on the same port and data. */
  stopServer(signal?: NodeJS.Signals): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Extra agent settings, DOCKER_HOST among them. */
  agentEnv?: Record<string, string>;
  /** A Postgres server URL other than DATABASE_URL's (the fault suite restarts its own). */
  databaseServerUrl?: string;
  /** Extra control-plane settings (e.g. BOSUN_AGENT_TIMEOUT_SECONDS). */
  serverEnv?: Record<string, string>;
  /** Start no agent (the test adds its own with addAgent). */
  noAgent?: boolean;
}

/**
 * bosun as a new user runs it, for end-to-end tests: the control plane and one agent as real
 * processes over a scratch database and real Docker, driven with the real `aws` CLI.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const agentEnv = options.agentEnv ?? {};
  const scratch = await createScratchDatabase({ serverUrl: options.databaseServerUrl });
  const stateDir = mkdtempSync(join(tmpdir(), 'bosun-e2e-cp-'));
  // A fixed port, so a restarted control plane is where the agent expects it.
  const serverEnv = {
    DATABASE_URL: scratch.url,
    REDIS_URL: process.env.REDIS_URL ?? '',
    BOSUN_STATE_DIR: stateDir,
    BOSUN_PORT: String(await freePort()),
    ...options.serverEnv,
  };
  let server = await startControlPlaneProcess(serverEnv);
  const envFile = join(stateDir, 'env');
  const agents: StackAgent[] = [];
  const addAgent = async (env: Record<string, string> = {}): Promise<StackAgent> => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-e2e-agent-'));
    const base = {
      BOSUN_CONTROL_PLANE_URL: server.clientEnv.AWS_ENDPOINT_URL_ECS ?? '',
      BOSUN_AGENT_STATE_DIR: dir,
      BOSUN_TASK_CLEANUP_DELAY_SECONDS: '3600',
      BOSUN_RELIST_INTERVAL_SECONDS: '1',
      ...env,
    };
    let proc = await startAgentProcess({ ...base, BOSUN_JOIN_TOKEN: await createJoinToken(envFile) });
    const handle: StackAgent = {
      get process() {
        return proc;
      },
      dir,
      dockerHost: env.DOCKER_HOST,
      instanceId: () => {
        const id = agentInstanceId(dir);
        if (!id) throw new Error(`the agent in ${dir} wrote no agent.json`);
        return id;
      },
      async restart(signal, extra = {}) {
        await proc.stop(signal);
        proc = await startAgentProcess({ ...base, ...extra });
      },
      async stop(signal) {
        await proc.stop(signal);
      },
      async start(extra = {}) {
        proc = await startAgentProcess({ ...base, ...extra });
      },
    };
    agents.push(handle);
    return handle;
  };
  if (!options.noAgent) await addAgent(agentEnv);
  const firstAgent = () => {
    const a = agents[0];
    if (!a) throw new Error('this stack has no agent');
    return a;
  };

  const awsVia = (via: ControlPlaneProcess, ...args: string[]) =>
    awsEcs({ ...server.clientEnv, ...endpointOf(via) }, stateDir, ...args);
  const aws = (...args: string[]) => awsVia(server, ...args);
  const extraServers: ControlPlaneProcess[] = [];
  const describeTask = async (arn: string) => {
    const out = (await aws('describe-tasks', '--tasks', arn)) as { tasks: Task[] };
    const task = out.tasks[0];
    if (!task) throw new Error(`task ${arn} not found`);
    return task;
  };
  const stack: Stack = {
    get server() {
      return server;
    },
    get agent() {
      return firstAgent().process;
    },
    agents,
    addAgent,
    awsVia,
    async addServer(env = {}) {
      const extra = await startControlPlaneProcess({
        ...serverEnv,
        ...env,
        BOSUN_PORT: String(await freePort()),
      });
      extraServers.push(extra);
      return extra;
    },
    stateDir,
    databaseUrl: scratch.url,
    aws,
    bosun: async (...args) =>
      (await run('scripts/bosun', [...args, '--env', envFile], { cwd: REPO_ROOT })).stdout.trim(),
    describeTask,
    async waitForTask(arn, ok, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: Task | undefined;
      while (Date.now() < deadline) {
        last = await describeTask(arn);
        if (ok(last)) return last;
        await sleep(250);
      }
      throw new Error(
        `task did not reach the expected state; last seen:\n${JSON.stringify(last, null, 2)}\nagent logs:\n${agents.map((a) => a.process.output().slice(-2000)).join('\n---\n')}`,
      );
    },
    async runTask(family) {
      const out = (await aws('run-task', '--task-definition', family)) as {
        tasks: Task[];
        failures: unknown[];
      };
      const arn = out.tasks[0]?.taskArn;
      if (!arn) throw new Error(`run-task ${family} placed nothing: ${JSON.stringify(out.failures)}`);
      return arn;
    },
    async registerBusybox(family, command = ['sleep', '3600']) {
      await aws(
        'register-task-definition',
        '--family',
        family,
        '--container-definitions',
        JSON.stringify([
          { name: 'main', image: 'bosun/busybox:latest', memory: 16, command, stopTimeout: 2 },
        ]),
      );
    },
    async restartAgent(signal, env = {}) {
      await firstAgent().restart(signal, env);
    },
    async stopServer(signal = 'SIGTERM') {
      await server.stop(signal);
      return async () => {
        server = await startControlPlaneProcess(serverEnv);
      };
    },
    async close() {
      // Only this stack's agents' containers, on their own Docker: a developer's bosun may share it.
      for (const a of agents) {
        const env = { ...process.env, ...(a.dockerHost ? { DOCKER_HOST: a.dockerHost } : {}) };
        const inDocker = async (...args: string[]) => (await run('docker', args, { env })).stdout.trim();
        const ids = (
          await inDocker('ps', '-aq', '--filter', `label=bosun.instance-id=${a.instanceId()}`).catch(() => '')
        )
          .split('\n')
          .filter(Boolean);
        await a.stop();
        if (ids.length > 0) await inDocker('rm', '-f', '-v', ...ids).catch(() => '');
      }
      for (const extra of extraServers) await extra.stop();
      await server.stop();
      await scratch.drop();
    },
  };
  return stack;
}

/** Only the endpoint of another process: credentials stay the first one's (they share the database). */
function endpointOf(server: ControlPlaneProcess): Record<string, string> {
  const url = server.clientEnv.AWS_ENDPOINT_URL_ECS ?? '';
  return { AWS_ENDPOINT_URL_ECS: url, AWS_ENDPOINT_URL: url };
}

/** Polls until ok() holds; resolves with the milliseconds it took, or fails saying what it waited for. */
export async function waitUntil(
  what: string,
  ok: () => Promise<boolean>,
  timeoutMs = 90_000,
  explain: () => Promise<string> = async () => '',
): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await ok()) return Date.now() - started;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${await explain()}`);
}

export interface ServiceView {
  desiredCount: number;
  runningCount: number;
  taskDefinition: string;
  deployments: { rolloutState?: string }[];
}

/** DescribeServices for one service, through the aws CLI. */
export async function describeService(stack: Stack, name: string): Promise<ServiceView> {
  const out = (await stack.aws('describe-services', '--services', name)) as { services: ServiceView[] };
  const s = out.services[0];
  if (!s) throw new Error(`no service ${name}`);
  return s;
}
