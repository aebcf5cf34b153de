import {
  DeleteClusterCommand,
  DescribeContainerInstancesCommand,
  ListContainerInstancesCommand,
} from '@aws-sdk/client-ecs';
import { parseJoinToken, type RegisterInstanceRequest, type RegisterInstanceResponse } from '@bosun/model';
import { agentDispatcher, newAgentKeyPair, rawEcsCall } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.close();
});

async function joinToken(cluster?: string): Promise<string> {
  const res = await rawEcsCall(cp.endpoint, {
    target: 'BosunV1.CreateJoinToken',
    body: JSON.stringify(cluster ? { cluster } : {}),
    key: cp.key,
  });
  expect(res.status).toBe(200);
  return res.body.joinToken as string;
}

/** The host's key pair; its client certificate (mTLS) once it registered. */
const keys = newAgentKeyPair();
let certPem: string | undefined;

const hostInfo = (token: string): RegisterInstanceRequest => ({
  joinToken: token,
  publicKey: keys.publicKey,
  hostname: 'host-a',
  cpu: 2048,
  memory: 3900,
  reservedPorts: ['tcp:22', 'tcp:7701'],
  attributes: [
    { name: 'bosun.os-type', value: 'linux' },
    { name: 'bosun.cpu-architecture', value: 'x86_64' },
    { name: 'bosun.zone', value: 'zone-a' },
  ],
  versionInfo: { agentVersion: '0.1.0', dockerVersion: '20.10.24' },
});

async function agentPost(path: string, body: unknown, credential?: string) {
  const res = await fetch(`${cp.endpoint}${path}`, {
    method: 'POST',
    dispatcher: agentDispatcher(certPem ? { keyPem: keys.keyPem, certPem } : undefined),
    headers: {
      'content-type': 'application/json',
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('agents join with a token and get their own credential', () => {
  let reg: RegisterInstanceResponse;

  it('registers a container instance with resources and attributes', async () => {
    const res = await agentPost('/agent/v1/register', hostInfo(await joinToken()));
    expect(res.status).toBe(200);
    reg = res.body as unknown as RegisterInstanceResponse;
    certPem = reg.certificate;
    expect(reg.containerInstanceArn).toMatch(
      /^arn:aws:ecs:local:000000000000:container-instance\/default\/[0-9a-f-]{36}$/,
    );

    const list = await cp.ecs.send(new ListContainerInstancesCommand({}));
    expect(list.containerInstanceArns).toEqual([reg.containerInstanceArn]);
    const out = await cp.ecs.send(
      new DescribeContainerInstancesCommand({ containerInstances: [reg.containerInstanceId, 'nope'] }),
    );
    const ci = out.containerInstances?.[0];
    expect(ci).toMatchObject({
      status: 'ACTIVE',
      agentConnected: true,
      runningTasksCount: 0,
      versionInfo: { agentVersion: '0.1.0', dockerVersion: '20.10.24' },
    });
    expect(ci?.registeredResources?.find((r) => r.name === 'CPU')?.integerValue).toBe(2048);
    expect(ci?.remainingResources?.find((r) => r.name === 'MEMORY')?.integerValue).toBe(3900);
    expect(ci?.registeredResources?.find((r) => r.name === 'PORTS')?.stringSetValue).toEqual(['22', '7701']);
    expect(ci?.attributes).toContainEqual({ name: 'bosun.zone', value: 'zone-a' });
    expect(out.failures?.[0]?.reason).toBe('MISSING');
  });

  it('heartbeats with its credential; the join token alone cannot act as the host', async () => {
    const ok = await agentPost('/agent/v1/heartbeat', {}, reg.credential);
    expect(ok.status).toBe(200);
    const token = await joinToken();
    const asToken = await agentPost(
      '/agent/v1/heartbeat',
      {},
      `${reg.containerInstanceId}.${parseJoinToken(token)?.secret}`,
    );
    expect(asToken.status).toBe(403);
    expect(asToken.body.__type).toBe('UnrecognizedClientException');
    const none = await agentPost('/agent/v1/heartbeat', {});
    expect(none.status).toBe(403);
  });

  it('shows agentConnected false once heartbeats stop for longer than the timeout', async () => {
    // Liveness is on Postgres' clock (contacts are written with now()), so the contact is aged there.
    await cp.database.sql`
      update container_instances set last_heartbeat_at = now() - interval '11 seconds'
      where id = ${reg.containerInstanceId}`;
    const out = await cp.ecs.send(
      new DescribeContainerInstancesCommand({ containerInstances: [reg.containerInstanceArn] }),
    );
    expect(out.containerInstances?.[0]?.agentConnected).toBe(false);
    await agentPost('/agent/v1/heartbeat', {}, reg.credential);
    const back = await cp.ecs.send(
      new DescribeContainerInstancesCommand({ containerInstances: [reg.containerInstanceArn] }),
    );
    expect(back.containerInstances?.[0]?.agentConnected).toBe(true);
  });

  it('rejects bad tokens and bad registrations with ECS-shaped errors', async () => {
    const bad = await agentPost('/agent/v1/register', hostInfo('bjt_not-a-real-token-at-all-xxxxxxxx'));
    expect(bad.status).toBe(403);
    const wrong = await agentPost('/agent/v1/register', { ...hostInfo(await joinToken()), cpu: -1 });
    expect(wrong.status).toBe(400);
    expect(wrong.body.__type).toBe('InvalidParameterException');
  });

  it('keeps the cluster from being deleted while the instance is registered', async () => {
    await expect(cp.ecs.send(new DeleteClusterCommand({ cluster: 'default' }))).rejects.toMatchObject({
      name: 'ClusterContainsContainerInstancesException',
    });
  });
});
