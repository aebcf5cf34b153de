import { X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate } from 'node:tls';
import { DeregisterContainerInstanceCommand, DescribeContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { parseJoinToken } from '@bosun/model';
import { agentDispatcher, newAgentKeyPair } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, fingerprintOf, issueClientCertificate, signingCa } from '../src/tls/certificates.ts';
import { type FakeAgent, joinToken, registerAgent } from './fake-agent.ts';

/**
 * TLS with per-host identity, against a real control plane over real TLS: its server certificate, the
 * join token's CA fingerprint, the client certificate a host gets at join, and what is refused.
 */
let cp: TestControlPlane;
beforeAll(async () => {
  // Client certificates of 45 s: renewal is tested without waiting for it.
  cp = await startControlPlane({ agentCertLifetimeMs: 45_000 });
});
afterAll(async () => {
  await cp?.close();
});

const port = () => Number(new URL(cp.endpoint).port);

/** A TLS handshake with the control plane trusting `ca` for `servername`: its certificate, or the error. */
function handshake(ca: string, servername: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: port(), ca, servername }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

/** An agent call with any identity (key and certificate) and credential; never throws on an error answer. */
async function agentCall(
  path: string,
  o: { identity?: { keyPem: string; certPem: string }; credential?: string; body?: unknown },
) {
  const res = await fetch(`${cp.endpoint}${path}`, {
    method: 'POST',
    dispatcher: agentDispatcher(o.identity),
    headers: {
      'content-type': 'application/json',
      ...(o.credential ? { authorization: `Bearer ${o.credential}` } : {}),
    },
    body: JSON.stringify(o.body ?? {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const identityOf = (a: FakeAgent) => ({
  keyPem: a.keyPem ?? '',
  certPem: a.registration.certificate ?? '',
});

describe('the server certificate', () => {
  it('verifies against the install CA for localhost and 127.0.0.1', async () => {
    for (const name of ['localhost', '127.0.0.1']) {
      const cert = await handshake(cp.tls.serverCaPem, name);
      expect(cert.subjectaltname).toContain('DNS:localhost');
      expect(cert.subjectaltname).toContain('IP Address:127.0.0.1');
    }
  });

  it('does not verify for another name, nor against another CA', async () => {
    await expect(handshake(cp.tls.serverCaPem, 'elsewhere.example')).rejects.toThrow(/altnames|Hostname/i);
    const other = await createCa('another install', new Date());
    await expect(handshake(other.certPem, 'localhost')).rejects.toThrow(/certificate/i);
  });

  it('is what GET /agent/v1/ca names, and join tokens carry that CA fingerprint', async () => {
    const res = await fetch(`${cp.endpoint}/agent/v1/ca`);
    const { caCertificate } = (await res.json()) as { caCertificate: string };
    expect(caCertificate).toBe(cp.tls.serverCaPem);
    const token = await joinToken(cp);
    expect(token).toMatch(/^bjt_1_[0-9a-f]{64}_[A-Za-z0-9_-]{43}$/);
    expect(parseJoinToken(token)?.caFingerprint).toBe(fingerprintOf(caCertificate));
  });
});

describe('per-host client certificates', () => {
  let a: FakeAgent;
  let b: FakeAgent;
  beforeAll(async () => {
    a = await registerAgent(cp, { hostname: 'a' });
    b = await registerAgent(cp, { hostname: 'b' });
  });

  it('are issued at join by the install CA for the container instance', () => {
    const cert = new X509Certificate(a.registration.certificate ?? '');
    expect(cert.subject).toBe(`CN=${a.id}`);
    expect(cert.checkIssued(new X509Certificate(cp.tls.agentCa.certPem))).toBe(true);
    expect(cert.verify(new X509Certificate(cp.tls.agentCa.certPem).publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('let the host heartbeat, poll and report', async () => {
    expect((await a.heartbeat()).status).toBe('ACTIVE');
    expect((await a.desired()).tasks).toEqual([]);
    expect((await a.report([])).unknownTaskIds).toEqual([]);
  });

  it('are required besides the bearer credential', async () => {
    const none = await agentCall('/agent/v1/heartbeat', { credential: a.registration.credential });
    expect(none).toMatchObject({ status: 403, body: { __type: 'UnrecognizedClientException' } });
    expect(String(none.body.message)).toContain('client certificate');
    const noBearer = await agentCall('/agent/v1/heartbeat', { identity: identityOf(a) });
    expect(noBearer.status).toBe(403);
  });

  it("refuse one host's certificate with another host's credential", async () => {
    const res = await agentCall('/agent/v1/heartbeat', {
      identity: identityOf(b),
      credential: a.registration.credential,
    });
    expect(res).toMatchObject({ status: 403, body: { __type: 'UnrecognizedClientException' } });
    expect(String(res.body.message)).toContain('another container instance');
  });

  it('refuse a certificate from another CA, even one naming the instance', async () => {
    const other = await signingCa(await createCa('rogue', new Date()));
    const keys = newAgentKeyPair();
    const forged = await issueClientCertificate(other, {
      instanceId: a.id,
      publicKeyDer: Buffer.from(keys.publicKey, 'base64'),
      now: new Date(),
      lifetimeMs: 3600_000,
    });
    for (const path of ['/agent/v1/heartbeat', '/agent/v1/report', '/agent/v1/certificate']) {
      const res = await agentCall(path, {
        identity: { keyPem: keys.keyPem, certPem: forged },
        credential: a.registration.credential,
        body: path.endsWith('certificate') ? { publicKey: keys.publicKey } : { tasks: [] },
      });
      expect(res, path).toMatchObject({ status: 403, body: { __type: 'UnrecognizedClientException' } });
    }
  });

  it('are renewed with a new key; the previous one serves until the next renewal', async () => {
    const first = identityOf(a);
    const second = newAgentKeyPair();
    const renewed = await agentCall('/agent/v1/certificate', {
      identity: first,
      credential: a.registration.credential,
      body: { publicKey: second.publicKey },
    });
    expect(renewed.status).toBe(200);
    const secondId = { keyPem: second.keyPem, certPem: String(renewed.body.certificate) };
    expect(new X509Certificate(secondId.certPem).subject).toBe(`CN=${a.id}`);
    expect(fingerprintOf(secondId.certPem)).not.toBe(fingerprintOf(first.certPem));
    const beat = (identity: { keyPem: string; certPem: string }) =>
      agentCall('/agent/v1/heartbeat', { identity, credential: a.registration.credential });
    expect((await beat(secondId)).status).toBe(200);
    expect((await beat(first)).status).toBe(200);

    const third = newAgentKeyPair();
    const again = await agentCall('/agent/v1/certificate', {
      identity: secondId,
      credential: a.registration.credential,
      body: { publicKey: third.publicKey },
    });
    expect(again.status).toBe(200);
    const refused = await beat(first);
    expect(refused).toMatchObject({ status: 403, body: { __type: 'UnrecognizedClientException' } });
    expect(String(refused.body.message)).toContain('replaced or revoked');
    expect((await beat(secondId)).status).toBe(200);
    expect((await beat({ keyPem: third.keyPem, certPem: String(again.body.certificate) })).status).toBe(200);
  });

  it('refuse a renewal for a key that is not EC P-256, and store nothing', async () => {
    const before = await cp.database
      .sql`select certificate_fingerprint from container_instances where id = ${b.id}`;
    const res = await agentCall('/agent/v1/certificate', {
      identity: identityOf(b),
      credential: b.registration.credential,
      body: { publicKey: Buffer.from('not a key').toString('base64') },
    });
    expect(res).toMatchObject({ status: 400, body: { __type: 'InvalidParameterException' } });
    const after = await cp.database
      .sql`select certificate_fingerprint from container_instances where id = ${b.id}`;
    expect(after).toEqual(before);
  });

  it("refuse a deregistered instance's certificate", async () => {
    await cp.ecs.send(new DeregisterContainerInstanceCommand({ containerInstance: b.id, force: true }));
    const res = await agentCall('/agent/v1/heartbeat', {
      identity: identityOf(b),
      credential: b.registration.credential,
    });
    expect(res).toMatchObject({ status: 403, body: { __type: 'UnrecognizedClientException' } });
    await expect(b.desired()).rejects.toThrow(/403/);
  });
});

describe('joining', () => {
  const host = (joinToken: string, publicKey?: string) => ({
    joinToken,
    hostname: 'joiner',
    cpu: 1024,
    memory: 1024,
    reservedPorts: [],
    attributes: [],
    versionInfo: { agentVersion: '0.1.0', dockerVersion: '27.0.0' },
    ...(publicKey ? { publicKey } : {}),
  });
  const count = async () =>
    Number((await cp.database.sql`select count(*)::int as n from container_instances`)[0]?.n);

  it('refuses an old-shape token, a missing or bad public key; nothing is stored', async () => {
    const before = await count();
    const token = await joinToken(cp);
    const secret = parseJoinToken(token)?.secret ?? '';
    const old = await agentCall('/agent/v1/register', {
      body: host(`bjt_${secret}`, newAgentKeyPair().publicKey),
    });
    expect(old).toMatchObject({ status: 403, body: { __type: 'UnrecognizedClientException' } });
    const noKey = await agentCall('/agent/v1/register', { body: host(token) });
    expect(noKey).toMatchObject({ status: 400, body: { __type: 'InvalidParameterException' } });
    const badKey = await agentCall('/agent/v1/register', { body: host(token, 'AAAA') });
    expect(badKey.status).toBe(400);
    expect(await count()).toBe(before);
  });

  it('describes the joined host like any other', async () => {
    const c = await registerAgent(cp, { hostname: 'c' });
    const out = await cp.ecs.send(new DescribeContainerInstancesCommand({ containerInstances: [c.id] }));
    expect(out.containerInstances?.[0]?.status).toBe('ACTIVE');
  });
});

describe('plain HTTP (BOSUN_TLS=off)', () => {
  it('serves the API and the agent protocol with the bearer credential alone', async () => {
    const plain = await startControlPlane({ serveTls: false });
    try {
      expect(plain.endpoint).toMatch(/^http:\/\//);
      const a = await registerAgent(plain, { hostname: 'plain' });
      expect(a.registration.certificate).toBeUndefined();
      const res = await fetch(`${plain.endpoint}/agent/v1/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.registration.credential}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(200);
    } finally {
      await plain.close();
    }
  });
});
