import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createJoinToken,
  docker,
  type Stack,
  type StackAgent,
  startAgentProcess,
  startStack,
  waitUntil,
} from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CuttableProxy, startCuttableProxy } from './faults/cuttable-proxy.ts';

/**
 * The agent channel over TLS, as a new user runs it: a real control plane and agent as processes, the
 * agent reaching the control plane through a TCP proxy that records every byte (what `tcpdump` of
 * the path would see). Client certificates live 30 s here, so the agent renews while the test runs.
 */
let stack: Stack;
let proxy: CuttableProxy;
let agent: StackAgent;
const secret = `bosun-wire-secret-${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  stack = await startStack({ noAgent: true, serverEnv: { BOSUN_AGENT_CERT_LIFETIME_SECONDS: '30' } });
  proxy = await startCuttableProxy(new URL(stack.server.clientEnv.AWS_ENDPOINT_URL_ECS ?? ''), {
    record: true,
  });
  agent = await stack.addAgent({ BOSUN_CONTROL_PLANE_URL: proxy.url });
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await proxy?.close();
}, 120_000);

const agentState = () =>
  JSON.parse(readFileSync(join(agent.dir, 'agent.json'), 'utf8')) as {
    credential: string;
    certificate: string;
    caCertificate: string;
  };

describe('the agent channel over TLS', () => {
  it("carries a task's environment, the join token and the agent credential, none of them in plaintext", async () => {
    await stack.aws(
      'register-task-definition',
      '--family',
      'wire',
      '--container-definitions',
      JSON.stringify([
        {
          name: 'main',
          image: 'bosun/busybox:latest',
          memory: 16,
          command: ['sleep', '3600'],
          environment: [{ name: 'WIRE_SECRET', value: secret }],
          stopTimeout: 2,
        },
      ]),
    );
    const arn = await stack.runTask('wire');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    // The environment did cross the channel: the container has it.
    const env = await docker(
      'inspect',
      '--format',
      '{{json .Config.Env}}',
      task.containers[0]?.runtimeId ?? '',
    );
    expect(env).toContain(secret);

    const wire = proxy.recorded();
    expect(wire.length).toBeGreaterThan(10_000);
    // TLS records: handshake (22) and application data (23), version 3.x.
    expect(wire.includes(Buffer.from([0x16, 0x03]))).toBe(true);
    expect(wire.includes(Buffer.from([0x17, 0x03, 0x03]))).toBe(true);
    const state = agentState();
    const credentialSecret = state.credential.split('.')[1] ?? '';
    for (const plain of [secret, credentialSecret, 'WIRE_SECRET', '/agent/v1/', 'Bearer', 'joinToken']) {
      expect(wire.includes(Buffer.from(plain)), plain).toBe(false);
    }
  });

  it('renews its client certificate before it expires and keeps working', async () => {
    const first = agentState().certificate;
    await waitUntil('a renewed client certificate', async () => agentState().certificate !== first, 60_000);
    expect(agent.process.output()).toContain('client certificate renewed');
    // Past the first certificate's end: the agent still heartbeats and gets tasks.
    const firstEnds = new Date(new X509Certificate(first).validTo).getTime();
    await new Promise((r) => setTimeout(r, Math.max(0, firstEnds - Date.now()) + 2000));
    const arn = await stack.runTask('wire');
    await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    const out = (await stack.aws(
      'describe-container-instances',
      '--container-instances',
      agent.instanceId(),
    )) as {
      containerInstances: { agentConnected: boolean }[];
    };
    expect(out.containerInstances[0]?.agentConnected).toBe(true);
    expect(agent.process.output()).not.toContain('control plane refused this agent');
  }, 120_000);

  it('refuses a control plane whose CA is not the one the join token names, before sending the token', async () => {
    const token = await createJoinToken(join(stack.stateDir, 'env'));
    const forged = token.replace(/^bjt_1_[0-9a-f]{64}_/, `bjt_1_${'0'.repeat(64)}_`);
    const before = proxy.recorded().length;
    const dir = mkdtempSync(join(tmpdir(), 'bosun-e2e-agent-'));
    const err = await startAgentProcess({
      BOSUN_CONTROL_PLANE_URL: proxy.url,
      BOSUN_AGENT_STATE_DIR: dir,
      BOSUN_JOIN_TOKEN: forged,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain('refusing the control plane');
    expect(err?.message).toContain('the join token names');
    // The token never went out (it is the request body of register, which was never sent).
    const secretPart = forged.slice(-43);
    expect(proxy.recorded().subarray(before).includes(Buffer.from(secretPart))).toBe(false);
    const list = (await stack.aws('list-container-instances')) as { containerInstanceArns: string[] };
    expect(list.containerInstanceArns).toHaveLength(1);
  });

  it('refuses a join token of the old shape at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-e2e-agent-'));
    const err = await startAgentProcess({
      BOSUN_CONTROL_PLANE_URL: proxy.url,
      BOSUN_AGENT_STATE_DIR: dir,
      BOSUN_JOIN_TOKEN: `bjt_${randomBytes(32).toString('base64url')}`,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain('is not a join token of this bosun');
  });
});
