import {
  CreateServiceCommand,
  DescribeContainerInstancesCommand,
  PutAttributesCommand,
  RegisterTaskDefinitionCommand,
  StartTaskCommand,
  UpdateContainerInstancesStateCommand,
} from '@aws-sdk/client-ecs';
import type { RegisterInstanceRequest } from '@bosun/model';
import { agentDispatcher, newAgentKeyPair, rawEcsCall } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Join tokens (issue 18): single use by default, with a TTL and an optional use count, listed
 * without their secret, revocable; a refused token changes nothing stored. What a joining host may
 * claim: capacity clamped to the token's caps, no attribute names reserved to admins.
 */
let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ settings: { reservedAttributes: ['tenant', 'secure.*'] } });
});
afterAll(async () => {
  await cp?.close();
});

async function bosun(action: string, body: Record<string, unknown> = {}) {
  return rawEcsCall(cp.endpoint, { target: `BosunV1.${action}`, body: JSON.stringify(body), key: cp.key });
}

async function createToken(body: Record<string, unknown> = {}) {
  const res = await bosun('CreateJoinToken', body);
  expect(res.status).toBe(200);
  return res.body as { joinToken: string; joinTokenId: string; usesRemaining: number; expiresAt: number };
}

let hosts = 0;
/** Each joining host sends a public key to be certified (mTLS); one pair serves every host here. */
const keys = newAgentKeyPair();
const hostInfo = (token: string, extra: Partial<RegisterInstanceRequest> = {}): RegisterInstanceRequest => ({
  joinToken: token,
  publicKey: keys.publicKey,
  hostname: `host-${++hosts}`,
  cpu: 2048,
  memory: 3900,
  reservedPorts: ['tcp:22'],
  attributes: [
    { name: 'bosun.os-type', value: 'linux' },
    { name: 'bosun.zone', value: 'zone-a' },
  ],
  versionInfo: { agentVersion: '0.1.0', dockerVersion: '20.10.24' },
  ...extra,
});

async function register(body: RegisterInstanceRequest) {
  const res = await fetch(`${cp.endpoint}/agent/v1/register`, {
    method: 'POST',
    dispatcher: agentDispatcher(),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** What a refusal must leave as it was: every token's uses and the set of instances. */
async function stored() {
  const tokens = await cp.database.sql`select id, uses_remaining, revoked_at from join_tokens order by id`;
  const instances = await cp.database.sql`select id from container_instances order by id`;
  return JSON.stringify({ tokens, instances });
}

describe('join tokens', () => {
  it('are single use by default: the second registration is refused and stores nothing', async () => {
    const { joinToken, usesRemaining, expiresAt } = await createToken();
    expect(usesRemaining).toBe(1);
    // Default TTL: one hour.
    expect(expiresAt * 1000 - Date.now()).toBeGreaterThan(3590_000);
    expect(expiresAt * 1000 - Date.now()).toBeLessThanOrEqual(3600_000);
    expect((await register(hostInfo(joinToken))).status).toBe(200);
    const before = await stored();
    const again = await register(hostInfo(joinToken));
    expect(again.status).toBe(403);
    expect(again.body).toMatchObject({
      __type: 'UnrecognizedClientException',
      message: 'The join token has been used up (1 use); create a new one.',
    });
    expect(await stored()).toBe(before);
  });

  it('two agents racing on a single-use token: exactly one registers', async () => {
    for (let round = 0; round < 5; round++) {
      const { joinToken } = await createToken();
      const results = await Promise.all([register(hostInfo(joinToken)), register(hostInfo(joinToken))]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 403]);
    }
  });

  it('--uses N lets N hosts join, then no more', async () => {
    const { joinToken, joinTokenId } = await createToken({ uses: 3 });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => register(hostInfo(joinToken))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(results.filter((r) => r.status === 403)).toHaveLength(2);
    const list = await bosun('ListJoinTokens');
    const mine = (list.body.joinTokens as Record<string, unknown>[]).find(
      (t) => t.joinTokenId === joinTokenId,
    );
    expect(mine).toMatchObject({ maxUses: 3, usesRemaining: 0, status: 'USED', revoked: false });
  });

  it('expire: a token past its TTL is refused and stores nothing', async () => {
    const { joinToken } = await createToken({ expiresInSeconds: 60 });
    const before = await stored();
    cp.setClock(() => new Date(Date.now() + 61_000));
    try {
      const res = await register(hostInfo(joinToken));
      expect(res.status).toBe(403);
      expect(String(res.body.message)).toMatch(/^The join token expired at /);
    } finally {
      cp.setClock(() => new Date());
    }
    expect(await stored()).toBe(before);
  });

  it('revoked: listed as REVOKED, refused, and revoking twice keeps the first time', async () => {
    const { joinToken, joinTokenId } = await createToken({ uses: 5 });
    const revoked = await bosun('RevokeJoinToken', { joinTokenId });
    expect(revoked.status).toBe(200);
    expect(revoked.body.joinToken).toMatchObject({
      joinTokenId,
      status: 'REVOKED',
      revoked: true,
      usesRemaining: 5,
    });
    const before = await stored();
    const res = await register(hostInfo(joinToken));
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('The join token was revoked.');
    expect(await stored()).toBe(before);
    const twice = await bosun('RevokeJoinToken', { joinTokenId });
    expect((twice.body.joinToken as { revokedAt: number }).revokedAt).toBe(
      (revoked.body.joinToken as { revokedAt: number }).revokedAt,
    );
  });

  it('a forged token is refused as not valid, whatever its shape', async () => {
    const before = await stored();
    for (const forged of [
      'bjt_not-a-real-token-at-all-xxxxxxxx',
      `bjt_${'A'.repeat(43)}`,
      `bjt_1_${'0'.repeat(64)}_${'A'.repeat(43)}`,
      `${'x'.repeat(47)}`,
    ]) {
      const res = await register(hostInfo(forged));
      expect(res.status).toBe(403);
      expect(res.body.__type).toBe('UnrecognizedClientException');
      expect(String(res.body.message)).toMatch(/^The join token is not valid/);
    }
    expect(await stored()).toBe(before);
  });

  it('lists tokens without their secret, pages, and refuses an unknown id', async () => {
    const created = await createToken();
    const first = await bosun('ListJoinTokens', { maxResults: 1 });
    expect(first.status).toBe(200);
    expect(JSON.stringify(first.body)).not.toContain('bjt_');
    expect(first.body.nextToken).toBeDefined();
    const all: Record<string, unknown>[] = [];
    let next: unknown;
    do {
      const res = await bosun('ListJoinTokens', { maxResults: 3, ...(next ? { nextToken: next } : {}) });
      all.push(...(res.body.joinTokens as Record<string, unknown>[]));
      next = res.body.nextToken;
    } while (next);
    expect(new Set(all.map((t) => t.joinTokenId)).size).toBe(all.length);
    expect(all.at(-1)).toMatchObject({
      joinTokenId: created.joinTokenId,
      status: 'ACTIVE',
      usesRemaining: 1,
    });
    expect(JSON.stringify(all)).not.toContain(created.joinToken);
    const unknown = await bosun('RevokeJoinToken', { joinTokenId: '00000000-0000-0000-0000-000000000000' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.__type).toBe('InvalidParameterException');
    const junk = await bosun('RevokeJoinToken', { joinTokenId: "x' or 1=1" });
    expect(junk.status).toBe(400);
  });
});

describe('what a joining host may claim', () => {
  it('capacity is clamped to the token caps', async () => {
    const { joinToken } = await createToken({ maxCpu: 1024, maxMemory: 512 });
    const res = await register(hostInfo(joinToken, { cpu: 1_048_576, memory: 99_999_999 }));
    expect(res.status).toBe(200);
    const out = await cp.ecs.send(
      new DescribeContainerInstancesCommand({ containerInstances: [String(res.body.containerInstanceArn)] }),
    );
    const registered = out.containerInstances?.[0]?.registeredResources ?? [];
    expect(registered.find((r) => r.name === 'CPU')?.integerValue).toBe(1024);
    expect(registered.find((r) => r.name === 'MEMORY')?.integerValue).toBe(512);
    // Below the cap, the declared value stands.
    const small = await register(hostInfo((await createToken({ maxCpu: 4096 })).joinToken, { cpu: 2048 }));
    const d = await cp.ecs.send(
      new DescribeContainerInstancesCommand({
        containerInstances: [String(small.body.containerInstanceArn)],
      }),
    );
    expect(d.containerInstances?.[0]?.registeredResources?.find((r) => r.name === 'CPU')?.integerValue).toBe(
      2048,
    );
  });

  it('reserved attributes are refused at registration (token unused) but PutAttributes sets them', async () => {
    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'isolated',
        containerDefinitions: [{ name: 'main', image: 'bosun/busybox:latest', memory: 16 }],
      }),
    );
    await cp.ecs.send(
      new CreateServiceCommand({
        serviceName: 'isolated',
        taskDefinition: 'isolated',
        desiredCount: 0,
        placementConstraints: [{ type: 'memberOf', expression: 'attribute:pool == private' }],
      }),
    );
    const { joinToken, joinTokenId } = await createToken();
    const cases: [string, string][] = [
      ['tenant', 'reserved by BOSUN_RESERVED_ATTRIBUTES'],
      ['secure.level', 'reserved by BOSUN_RESERVED_ATTRIBUTES'],
      ['pool', "read by a service's memberOf placement constraint"],
      ['bosun.trusted', 'bosun.* attributes are reserved to bosun'],
    ];
    for (const [name, why] of cases) {
      const before = await stored();
      const res = await register(
        hostInfo(joinToken, {
          attributes: [
            { name: 'bosun.os-type', value: 'linux' },
            { name, value: 'x' },
          ],
        }),
      );
      expect(res.status).toBe(400);
      expect(res.body.__type).toBe('ClientException');
      expect(String(res.body.message)).toContain(`${name} (${why})`);
      expect(await stored()).toBe(before);
    }
    // Other custom attributes are the host's to declare; the token was not used by the refusals.
    const ok = await register(hostInfo(joinToken, { attributes: [{ name: 'disk', value: 'ssd' }] }));
    expect(ok.status).toBe(200);
    const list = await bosun('ListJoinTokens');
    expect(
      (list.body.joinTokens as Record<string, unknown>[]).find((t) => t.joinTokenId === joinTokenId),
    ).toMatchObject({
      usesRemaining: 0,
    });
    // The admin sets them.
    const put = await cp.ecs.send(
      new PutAttributesCommand({
        attributes: [
          { name: 'tenant', value: 'acme', targetId: String(ok.body.containerInstanceArn) },
          { name: 'pool', value: 'private', targetId: String(ok.body.containerInstanceArn) },
        ],
      }),
    );
    expect(put.attributes).toHaveLength(2);
  });

  it('a token with requireApproval holds its hosts REGISTERING, with no task placed, until an admin sets them ACTIVE', async () => {
    const { joinToken } = await createToken({ requireApproval: true, uses: 2 });
    const res = await register(hostInfo(joinToken));
    expect(res.status).toBe(200);
    const arn = String(res.body.containerInstanceArn);
    const describe = async () =>
      (await cp.ecs.send(new DescribeContainerInstancesCommand({ containerInstances: [arn] })))
        .containerInstances?.[0];
    expect((await describe())?.status).toBe('REGISTERING');
    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'approval',
        containerDefinitions: [{ name: 'main', image: 'bosun/busybox:latest', memory: 16 }],
      }),
    );
    const held = await cp.ecs.send(
      new StartTaskCommand({ taskDefinition: 'approval', containerInstances: [arn] }),
    );
    expect(held.tasks).toEqual([]);
    expect(held.failures?.[0]?.arn).toBe(arn);
    await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({ containerInstances: [arn], status: 'ACTIVE' }),
    );
    expect((await describe())?.status).toBe('ACTIVE');
    const placed = await cp.ecs.send(
      new StartTaskCommand({ taskDefinition: 'approval', containerInstances: [arn] }),
    );
    expect(placed.tasks?.[0]?.containerInstanceArn).toBe(arn);
  });
});
