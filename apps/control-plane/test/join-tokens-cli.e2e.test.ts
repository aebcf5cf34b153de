import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Stack, startAgentProcess, startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Join tokens as a user handles them (issue 18): `scripts/bosun join-token`, `list-join-tokens`,
 * `revoke-join-token`, and real agents joining — the second with the same token is refused and says why.
 */
let stack: Stack;
const dirs: string[] = [];

beforeAll(async () => {
  stack = await startStack({ noAgent: true });
}, 120_000);

afterAll(async () => {
  await stack?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 120_000);

function agentEnv(token: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-e2e-join-'));
  dirs.push(dir);
  return {
    BOSUN_CONTROL_PLANE_URL: stack.server.clientEnv.AWS_ENDPOINT_URL_ECS ?? '',
    BOSUN_AGENT_STATE_DIR: dir,
    BOSUN_JOIN_TOKEN: token,
  };
}

interface Listed {
  joinTokens: {
    joinTokenId: string;
    status: string;
    usesRemaining: number;
    maxUses: number;
    revoked: boolean;
  }[];
}
const list = async () => JSON.parse(await stack.bosun('list-join-tokens')) as Listed;

describe('join tokens through scripts/bosun and real agents', () => {
  it('a token joins one agent; the same token again is refused and the agent exits saying why', async () => {
    const token = await stack.bosun('join-token');
    expect(token).toMatch(/^bjt_/);
    const first = await startAgentProcess(agentEnv(token));
    try {
      const second = startAgentProcess(agentEnv(token));
      await expect(second).rejects.toThrow(/The join token has been used up/);
    } finally {
      await first.stop();
    }
    const listed = await list();
    expect(listed.joinTokens).toHaveLength(1);
    expect(listed.joinTokens[0]).toMatchObject({ status: 'USED', usesRemaining: 0, maxUses: 1 });
    expect(JSON.stringify(listed)).not.toContain(token);
  }, 120_000);

  it('--uses 2, then revoked: listed, and refused after the revoke', async () => {
    const token = await stack.bosun('join-token', '--uses', '2', '--expires-in', '600');
    const id = (await list()).joinTokens.find((t) => t.maxUses === 2)?.joinTokenId ?? '';
    const out = JSON.parse(await stack.bosun('revoke-join-token', '--id', id)) as {
      joinToken: { status: string; revoked: boolean };
    };
    expect(out.joinToken).toMatchObject({ status: 'REVOKED', revoked: true });
    await expect(startAgentProcess(agentEnv(token))).rejects.toThrow(/The join token was revoked/);
    await expect(
      stack.bosun('revoke-join-token', '--id', '00000000-0000-0000-0000-000000000000'),
    ).rejects.toThrow(/InvalidParameterException/);
  }, 120_000);
});
