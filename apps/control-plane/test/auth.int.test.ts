import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { ecsTarget, rawEcsCall, signEcsRequest, trustingHttpsAgent } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.close();
});

const body = '{}';
const list = ecsTarget('ListClusters');

describe('SigV4 authentication', () => {
  it('accepts a correctly signed request', async () => {
    const res = await rawEcsCall(cp.endpoint, { target: list, body, key: cp.key });
    expect(res.status).toBe(200);
  });

  it('rejects a request with no signature', async () => {
    const res = await rawEcsCall(cp.endpoint, { target: list, body });
    expect(res.status).toBe(403);
    expect(res.body.__type).toBe('MissingAuthenticationTokenException');
  });

  it('rejects an unknown access key', async () => {
    const res = await rawEcsCall(cp.endpoint, {
      target: list,
      body,
      key: { accessKeyId: 'BKIAUNKNOWNUNKNOWN00', secretAccessKey: 'whatever' },
    });
    expect(res.status).toBe(403);
    expect(res.body.__type).toBe('UnrecognizedClientException');
  });

  it('rejects a wrong secret', async () => {
    const res = await rawEcsCall(cp.endpoint, {
      target: list,
      body,
      key: { accessKeyId: cp.key.accessKeyId, secretAccessKey: `${cp.key.secretAccessKey}x` },
    });
    expect(res.status).toBe(403);
    expect(res.body.__type).toBe('InvalidSignatureException');
  });

  it('rejects a signature older than 5 minutes, and one from the future', async () => {
    for (const offset of [-6 * 60_000, 6 * 60_000]) {
      const res = await rawEcsCall(cp.endpoint, {
        target: list,
        body,
        key: cp.key,
        signingDate: new Date(Date.now() + offset),
      });
      expect(res.status).toBe(403);
      expect(res.body.__type).toBe('InvalidSignatureException');
      expect(res.body.message).toMatch(/Signature expired/);
    }
    const fresh = await rawEcsCall(cp.endpoint, {
      target: list,
      body,
      key: cp.key,
      signingDate: new Date(Date.now() - 4 * 60_000),
    });
    expect(fresh.status).toBe(200);
  });

  it('rejects a body changed after signing', async () => {
    const res = await rawEcsCall(cp.endpoint, {
      target: ecsTarget('CreateCluster'),
      body: '{"clusterName":"a"}',
      key: cp.key,
      headers: {},
    });
    expect(res.status).toBe(200);
    // Sign one body, send another.
    const headers = await signEcsRequest(cp.endpoint, cp.key, {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': ecsTarget('CreateCluster') },
      body: '{"clusterName":"signed"}',
    });
    const res2 = await fetch(`${cp.endpoint}/`, {
      method: 'POST',
      headers,
      body: '{"clusterName":"tampered"}',
    });
    expect(res2.status).toBe(403);
    expect(((await res2.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
  });

  it('rejects credentials scoped to another region, and the SDK names the error', async () => {
    const other = new ECSClient({
      endpoint: cp.endpoint,
      region: 'us-east-1',
      credentials: cp.key,
      maxAttempts: 1,
      requestHandler: { httpsAgent: trustingHttpsAgent() },
    });
    await expect(other.send(new ListClustersCommand({}))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
    });
    other.destroy();
  });

  it('serves health and the OpenAPI document without a signature', async () => {
    const health = await fetch(`${cp.endpoint}/healthz`);
    expect(health.status).toBe(200);
    const doc = (await (await fetch(`${cp.endpoint}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toContain('/#RegisterTaskDefinition');
    expect(JSON.stringify(doc.paths['/#RegisterTaskDefinition'])).toContain('containerDefinitions');
  });
});
