import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createScratchDatabase, parseEnvFile, REPO_ROOT, rawEcsCall, trustCaFile } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildControlPlane,
  CONTROL_PLANE_EXTERNAL,
  CONTROL_PLANE_NODE_FLAGS,
  type ControlPlaneBuild,
} from '../build.ts';

const run = promisify(execFile);

/**
 * The control plane as bosun ships it (apps/control-plane/build.ts): built into a directory laid out
 * like the image (the bundles, migrations/ and node_modules, no TypeScript source) and started under
 * plain node against real Postgres and Redis, as scripts/up and the image start it. The other tests
 * run it through tsx.
 */
describe('control-plane bundle', () => {
  let root: string;
  let out: ControlPlaneBuild;
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let stateDir: string;
  let child: ChildProcess;
  let output = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bosun-control-plane-bundle-'));
    out = await buildControlPlane({ outdir: join(root, 'apps/control-plane/dist'), metafile: true });
    cpSync(join(REPO_ROOT, 'migrations'), join(root, 'migrations'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
    stateDir = join(root, 'state');
    mkdirSync(stateDir);
    scratch = await createScratchDatabase();
    child = spawn(process.execPath, [...CONTROL_PLANE_NODE_FLAGS, out.server], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: scratch.url,
        REDIS_URL: process.env.REDIS_URL ?? '',
        BOSUN_STATE_DIR: stateDir,
        BOSUN_PORT: '0',
        BOSUN_LOG_LEVEL: 'info',
        BOSUN_QUEUE_PREFIX: `bosun-bundle-${process.pid}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d) => {
      output += d;
    });
    child.stderr?.on('data', (d) => {
      output += d;
    });
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!output.includes('bosun control plane ready')) {
      if (child.exitCode !== null) throw new Error(`the bundle exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`the bundle did not become ready:\n${output}`);
      await sleep(100);
    }
  });
  afterAll(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await scratch?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('leaves in node_modules only the packages build.ts names', () => {
    const meta = JSON.parse(out.metafile ?? '{}') as {
      outputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
    };
    const external = new Set<string>();
    for (const output of Object.values(meta.outputs))
      for (const i of output.imports) if (i.external) external.add(i.path);
    const builtin = new Set(builtinModules);
    const fromRepo = createRequire(join(REPO_ROOT, 'package.json'));
    const installed = (name: string) => {
      try {
        fromRepo.resolve(name);
        return true;
      } catch {
        return false;
      }
    };
    const packages = [...external].filter((p) => !p.startsWith('node:') && !builtin.has(p));
    expect(packages.filter(installed).sort()).toEqual([...CONTROL_PLANE_EXTERNAL].sort());
    // Left by esbuild as run-time requires because nothing installs them: BullMQ's optional
    // backends, required only when one is configured, as under tsx.
    expect(packages.filter((p) => !installed(p)).sort()).toEqual(['@valkey/valkey-glide', 'pg']);
  });

  it('migrates an empty database and answers a signed ECS call, under plain node', async () => {
    const env = parseEnvFile(readFileSync(join(stateDir, 'env'), 'utf8'));
    const endpoint = env.AWS_ENDPOINT_URL_ECS ?? '';
    // Served over HTTPS with the CA the bundle made in its state directory, named by the env file.
    expect(endpoint).toMatch(/^https:/);
    trustCaFile(env.AWS_CA_BUNDLE ?? '');
    const key = {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
    };
    const created = await rawEcsCall(endpoint, {
      target: 'AmazonEC2ContainerServiceV20141113.CreateCluster',
      body: JSON.stringify({ clusterName: 'bundled' }),
      key,
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ cluster: { clusterName: 'bundled', status: 'ACTIVE' } });
    const listed = await rawEcsCall(endpoint, {
      target: 'AmazonEC2ContainerServiceV20141113.ListClusters',
      body: '{}',
      key,
    });
    expect(listed.body.clusterArns).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/cluster\/bundled$/),
        expect.stringMatching(/cluster\/default$/),
      ]),
    );
  });

  it('has an admin CLI that runs under plain node too', async () => {
    expect(existsSync(out.cli)).toBe(true);
    const { stdout } = await run(process.execPath, [out.cli, 'join-token', '--env', join(stateDir, 'env')], {
      cwd: root,
    });
    expect(stdout.trim()).toMatch(/^bjt_/);
  });

  it('stops cleanly on SIGTERM', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
  });
});
