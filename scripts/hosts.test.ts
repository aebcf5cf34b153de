import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * scripts/hosts against the real Docker on this machine (needs root, as scripts/hosts does): two
 * extra daemons without agents, in a scratch hosts directory with its own bridge prefix and subnet,
 * so a developer's own `scripts/hosts up` is left alone. afterAll runs `down --purge` whatever happened.
 */
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(REPO_ROOT, 'scripts/hosts');
const IMAGE = 'bosun/busybox:latest';

const hostsDir = mkdtempSync(join(tmpdir(), 'bosun-hosts-test-'));
const prefix = `bt${process.pid}-`; // bridges bt<pid>-1, bt<pid>-2: at most 15 characters
const hostsEnv: NodeJS.ProcessEnv = {
  ...process.env,
  BOSUN_HOSTS_DIR: hostsDir,
  BOSUN_HOSTS_PREFIX: prefix,
  BOSUN_HOSTS_NET: 'auto', // 10.<net>.N.1/24, net chosen by `up` and remembered in harness.env
  BOSUN_HOSTS_LOG_DIR: '',
  BOSUN_HOSTS_RUN_DIR: '',
};

/** The net `up` chose for a hosts directory, from its harness.env. */
function storedNet(dir: string): string {
  const m = /^stored_net=(\d+)$/m.exec(readFileSync(join(dir, 'harness.env'), 'utf8'));
  if (!m?.[1]) throw new Error(`no stored_net in ${dir}/harness.env`);
  return m[1];
}

interface Host {
  n: number;
  state: string;
  dockerHost: string;
  dockerdPid: number;
}

/** Runs scripts/hosts; stderr (its log lines) goes with the error when it fails. */
function hosts(args: string[], timeout = 60_000, env = hostsEnv): string {
  try {
    return execFileSync(SCRIPT, args, { cwd: REPO_ROOT, encoding: 'utf8', env, timeout });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `scripts/hosts ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`,
    );
  }
}

/** `h1 up DOCKER_HOST=unix://… dockerd_pid=123 agent_pid=- …` lines, as `up`, `start-host` and `status` print them. */
function parseHosts(out: string): Map<number, Host> {
  const hostsByN = new Map<number, Host>();
  for (const line of out.split('\n')) {
    const m = /^h(\d+) (\S+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = new Map(
      (m[3] ?? '').split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const n = Number(m[1]);
    hostsByN.set(n, {
      n,
      state: m[2] ?? '',
      dockerHost: fields.get('DOCKER_HOST') ?? '',
      dockerdPid: Number(fields.get('dockerd_pid')),
    });
  }
  return hostsByN;
}

/** docker against the main daemon (DOCKER_HOST undefined) or one of ours. */
function docker(dockerHost: string | undefined, args: string[], timeout = 30_000): string {
  const env = { ...process.env };
  if (dockerHost) env.DOCKER_HOST = dockerHost;
  return execFileSync('docker', args, {
    encoding: 'utf8',
    env,
    timeout,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

function answers(dockerHost: string): boolean {
  try {
    docker(dockerHost, ['info', '--format', '{{.ID}}'], 10_000);
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .startsWith('Z');
  } catch {
    return false;
  }
}

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

function mainDaemonRuns(): void {
  docker(undefined, ['info', '--format', '{{.ID}}']);
  docker(undefined, ['run', '--rm', IMAGE, 'true'], 60_000);
}

describe('scripts/hosts', () => {
  let started: Map<number, Host>;
  let upSeconds = 0;
  const docker0Before = existsSync('/sys/class/net/docker0')
    ? readFileSync('/sys/class/net/docker0/ifindex', 'utf8').trim()
    : undefined;
  const host = (n: number): Host => {
    const h = started.get(n);
    if (!h) throw new Error(`host ${n} was not started`);
    return h;
  };

  beforeAll(() => {
    if (process.getuid?.() !== 0)
      throw new Error('scripts/hosts needs root (bridges, dockerd); run the tests as root');
    mainDaemonRuns(); // and bosun/busybox:latest exists there (scripts/build-images)
    const t0 = Date.now();
    started = parseHosts(hosts(['up', '2', '--no-agents']));
    upSeconds = (Date.now() - t0) / 1000;
  }, 90_000);

  afterAll(() => {
    try {
      hosts(['down', '--purge'], 90_000);
    } finally {
      rmSync(hostsDir, { recursive: true, force: true });
    }
  }, 100_000);

  it('starts two daemons with their own data roots, bridges and bosun/busybox', () => {
    expect([...started.keys()]).toEqual([1, 2]);
    const mainRoot = docker(undefined, ['info', '--format', '{{.DockerRootDir}}']);
    const roots = [1, 2].map((n) => {
      const h = host(n);
      expect(h.state).toBe('up');
      expect(h.dockerHost).toMatch(/^unix:\/\//);
      expect(pidAlive(h.dockerdPid)).toBe(true);
      expect(linkExists(`${prefix}${n}`)).toBe(true);
      expect(docker(h.dockerHost, ['image', 'inspect', '--format', '{{.Id}}', IMAGE])).toMatch(/^sha256:/);
      return docker(h.dockerHost, ['info', '--format', '{{.DockerRootDir}}']);
    });
    expect(roots[0]).toBe(join(hostsDir, 'h1/docker'));
    expect(roots[1]).toBe(join(hostsDir, 'h2/docker'));
    expect(roots).not.toContain(mainRoot);
    const ids = [1, 2].map((n) => docker(host(n).dockerHost, ['info', '--format', '{{.ID}}']));
    expect(new Set(ids).size).toBe(2);
    expect(hosts(['env', '2']).trim()).toBe(`export DOCKER_HOST=${host(2).dockerHost}`);
    expect(upSeconds).toBeLessThan(30);
  });

  it('is idempotent: a second `up 2` reuses the running daemons', () => {
    const again = parseHosts(hosts(['up', '2', '--no-agents']));
    expect(again.get(1)?.dockerdPid).toBe(host(1).dockerdPid);
    expect(again.get(2)?.dockerdPid).toBe(host(2).dockerdPid);
  }, 30_000);

  it('with BOSUN_HOSTS_NET=auto, a second hosts directory takes a net no bridge holds yet', () => {
    const net = storedNet(hostsDir);
    const otherDir = mkdtempSync(join(tmpdir(), 'bosun-hosts-test-'));
    const otherEnv = { ...hostsEnv, BOSUN_HOSTS_DIR: otherDir, BOSUN_HOSTS_PREFIX: `bu${process.pid}-` };
    try {
      hosts(['up', '1', '--no-agents'], 90_000, otherEnv);
      const otherNet = storedNet(otherDir);
      expect(otherNet).not.toBe(net);
      const addresses = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
      expect(addresses).toContain(` bu${process.pid}-1 `);
      expect(addresses).toMatch(new RegExp(`bu${process.pid}-1\\s+inet 10\\.${otherNet}\\.1\\.1/24`));
      expect(addresses).toMatch(new RegExp(`${prefix}1\\s+inet 10\\.${net}\\.1\\.1/24`));
    } finally {
      try {
        hosts(['down', '--purge'], 90_000, otherEnv);
      } finally {
        rmSync(otherDir, { recursive: true, force: true });
      }
    }
    expect(linkExists(`bu${process.pid}-1`)).toBe(false);
  }, 120_000);

  it('publishes a container port on 127.0.0.1, and containers on one host reach each other', async () => {
    const dh = host(2).dockerHost;
    docker(dh, [
      'run',
      '-d',
      '--name',
      'web',
      '-p',
      '127.0.0.1::8080',
      IMAGE,
      'sh',
      '-c',
      'mkdir -p /www && echo hello-from-h2 > /www/index.html && exec httpd -f -p 8080 -h /www',
    ]);
    const mapping = docker(dh, ['port', 'web', '8080/tcp']).split('\n')[0] ?? '';
    expect(mapping).toMatch(/^127\.0\.0\.1:\d+$/);
    const url = `http://${mapping}/`;
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        body = await res.text();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(body.trim()).toBe('hello-from-h2');

    const ip = docker(dh, ['inspect', '--format', '{{.NetworkSettings.IPAddress}}', 'web']);
    expect(ip.startsWith(`10.${storedNet(hostsDir)}.2.`)).toBe(true);
    expect(docker(dh, ['run', '--rm', IMAGE, 'wget', '-qO-', `http://${ip}:8080/`])).toBe('hello-from-h2');
    docker(dh, ['rm', '-f', 'web']);
  }, 60_000);

  it('stop-host takes a whole host away and start-host brings it back with its containers', () => {
    const dh = host(2).dockerHost;
    docker(dh, ['run', '-d', '--name', 'keeper', '--stop-timeout', '1', IMAGE, 'sleep', '3600']); // no restart policy
    expect(docker(dh, ['inspect', '--format', '{{.State.Running}}', 'keeper'])).toBe('true');

    hosts(['stop-host', '2']);
    expect(answers(dh)).toBe(false);
    expect(pidAlive(host(2).dockerdPid)).toBe(false);
    expect(answers(host(1).dockerHost)).toBe(true);
    expect(parseHosts(hosts(['status'])).get(2)?.state).toBe('down');

    const back = parseHosts(hosts(['start-host', '2'])).get(2);
    expect(back?.state).toBe('up');
    expect(answers(dh)).toBe(true);
    expect(docker(dh, ['inspect', '--format', '{{.State.Running}} {{.State.Status}}', 'keeper'])).toBe(
      'false exited',
    );
    started.set(2, { ...host(2), dockerdPid: back?.dockerdPid ?? 0 });
  }, 60_000);

  it('down stops the daemons, removes the bridges and leaves the main daemon working', () => {
    const pids = [1, 2].map((n) => host(n).dockerdPid);
    hosts(['down'], 90_000);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    for (const n of [1, 2]) {
      expect(answers(host(n).dockerHost)).toBe(false);
      expect(linkExists(`${prefix}${n}`)).toBe(false);
      expect(existsSync(host(n).dockerHost.replace(/^unix:\/\//, ''))).toBe(false);
    }
    // data-roots are kept without --purge
    expect(existsSync(join(hostsDir, 'h1/docker'))).toBe(true);
    expect(parseHosts(hosts(['status'])).get(1)?.state).toBe('down');
    if (docker0Before !== undefined) {
      expect(readFileSync('/sys/class/net/docker0/ifindex', 'utf8').trim()).toBe(docker0Before);
    }
    mainDaemonRuns();
  }, 120_000);
});
