/**
 * control-plane-footprint: the control plane's RSS and CPU at idle, as bosun runs it (the esbuild
 * bundle of apps/control-plane/build.ts, built here by the same function as
 * scripts/build-control-plane, under plain `node` with CONTROL_PLANE_NODE_FLAGS, as scripts/up, the
 * Dockerfile and docker-compose.yml start it) against the same code through tsx
 * (`node --import tsx apps/control-plane/src/server.ts`, as development and the tests run it).
 *
 * Idle: hollow hosts (bench/hollow.ts) registered, heartbeating every 2 s and holding their 20 s
 * long-polls, no task. With 3 hosts and with 500. Each measurement is a fresh control plane on a
 * scratch database; after a settling pause its RSS (mean and peak of 1 s samples) and CPU are read
 * from /proc. The two ways alternate, in swapped order each round, so that the machine's drift falls
 * on both; the ratios compare medians over the rounds.
 *
 *   node --import tsx bench/control-plane-footprint.ts [--smoke]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignedEcsClient as Ecs, freePort, parseEnvFile, requireEnv } from '@bosun/testkit';
import { buildControlPlane, CONTROL_PLANE_NODE_FLAGS } from '../apps/control-plane/build.ts';
import { HollowFleet } from './hollow.ts';
import { median, num } from './lib/numbers.ts';
import { ProcessSampler } from './lib/proc.ts';
import { type Proc, spawnLogged } from './lib/processes.ts';
import { type Row, report, resultsDir } from './lib/report.ts';
import { log, main, SMOKE } from './lib/run.ts';
import { queuePrefix, scratchDatabase, tempDir } from './lib/services.ts';

const HOST_COUNTS = SMOKE ? [3, 20] : [3, 500];
const ROUNDS = SMOKE ? 1 : 2;
const SETTLE_S = SMOKE ? 2 : 15;
const WINDOW_S = SMOKE ? 3 : 30;
const HEARTBEAT_S = 2;
const LONG_POLL_S = 20;

interface Way {
  name: 'compiled' | 'tsx';
  label: string;
  args: string[];
}

interface Measurement {
  way: Way['name'];
  hosts: number;
  round: number;
  rssMeanMb: number;
  rssPeakMb: number;
  cpuPercent: number;
  heartbeatsPerSecond: number;
  errors: number;
  lastError?: string;
}

main(async () => {
  const bundle = await buildControlPlane({ outdir: join(resultsDir(), 'control-plane-bundle') });
  log(`control-plane bundle ${bundle.server} (${num(bundle.bytes / 1024)} kB)`);
  const ways: Way[] = [
    {
      name: 'compiled',
      label: `\`node ${CONTROL_PLANE_NODE_FLAGS.join(' ')} dist/server.mjs\``,
      args: [...CONTROL_PLANE_NODE_FLAGS, bundle.server],
    },
    {
      name: 'tsx',
      label: '`node --import tsx src/server.ts`',
      args: ['--import', 'tsx', 'apps/control-plane/src/server.ts'],
    },
  ];

  const all: Measurement[] = [];
  for (const hosts of HOST_COUNTS) {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? ways : [...ways].reverse();
      for (const way of order) all.push(await measure(way, hosts, round));
    }
  }

  const of = (way: Way['name'], hosts: number) => all.filter((m) => m.way === way && m.hosts === hosts);
  const med = (ms: Measurement[], pick: (m: Measurement) => number) => median(ms.map(pick));
  const rows: Row[] = [];
  for (const hosts of HOST_COUNTS) {
    for (const way of ways) {
      const ms = of(way.name, hosts);
      const errors = ms.reduce((n, m) => n + m.errors, 0);
      rows.push({
        metric: `control plane at idle, ${hosts} hollow hosts: ${way.name} (${way.label})`,
        value: `${num(
          med(ms, (m) => m.rssMeanMb),
          1,
        )} MB, ${num(
          med(ms, (m) => m.cpuPercent),
          2,
        )} % CPU`,
        note: `mean RSS over ${WINDOW_S} s, median of ${ms.length}: ${ms.map((m) => num(m.rssMeanMb, 1)).join(' / ')} MB; peak ${num(Math.max(...ms.map((m) => m.rssPeakMb)), 1)} MB; ${num(med(ms, (m) => m.heartbeatsPerSecond))} heartbeats/s${errors > 0 ? `; ${errors} agent-protocol errors (${ms.find((m) => m.lastError)?.lastError})` : ''}`,
      });
    }
    const compiled = of('compiled', hosts);
    const tsx = of('tsx', hosts);
    rows.push({
      metric: `compiled / tsx, ${hosts} hosts`,
      value: `${num(med(compiled, (m) => m.rssMeanMb) / med(tsx, (m) => m.rssMeanMb), 2)}× RSS`,
      note: `${num(med(tsx, (m) => m.rssMeanMb) - med(compiled, (m) => m.rssMeanMb), 1)} MB less compiled; CPU ${num(
        med(compiled, (m) => m.cpuPercent) /
          Math.max(
            1e-9,
            med(tsx, (m) => m.cpuPercent),
          ),
        2,
      )}×`,
    });
  }
  report(
    'control-plane-footprint',
    `control-plane-footprint (idle, ${WINDOW_S} s windows, ${ROUNDS} round(s))`,
    rows,
    {
      bundleBytes: bundle.bytes,
      nodeFlags: CONTROL_PLANE_NODE_FLAGS,
      windowSeconds: WINDOW_S,
      settleSeconds: SETTLE_S,
      heartbeatSeconds: HEARTBEAT_S,
      measurements: all,
    },
  );
});

/** One fresh control plane started `way`, `hosts` hollow hosts on it, then its idle figures. */
async function measure(way: Way, hosts: number, round: number): Promise<Measurement> {
  const name = `footprint-cp-${way.name}-${hosts}-${round}`;
  const cp = await startServer(name, way.args);
  const admin = new Ecs(cp.endpoint, cp.key);
  const fleet = new HollowFleet([cp.endpoint], {
    heartbeatMs: HEARTBEAT_S * 1000,
    longPollSeconds: LONG_POLL_S,
    connectionsPerEndpoint: Math.ceil(hosts * 1.5) + 16,
  });
  try {
    await fleet.register(
      hosts,
      async () => (await admin.call<{ joinToken: string }>('BosunV1.CreateJoinToken', {})).joinToken,
      () => ({ cpu: 8192, memory: 16_384, attributes: [] }),
    );
    fleet.start();
    log(`${name}: ${hosts} hosts registered; settling ${SETTLE_S} s, then measuring ${WINDOW_S} s`);
    await sleep(SETTLE_S * 1000);
    const sampler = new ProcessSampler(cp.proc.pid);
    const hb0 = fleet.counters.heartbeats;
    await sleep(WINDOW_S * 1000);
    const heartbeats = fleet.counters.heartbeats - hb0;
    const stats = sampler.stop();
    const rss = sampler.samples.map((s) => s.rssMb);
    const m: Measurement = {
      way: way.name,
      hosts,
      round,
      rssMeanMb: rss.length > 0 ? rss.reduce((a, b) => a + b, 0) / rss.length : stats.rssMb,
      rssPeakMb: stats.peakRssMb,
      cpuPercent: stats.cpuPercent,
      heartbeatsPerSecond: heartbeats / stats.seconds,
      errors: fleet.counters.errors,
      ...(fleet.counters.lastError ? { lastError: fleet.counters.lastError } : {}),
    };
    log(
      `${name}: RSS mean ${num(m.rssMeanMb, 1)} MB, peak ${num(m.rssPeakMb, 1)} MB, CPU ${num(m.cpuPercent, 2)} %`,
    );
    return m;
  } finally {
    await fleet.stop();
    await cp.proc.stop();
  }
}

/**
 * A control plane on its own scratch database and BullMQ prefix, started with node `args`, once it
 * answers /healthz and has written its env file. BOSUN_LOG_LEVEL=warn, as in the other benchmarks.
 */
async function startServer(
  name: string,
  args: string[],
): Promise<{ proc: Proc; endpoint: string; key: { accessKeyId: string; secretAccessKey: string } }> {
  const stateDir = tempDir(`bosun-bench-${name}-`);
  const port = await freePort();
  const proc = spawnLogged(name, args, {
    DATABASE_URL: await scratchDatabase(),
    REDIS_URL: requireEnv('REDIS_URL'),
    BOSUN_STATE_DIR: stateDir,
    BOSUN_PORT: String(port),
    BOSUN_QUEUE_PREFIX: queuePrefix(),
    BOSUN_LOG_LEVEL: 'warn',
    BOSUN_HEARTBEAT_INTERVAL_SECONDS: String(HEARTBEAT_S),
    BOSUN_LONG_POLL_SECONDS: String(LONG_POLL_S),
    // Plain HTTP on loopback: the hollow fleet's shared pools cannot present per-host client certificates.
    BOSUN_TLS: 'off',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited:\n${proc.tail()}`);
    if (Date.now() > deadline) throw new Error(`${name} did not become ready:\n${proc.tail()}`);
    const ok = await fetch(`${endpoint}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) {
      try {
        const env = parseEnvFile(readFileSync(join(stateDir, 'env'), 'utf8'));
        if (env.AWS_SECRET_ACCESS_KEY) {
          const key = {
            accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          };
          return { proc, endpoint, key };
        }
      } catch {
        // not written yet
      }
    }
    await sleep(100);
  }
}
