import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildResult, buildAgent } from '../build.ts';

/**
 * The agent as bosun ships it (apps/agent/build.ts): what goes into the bundle, and that it runs under
 * plain node. The e2e tests run the agent through tsx; bench/agent-footprint and scripts/up run this.
 */
describe('agent bundle', () => {
  let dir: string;
  let out: BuildResult;
  let inputs: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bosun-agent-bundle-'));
    out = await buildAgent({ outfile: join(dir, 'agent.mjs'), metafile: true });
    // What ends up in the file: esbuild also lists modules it read and then shook out entirely.
    const meta = JSON.parse(out.metafile ?? '{}') as {
      outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
    };
    const bundle = Object.entries(meta.outputs).find(([file]) => file.endsWith('.mjs'))?.[1];
    inputs = Object.entries(bundle?.inputs ?? {})
      .filter(([, i]) => i.bytesInOutput > 0)
      .map(([file]) => file);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves out what the agent never runs', () => {
    // Each of these once cost the agent megabytes of RSS (README, Performance).
    const unwanted = [
      /node_modules\/@grpc\//,
      /node_modules\/protobufjs\//,
      /node_modules\/ssh2\//,
      /node_modules\/tar-fs\//,
      /node_modules\/thread-stream\//,
      /zod\/v4\/classic\//,
      /zod\/v4\/locales\/(?!en\.)/,
      /packages\/model\/src\/(index|task-definition|agent-protocol|tags)\.ts$/,
    ];
    expect(inputs.filter((f) => unwanted.some((re) => re.test(f)))).toEqual([]);
    expect(inputs.some((f) => f.includes('node_modules/dockerode/'))).toBe(true);
    expect(out.bytes).toBeLessThan(600 * 1024);
  });

  it('runs under plain node and reports bad settings', () => {
    const r = spawnSync(process.execPath, [out.outfile], {
      env: { ...process.env, BOSUN_LOG_LEVEL: 'loud' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Invalid agent configuration');
    expect(r.stderr).toContain('BOSUN_LOG_LEVEL: Invalid option');
  });

  it('names what is left out when something uses it (ssh:// DOCKER_HOST needs ssh2)', async () => {
    const child = spawn(process.execPath, [out.outfile], {
      env: {
        ...process.env,
        DOCKER_HOST: 'ssh://bosun@127.0.0.1:1',
        BOSUN_AGENT_STATE_DIR: join(dir, 'state'),
        BOSUN_CONTROL_PLANE_URL: 'https://127.0.0.1:1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!output.includes('left out of the agent bundle') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(output).toContain('ssh2 is left out of the agent bundle');
      expect(output).toContain('Docker is not reachable yet');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
