import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../apps/agent/build.ts';
import { CONTROL_PLANE_COMMAND } from '../apps/control-plane/build.ts';

/**
 * docker-compose.yml cannot be brought up here (no images can be pulled), so this checks what
 * `docker-compose config` makes of it: it parses, and the four services are wired as documented.
 */
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Service {
  image?: string;
  build?: { context?: string } | string;
  command?: string[] | string;
  environment?: Record<string, string | null>;
  volumes?: (string | { source?: string; target?: string })[];
  ports?: (string | { host_ip?: string; published?: string | number; target?: number })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string };
  user?: string;
}
interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Defaults, so variables set in the caller's shell do not change what is checked.
    env: {
      ...process.env,
      BOSUN_JOIN_TOKEN: '',
      BOSUN_PUBLIC_URL: '',
      BOSUN_HOSTNAME: '',
      BOSUN_POSTGRES_PASSWORD: 'pg-secret',
      BOSUN_REDIS_PASSWORD: 'redis-secret',
    },
  });
}

/** The normalised configuration as JSON: compose v2 prints it directly, v1 (Debian's) prints YAML. */
function loadConfig(): ComposeConfig {
  try {
    return JSON.parse(
      run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--format', 'json']),
    ) as ComposeConfig;
  } catch {
    // docker-compose v1: YAML only. It is a Python program, so PyYAML is there to read its output.
  }
  const yaml = run('docker-compose', ['-f', 'docker-compose.yml', 'config']);
  const json = run(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    yaml,
  );
  return JSON.parse(json) as ComposeConfig;
}

const volumeSources = (s: Service): string[] =>
  (s.volumes ?? []).map((v) => (typeof v === 'string' ? (v.split(':')[0] ?? '') : (v.source ?? '')));
const volumeTargets = (s: Service): string[] =>
  (s.volumes ?? []).map((v) => (typeof v === 'string' ? (v.split(':')[1] ?? '') : (v.target ?? '')));
const dependsOn = (s: Service): Record<string, { condition?: string }> =>
  Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((n) => [n, {}])) : (s.depends_on ?? {});
const commandText = (s: Service): string =>
  Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');

describe('docker-compose.yml', () => {
  let config: ComposeConfig;

  beforeAll(() => {
    try {
      run('docker-compose', ['version']);
    } catch {
      throw new Error(
        'docker-compose is not installed (scripts/test installs it: apt-get install -y docker-compose)',
      );
    }
    config = loadConfig();
  });

  it('parses and has exactly the four services', () => {
    expect(Object.keys(config.services).sort()).toEqual(['agent', 'control-plane', 'postgres', 'redis']);
  });

  it('declares named volumes for all state', () => {
    expect(Object.keys(config.volumes ?? {}).sort()).toEqual(
      ['agent-state', 'bosun-state', 'postgres-data', 'redis-data'].sort(),
    );
  });

  it('runs Postgres 15 on a named volume with a pg_isready health check', () => {
    const pg = config.services.postgres as Service;
    expect(pg.image).toBe('postgres:15');
    expect(volumeSources(pg)).toContain('postgres-data');
    expect(volumeTargets(pg)).toContain('/var/lib/postgresql/data');
    expect(JSON.stringify(pg.healthcheck?.test)).toContain('pg_isready');
  });

  it('takes the passwords from the environment (.env), and refuses to start without them', () => {
    expect((config.services.postgres as Service).environment?.POSTGRES_PASSWORD).toBe('pg-secret');
    expect(commandText(config.services.redis as Service)).toMatch(/--requirepass\s+redis-secret/);
    expect(() =>
      execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
        cwd: REPO_ROOT,
        stdio: 'pipe',
        env: { ...process.env, BOSUN_POSTGRES_PASSWORD: '', BOSUN_REDIS_PASSWORD: '' },
      }),
    ).toThrow(/scripts\/compose-env/);
  });

  it('runs Redis 7 with noeviction and the append-only file, on a volume', () => {
    const redis = config.services.redis as Service;
    expect(redis.image).toBe('redis:7');
    const cmd = commandText(redis);
    expect(cmd).toMatch(/--maxmemory-policy\s+noeviction/);
    expect(cmd).toMatch(/--appendonly\s+yes/);
    expect(volumeSources(redis)).toContain('redis-data');
  });

  it('builds the control plane from this repo and wires it to Postgres and Redis', () => {
    const cp = config.services['control-plane'] as Service;
    expect(cp.build).toBeDefined();
    const env = cp.environment ?? {};
    expect(env.DATABASE_URL).toBe('postgres://bosun:pg-secret@postgres:5432/bosun');
    expect(env.REDIS_URL).toBe('redis://:redis-secret@redis:6379');
    expect(env.BOSUN_LISTEN_HOST).toBe('0.0.0.0');
    expect(env.BOSUN_STATE_DIR).toBe('/var/lib/bosun');
    expect(volumeSources(cp)).toContain('bosun-state');
    expect(volumeTargets(cp)).toContain('/var/lib/bosun');
    expect(JSON.stringify(cp.ports)).toMatch(/127\.0\.0\.1.*7700/);
    expect(JSON.stringify(cp.ports)).not.toMatch(/0\.0\.0\.0/);
    const deps = dependsOn(cp);
    expect(deps.postgres?.condition).toBe('service_healthy');
    expect(deps.redis?.condition).toBe('service_healthy');
    expect(JSON.stringify(cp.healthcheck?.test)).toContain('/healthz');
  });

  it('runs the compiled control plane under plain node, as scripts/up and the image do', () => {
    const cp = config.services['control-plane'] as Service;
    expect(cp.command).toEqual(CONTROL_PLANE_COMMAND);
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const cmd = /^CMD (.*)$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(cmd ?? 'null')).toEqual(CONTROL_PLANE_COMMAND);
  });

  it('runs the agent from the same image with the Docker socket and its own state', () => {
    const cp = config.services['control-plane'] as Service;
    const agent = config.services.agent as Service;
    expect(agent.build).toEqual(cp.build);
    expect(agent.image).toBe(cp.image);
    // The bundle the image builds, with the node flags and environment it is measured with
    // (bench/agent-footprint).
    expect(agent.command).toEqual(['node', ...AGENT_NODE_FLAGS, 'apps/agent/dist/agent.mjs']);
    expect(agent.environment).toMatchObject(AGENT_ENV);
    expect(volumeSources(agent)).toContain('/var/run/docker.sock');
    expect(volumeTargets(agent)).toContain('/var/run/docker.sock');
    expect(volumeSources(agent)).toContain('agent-state');
    expect(agent.environment?.BOSUN_CONTROL_PLANE_URL).toBe('https://control-plane:7700');
    expect(Object.keys(dependsOn(agent))).toContain('control-plane');
  });
});
