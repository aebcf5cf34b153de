import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { docker, freePort, run, type Stack, startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Pulling from a private registry with repositoryCredentials: Debian's docker-registry on 127.0.0.1
 * with basic auth, the credentials stored as a bosun secret, referenced from the task definition
 * the way ECS task definitions reference Secrets Manager.
 */
let stack: Stack;
let registry: ChildProcess;
let dir: string;
let image = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bosun-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const htpasswd = (await run('htpasswd', ['-Bbn', 'alice', 's3cret'])).stdout;
  writeFileSync(join(dir, 'htpasswd'), htpasswd);
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
      `http: { addr: "${host}" }`,
      `auth: { htpasswd: { realm: bosun-test, path: ${join(dir, 'htpasswd')} } }`,
    ].join('\n'),
  );
  registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const status = await fetch(`http://${host}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 401) break;
    await sleep(100);
  }
  // Push with a throwaway Docker client config, so the daemon itself holds no credentials.
  image = `${host}/bosun/private:1`;
  const clientEnv = { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') };
  // execFile leaves stdin open, so the password goes through a shell pipe.
  await run('sh', ['-c', `echo s3cret | docker login ${host} -u alice --password-stdin`], { env: clientEnv });
  await docker('tag', 'bosun/busybox:latest', image);
  await run('docker', ['push', image], { env: clientEnv });
  await docker('rmi', image);

  stack = await startStack();
  await stack.bosun(
    'put-secret',
    '--name',
    'registry/alice',
    '--secret-string',
    JSON.stringify({ username: 'alice', password: 's3cret' }),
  );
}, 120_000);

afterAll(async () => {
  await stack?.close();
  registry?.kill();
  await docker('rmi', image).catch(() => '');
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('private registry pulls', () => {
  it('pulls with repositoryCredentials from a bosun secret and runs the task', async () => {
    await stack.aws(
      'register-task-definition',
      '--family',
      'private',
      '--container-definitions',
      JSON.stringify([
        {
          name: 'app',
          image,
          memory: 32,
          command: ['sleep', '300'],
          repositoryCredentials: {
            credentialsParameter: 'arn:aws:secretsmanager:local:000000000000:secret:registry/alice',
          },
        },
      ]),
    );
    const arn = await stack.runTask('private');
    const task = await stack.waitForTask(
      arn,
      (t) => t.lastStatus === 'RUNNING' || t.lastStatus === 'STOPPED',
    );
    expect(task.lastStatus, JSON.stringify(task)).toBe('RUNNING');
    expect(await docker('image', 'inspect', '-f', '{{.Id}}', image)).toMatch(/^sha256:/);
    await stack.aws('stop-task', '--task', arn);
  }, 90_000);

  it('without credentials the pull is refused and the task says so', async () => {
    await docker('rmi', '-f', image).catch(() => '');
    await stack.aws(
      'register-task-definition',
      '--family',
      'private-no-auth',
      '--container-definitions',
      JSON.stringify([{ name: 'app', image, memory: 32, command: ['sleep', '300'] }]),
    );
    const arn = await stack.runTask('private-no-auth');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'STOPPED');
    expect(task.stopCode).toBe('TaskFailedToStart');
    expect(task.containers[0]?.reason ?? '').toMatch(/^CannotPullContainerError: .*(auth|credentials)/i);
  }, 90_000);
});
