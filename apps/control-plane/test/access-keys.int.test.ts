import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeClustersCommand,
  ECSClient,
  ListClustersCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import {
  awsEcs,
  ecsTarget,
  REGION,
  REPO_ROOT,
  rawEcsCall,
  run,
  signEcsRequest,
  trustingHttpsAgent,
} from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../src/auth/access-keys.ts';

/**
 * Access keys with policies, end to end: keys made with `scripts/bosun`, used by the real AWS CLI v1
 * and @aws-sdk/client-ecs against a control plane on a real Postgres.
 */
let cp: TestControlPlane;
let home: string;
const logs: string[] = [];
const masterKeyHex = randomBytes(32).toString('hex');
/** Every secret the test makes: none may ever reach the log. */
const secrets: string[] = [];

beforeAll(async () => {
  cp = await startControlPlane({ logStream: { write: (line) => void logs.push(line) }, masterKeyHex });
  home = await mkdtemp(join(tmpdir(), 'bosun-keys-'));
});
afterAll(async () => {
  await cp?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

const adminEnv = () => ({
  AWS_ACCESS_KEY_ID: cp.key.accessKeyId,
  AWS_SECRET_ACCESS_KEY: cp.key.secretAccessKey,
  AWS_REGION: REGION,
  AWS_DEFAULT_REGION: REGION,
  AWS_ENDPOINT_URL: cp.endpoint,
  AWS_ENDPOINT_URL_ECS: cp.endpoint,
  AWS_CA_BUNDLE: cp.tls.serverCaFile,
});
const envOf = (k: Key) => ({
  ...adminEnv(),
  AWS_ACCESS_KEY_ID: k.AccessKeyId,
  AWS_SECRET_ACCESS_KEY: k.SecretAccessKey,
});

interface Key {
  AccessKeyId: string;
  SecretAccessKey: string;
}

/** `scripts/bosun ARGS` as a user runs it after `source .bosun/env` (or with `extra` env); its stdout. */
async function bosun(args: string[], extra: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(join(REPO_ROOT, 'scripts/bosun'), args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: home, ...adminEnv(), ...extra },
  });
  return stdout;
}

async function bosunFails(args: string[], extra: Record<string, string> = {}): Promise<string> {
  try {
    await bosun(args, extra);
  } catch (e) {
    return (e as { stderr: string }).stderr;
  }
  throw new Error(`scripts/bosun ${args.join(' ')} succeeded but should have failed`);
}

async function createKey(...args: string[]): Promise<Key> {
  const key = JSON.parse(await bosun(['create-access-key', ...args])) as Key;
  expect(key.AccessKeyId).toMatch(/^BKIA[A-Z2-7]{16}$/);
  secrets.push(key.SecretAccessKey);
  return key;
}

const sdk = (k: Key) =>
  new ECSClient({
    endpoint: cp.endpoint,
    region: REGION,
    credentials: { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey },
    maxAttempts: 1,
    requestHandler: { httpsAgent: trustingHttpsAgent() },
  });

/** ListClusters with the SDK (quicker than the CLI where the CLI is not the point). */
async function lists(k: Key): Promise<void> {
  const client = sdk(k);
  try {
    await client.send(new ListClustersCommand({}));
  } finally {
    client.destroy();
  }
}

async function awsFails(env: Record<string, string>, ...args: string[]): Promise<string> {
  try {
    await awsEcs(env, home, ...args);
  } catch (e) {
    return (e as { stderr: string }).stderr;
  }
  throw new Error(`aws ecs ${args.join(' ')} succeeded but should have failed`);
}

const PRIVILEGED = {
  family: 'root',
  containerDefinitions: [{ name: 'app', image: 'bosun/busybox:latest', memory: 32, privileged: true }],
};
const HOST_ROOT = {
  family: 'hostroot',
  volumes: [{ name: 'root', host: { sourcePath: '/' } }],
  containerDefinitions: [
    {
      name: 'app',
      image: 'bosun/busybox:latest',
      memory: 32,
      mountPoints: [{ sourceVolume: 'root', containerPath: '/host' }],
    },
  ],
};

// Each step runs the real CLIs as processes (about 1-2 s each on two cores).
describe('access keys and policies', { timeout: 120_000 }, () => {
  let readOnly: Key;

  it('a read-only key describes and lists (AWS CLI and SDK) but gets AccessDeniedException on CreateService', async () => {
    readOnly = await createKey('--name', 'auditor', '--read-only');
    const env = envOf(readOnly);
    const clusters = await awsEcs(env, home, 'list-clusters');
    expect(clusters.clusterArns).toContain('arn:aws:ecs:local:000000000000:cluster/default');
    await awsEcs(env, home, 'describe-clusters', '--clusters', 'default');

    const stderr = await awsFails(env, 'create-service', '--service-name', 'web', '--task-definition', 'web');
    expect(stderr).toContain('AccessDeniedException');
    expect(stderr).toContain('user/auditor is not authorized to perform: ecs:CreateService');

    const client = sdk(readOnly);
    await client.send(new DescribeClustersCommand({ clusters: ['default'] }));
    const err = await client
      .send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: 'web' }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    client.destroy();
  });

  it('a Deny statement beats an Allow', async () => {
    const file = join(home, 'deny.json');
    await writeFile(
      file,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'ecs:*', Resource: '*' },
          { Effect: 'Deny', Action: 'ecs:CreateCluster', Resource: 'arn:aws:ecs:*:*:cluster/prod-*' },
        ],
      }),
    );
    const key = await createKey('--name', 'deployer', '--policy-file', file);
    const client = sdk(key);
    await client.send(new CreateClusterCommand({ clusterName: 'dev-1' }));
    await expect(client.send(new CreateClusterCommand({ clusterName: 'prod-1' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('explicit deny'),
    });
    const names = (await client.send(new ListClustersCommand({}))).clusterArns ?? [];
    expect(names.some((a) => a.endsWith('/prod-1'))).toBe(false);
    client.destroy();
  });

  it('a policy with a syntax error is refused with a clear error, and nothing is stored', async () => {
    const before = await bosun(['list-access-keys']);
    const file = join(home, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'ecs:CreateSrvice', Resource: '*' }] }),
    );
    const stderr = await bosunFails(['create-access-key', '--name', 'typo', '--policy-file', file]);
    expect(stderr).toMatch(
      /InvalidParameterException: Syntax error in the policy: Statement\[0\]: 'ecs:createsrvice' is not an action bosun knows/,
    );
    await writeFile(file, '{"Statement": [');
    expect(await bosunFails(['create-access-key', '--name', 'typo', '--policy-file', file])).toMatch(
      /not valid JSON/,
    );
    expect(await bosun(['list-access-keys'])).toBe(before);
  });

  it('rotation: two active keys both work, a third is refused, the old one deactivated is refused, then deleted', async () => {
    const old = await createKey('--name', 'ci', '--read-only');
    const fresh = await createKey('--name', 'ci');
    for (const k of [old, fresh]) await lists(k);
    // The new key of a user keeps the user's policy.
    expect(await awsFails(envOf(fresh), 'create-cluster', '--cluster-name', 'x')).toContain(
      'AccessDeniedException',
    );
    expect(await bosunFails(['create-access-key', '--name', 'ci'])).toMatch(
      /LimitExceededException: Cannot exceed quota for AccessKeysPerUser: 2/,
    );

    await bosun(['update-access-key', '--access-key-id', old.AccessKeyId, '--status', 'Inactive']);
    await expect(lists(old)).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await lists(fresh);
    const listed = JSON.parse(await bosun(['list-access-keys', '--name', 'ci'])) as {
      AccessKeyMetadata: Array<{ AccessKeyId: string; Status: string }>;
    };
    expect(listed.AccessKeyMetadata.map((k) => [k.AccessKeyId, k.Status])).toEqual([
      [old.AccessKeyId, 'INACTIVE'],
      [fresh.AccessKeyId, 'ACTIVE'],
    ]);
    expect(JSON.stringify(listed)).not.toContain(old.SecretAccessKey);

    await bosun(['update-access-key', '--access-key-id', old.AccessKeyId, '--status', 'Active']);
    await lists(old);
    await bosun(['delete-access-key', '--access-key-id', old.AccessKeyId]);
    await expect(lists(old)).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await lists(fresh);
  });

  it('a key without the privileged permission cannot register a privileged definition or / as a host path; the admin can', async () => {
    const key = await createKey('--name', 'developer');
    const client = sdk(key);
    await client.send(
      new RegisterTaskDefinitionCommand({
        family: 'plain',
        containerDefinitions: [{ name: 'app', image: 'bosun/busybox:latest', memory: 32 }],
      }),
    );
    for (const td of [PRIVILEGED, HOST_ROOT]) {
      const err = await client.send(new RegisterTaskDefinitionCommand(td)).catch((e: unknown) => e);
      expect(err).toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining('bosun:RegisterPrivilegedTaskDefinition'),
      });
      const listed = await client.send(new ListTaskDefinitionsCommand({ familyPrefix: td.family }));
      expect(listed.taskDefinitionArns).toEqual([]);
    }
    expect(
      (await client
        .send(new RegisterTaskDefinitionCommand(HOST_ROOT))
        .catch((e: Error) => e.message)) as string,
    ).toContain('escapes the container: host path /');
    client.destroy();

    const admin = await cp.ecs.send(new RegisterTaskDefinitionCommand(HOST_ROOT));
    expect(admin.taskDefinition?.revision).toBe(1);
    await cp.ecs.send(new RegisterTaskDefinitionCommand(PRIVILEGED));
  });

  it('UNSIGNED-PAYLOAD is refused, and x-amz-target must be signed', async () => {
    const unsigned = await rawEcsCall(cp.endpoint, {
      target: ecsTarget('ListClusters'),
      body: '{}',
      key: cp.key,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.body.__type).toBe('InvalidSignatureException');
    expect(unsigned.body.message).toMatch(/UNSIGNED-PAYLOAD/);

    // A signature that leaves the operation out could be replayed as another operation.
    const headers = await signEcsRequest(cp.endpoint, cp.key, {
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    const res = await fetch(`${cp.endpoint}/`, {
      method: 'POST',
      headers: { ...headers, 'x-amz-target': ecsTarget('DeleteCluster') },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ __type: 'IncompleteSignatureException' });
  });

  it('the audit log records who did what, refused calls included (API and CLI)', async () => {
    const out = JSON.parse(await bosun(['audit', '--since', '1h', '--json'])) as {
      auditEvents: Array<{
        userName: string;
        accessKeyId: string;
        action: string;
        result: string;
        sourceAddress: string;
        resources: string[];
      }>;
    };
    const events = out.auditEvents;
    const denied = events.find((e) => e.action === 'ecs:CreateService' && e.userName === 'auditor');
    expect(denied).toMatchObject({
      accessKeyId: readOnly.AccessKeyId,
      result: 'AccessDeniedException',
      sourceAddress: '127.0.0.1',
      resources: ['arn:aws:ecs:local:000000000000:service/default/web'],
    });
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'ecs:CreateCluster',
        userName: 'deployer',
        result: 'ok',
        resources: ['arn:aws:ecs:local:000000000000:cluster/dev-1'],
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ action: 'bosun:UpdateAccessKey', userName: 'admin', result: 'ok' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ action: 'bosun:CreateAccessKey', result: 'InvalidParameterException' }),
    );
    // Reads are not audited.
    expect(events.some((e) => e.action.startsWith('ecs:List') || e.action.startsWith('ecs:Describe'))).toBe(
      false,
    );

    // Filters and pagination through the API.
    const page1 = await rawEcsCall(cp.endpoint, {
      target: 'BosunV1.ListAuditEvents',
      body: JSON.stringify({ result: 'AccessDeniedException', maxResults: 2 }),
      key: cp.key,
    });
    const p1 = page1.body as { auditEvents: Array<{ result: string }>; nextToken?: string };
    expect(p1.auditEvents).toHaveLength(2);
    expect(p1.auditEvents.every((e) => e.result === 'AccessDeniedException')).toBe(true);
    expect(p1.nextToken).toBeDefined();

    const lines = await bosun(['audit', '--user', 'auditor']);
    expect(lines).toMatch(/auditor\(BKIA\w+\)\s+ecs:CreateService\s+AccessDeniedException\s+127\.0\.0\.1/);
    // A read-only key may not read the audit log (bosun:*).
    expect(await bosunFails(['audit'], envOf(readOnly))).toContain('AccessDeniedException');
  });

  it("aws iam create/list/update/delete-access-key work through IAM's Query protocol, with IAM's errors", async () => {
    const iam = async (env: Record<string, string>, ...args: string[]) => {
      const { stdout } = await run('aws', ['iam', ...args, '--output', 'json'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: home, ...env },
      });
      return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
    };
    const iamFails = async (env: Record<string, string>, ...args: string[]) =>
      iam(env, ...args).then(
        () => {
          throw new Error('should have failed');
        },
        (e: { stderr: string }) => e.stderr,
      );
    const created = (await iam(adminEnv(), 'create-access-key', '--user-name', 'robot')).AccessKey as Key & {
      UserName: string;
      Status: string;
    };
    secrets.push(created.SecretAccessKey);
    expect(created).toMatchObject({ UserName: 'robot', Status: 'Active' });
    await awsEcs(envOf(created), home, 'list-clusters');
    // EcsFullAccess, the default: no key management.
    expect(await iamFails(envOf(created), 'list-access-keys')).toContain('AccessDenied');

    const listed = (await iam(adminEnv(), 'list-access-keys', '--user-name', 'robot')).AccessKeyMetadata;
    expect(listed).toEqual([expect.objectContaining({ AccessKeyId: created.AccessKeyId, Status: 'Active' })]);
    await iam(
      adminEnv(),
      'update-access-key',
      '--user-name',
      'robot',
      '--access-key-id',
      created.AccessKeyId,
      '--status',
      'Inactive',
    );
    expect(await awsFails(envOf(created), 'list-clusters')).toContain('UnrecognizedClientException');
    await iam(
      adminEnv(),
      'delete-access-key',
      '--user-name',
      'robot',
      '--access-key-id',
      created.AccessKeyId,
    );
    expect((await iam(adminEnv(), 'list-access-keys', '--user-name', 'robot')).AccessKeyMetadata).toEqual([]);
    expect(
      await iamFails(
        adminEnv(),
        'delete-access-key',
        '--user-name',
        'robot',
        '--access-key-id',
        created.AccessKeyId,
      ),
    ).toContain('NoSuchEntity');
    expect(await iamFails(adminEnv(), 'list-users')).toContain('InvalidAction');
  });

  it('ensureAdminKey honours INACTIVE, and the owner gets back in with --local on the host', async () => {
    await bosun(['update-access-key', '--access-key-id', cp.key.accessKeyId, '--status', 'Inactive']);
    expect(await awsFails(adminEnv(), 'list-clusters')).toContain('UnrecognizedClientException');
    // A restart does not re-activate it.
    const again = await ensureAdminKey(cp.database.db, cp.box);
    expect(again).toMatchObject({ accessKeyId: cp.key.accessKeyId, status: 'INACTIVE' });
    expect(await awsFails(adminEnv(), 'list-clusters')).toContain('UnrecognizedClientException');

    const local = {
      DATABASE_URL: cp.databaseUrl,
      BOSUN_MASTER_KEY: masterKeyHex,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
    };
    const created = JSON.parse(
      await bosun(
        ['create-access-key', '--local', '--name', 'admin', '--policy', 'AdministratorAccess'],
        local,
      ),
    ) as Key;
    secrets.push(created.SecretAccessKey);
    await awsEcs(envOf(created), home, 'list-clusters');
    await awsEcs(envOf(created), home, 'create-cluster', '--cluster-name', 'after-lockout');
    expect((await ensureAdminKey(cp.database.db, cp.box)).accessKeyId).toBe(created.AccessKeyId);
  });

  it('never logs a secret', () => {
    const text = logs.join('');
    expect(text).toContain('"msg":"audit"');
    for (const s of [...secrets, cp.key.secretAccessKey]) expect(text).not.toContain(s);
  });
});
