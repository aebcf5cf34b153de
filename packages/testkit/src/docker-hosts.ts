import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './commands.ts';
import { REPO_ROOT } from './repo-root.ts';

/**
 * Extra Docker hosts for a test, through scripts/hosts, in a scratch directory with its own bridge
 * prefix and subnet so a developer's own hosts are left alone. Agents are the test's to start
 * (with DOCKER_HOST from `dockerHost(n)`), so the hosts come up without them.
 */
export interface TestHosts {
  dockerHost(n: number): string;
  stopHost(n: number): Promise<void>;
  startHost(n: number): Promise<void>;
  down(): Promise<void>;
}

export async function startTestHosts(count: number): Promise<TestHosts> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-test-hosts-'));
  const env = {
    ...process.env,
    BOSUN_HOSTS_DIR: dir,
    BOSUN_HOSTS_PREFIX: `bf${process.pid % 100000}-`,
    BOSUN_HOSTS_NET: 'auto', // a free 10.X: another test, a bench or a left-over bridge may hold any fixed one
    BOSUN_HOSTS_LOG_DIR: '',
    BOSUN_HOSTS_RUN_DIR: '',
  };
  const hosts = async (...args: string[]) =>
    (await run(join(REPO_ROOT, 'scripts/hosts'), args, { cwd: REPO_ROOT, env, timeout: 120_000 })).stdout;
  const down = async () => {
    await hosts('down', '--purge');
    rmSync(dir, { recursive: true, force: true });
  };
  let out: string;
  try {
    out = await hosts('up', String(count), '--no-agents');
  } catch (e) {
    // A half-made set of hosts (a bridge, a daemon) would outlive the test that asked for it.
    await down().catch(() => {});
    throw e;
  }
  const dockerHosts = new Map<number, string>();
  for (const m of out.matchAll(/^h(\d+) \S+ DOCKER_HOST=(\S+)/gm)) dockerHosts.set(Number(m[1]), m[2] ?? '');
  return {
    dockerHost(n) {
      const h = dockerHosts.get(n);
      if (!h) throw new Error(`no host ${n} in:\n${out}`);
      return h;
    },
    async stopHost(n) {
      await hosts('stop-host', String(n));
    },
    async startHost(n) {
      await hosts('start-host', String(n));
    },
    down,
  };
}
