import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  awsEcs,
  type ControlPlaneProcess,
  createScratchDatabase,
  REPO_ROOT,
  readEnvFile,
  type ScratchDatabase,
  startControlPlaneProcess,
} from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let scratch: ScratchDatabase;
let server: ControlPlaneProcess;
let stateDir: string;

const serverEnv = () => ({
  DATABASE_URL: scratch.url,
  REDIS_URL: process.env.REDIS_URL ?? '',
  BOSUN_STATE_DIR: stateDir,
});

const aws = (...args: string[]) => awsEcs(server.clientEnv, stateDir, ...args);

async function awsFails(...args: string[]): Promise<string> {
  try {
    await aws(...args);
  } catch (e) {
    return String((e as { stderr?: string }).stderr);
  }
  throw new Error(`aws ${args.join(' ')} succeeded but should have failed`);
}

beforeAll(async () => {
  scratch = await createScratchDatabase();
  stateDir = mkdtempSync(join(tmpdir(), 'bosun-e2e-'));
  server = await startControlPlaneProcess(serverEnv());
});
afterAll(async () => {
  await server?.stop();
  await scratch?.drop();
});

/** The admin key id a control plane logs as it becomes ready (just after it answers /healthz). */
async function announcedKey(cp: ControlPlaneProcess): Promise<string | undefined> {
  for (let i = 0; i < 100; i++) {
    const line = cp
      .output()
      .split('\n')
      .find((l) => l.includes('bosun control plane ready'));
    if (line) return (JSON.parse(line) as { accessKeyId?: string }).accessKeyId;
    await sleep(100);
  }
  return undefined;
}

describe('a new user with the aws CLI', () => {
  it('finds the credentials and endpoint in the env file, readable only by its owner', () => {
    expect(readEnvFile(join(stateDir, 'env'))).toMatchObject({ AWS_ENDPOINT_URL_ECS: server.endpoint });
    expect(Object.keys(readEnvFile(join(stateDir, 'env')))).toEqual(
      expect.arrayContaining([
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_REGION',
        'AWS_ENDPOINT_URL_ECS',
        'AWS_ENDPOINT_URL',
      ]),
    );
    expect(statSync(join(stateDir, 'env')).mode & 0o077).toBe(0);
    expect(statSync(join(stateDir, 'master.key')).mode & 0o077).toBe(0);
    // The secret never reaches the logs.
    expect(server.output()).not.toContain(server.clientEnv.AWS_SECRET_ACCESS_KEY);
  });

  it('creates, lists and describes clusters', async () => {
    const created = await aws('create-cluster', '--cluster-name', 'demo');
    expect(created.cluster).toMatchObject({ clusterName: 'demo', status: 'ACTIVE' });
    const list = await aws('list-clusters');
    expect(list.clusterArns).toContain('arn:aws:ecs:local:000000000000:cluster/demo');
    const described = await aws('describe-clusters', '--clusters', 'demo', 'nope');
    expect(described.failures).toEqual([
      { arn: 'arn:aws:ecs:local:000000000000:cluster/nope', reason: 'MISSING' },
    ]);
  });

  it('registers the examples with --cli-input-json, describes, lists and deregisters them', async () => {
    const web = await aws(
      'register-task-definition',
      '--cli-input-json',
      `file://${REPO_ROOT}examples/web-server.json`,
    );
    expect(web.taskDefinition).toMatchObject({ family: 'web', revision: 1, status: 'ACTIVE' });
    const two = await aws(
      'register-task-definition',
      '--cli-input-json',
      `file://${REPO_ROOT}examples/two-containers.json`,
    );
    expect(two.taskDefinition).toMatchObject({ family: 'app-with-migrations', revision: 1 });

    const described = await aws('describe-task-definition', '--task-definition', 'web', '--include', 'TAGS');
    expect(described.tags).toEqual([{ key: 'example', value: 'web-server' }]);
    expect(typeof (described.taskDefinition as { registeredAt: unknown }).registeredAt).toBe('number');

    const families = await aws('list-task-definition-families');
    expect(families.families).toEqual(['app-with-migrations', 'web']);
    const defs = await aws('list-task-definitions', '--family-prefix', 'web');
    expect(defs.taskDefinitionArns).toEqual(['arn:aws:ecs:local:000000000000:task-definition/web:1']);

    const gone = await aws('deregister-task-definition', '--task-definition', 'web:1');
    expect((gone.taskDefinition as { status: string }).status).toBe('INACTIVE');
    expect(await awsFails('describe-task-definition', '--task-definition', 'web')).toContain(
      'ClientException',
    );
  });

  it('reports ECS errors by name', async () => {
    expect(await awsFails('delete-cluster', '--cluster', 'ghost')).toContain('ClusterNotFoundException');
    const bad = await awsFails(
      'register-task-definition',
      '--family',
      'bad',
      '--container-definitions',
      '[{"name":"a","image":"x"}]',
    );
    expect(bad).toMatch(/ClientException|InvalidParameterException/);
    expect(bad).toContain('memory');
  });

  it('keeps the data and the admin key across a restart', async () => {
    const before = server.clientEnv.AWS_ACCESS_KEY_ID;
    expect(await server.stop('SIGTERM')).toBe(0);
    server = await startControlPlaneProcess(serverEnv());
    expect(server.clientEnv.AWS_ACCESS_KEY_ID).toBe(before);
    const list = await aws('list-clusters');
    expect(list.clusterArns).toContain('arn:aws:ecs:local:000000000000:cluster/demo');
  });

  it('refuses a wrong secret from the CLI', async () => {
    const saved = server.clientEnv;
    server.clientEnv = { ...saved, AWS_SECRET_ACCESS_KEY: 'wrong' };
    try {
      expect(await awsFails('list-clusters')).toContain('InvalidSignatureException');
    } finally {
      server.clientEnv = saved;
    }
  });

  it('two control planes starting at once on an empty database agree on one schema and one key', async () => {
    const db2 = await createScratchDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'bosun-e2e-twin-'));
    const env = { DATABASE_URL: db2.url, REDIS_URL: process.env.REDIS_URL ?? '', BOSUN_STATE_DIR: dir };
    const [a, b] = await Promise.all([startControlPlaneProcess(env), startControlPlaneProcess(env)]);
    try {
      // Each process's own word (its ready line), not the env file both write: it holds the last one's.
      const [keyA, keyB] = [await announcedKey(a), await announcedKey(b)];
      expect(keyA).toBeTruthy();
      expect(keyA).toBe(keyB);
      expect(readFileSync(join(dir, 'env'), 'utf8')).toContain(keyA ?? 'missing');
    } finally {
      await a.stop();
      await b.stop();
      await db2.drop();
    }
  });
});
