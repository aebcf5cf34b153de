/**
 * api: autocannon against the ECS read path of one control-plane process — DescribeTasks (10 tasks per
 * call) and ListTasks (a page of 100) — with real SigV4 signatures: each phase signs a pool of
 * requests (distinct signing times, all inside the 5-minute window) and autocannon cycles through it.
 * Each action runs at a fixed 200 requests/s (latency) and then flat out (throughput).
 *
 * Baseline, measured in the same run: ListClusters, the cheapest signed action (SigV4 check, routing,
 * one small query), so the ratios show what each read costs beyond the fixed per-request price.
 *
 * DescribeServices: measured when the control plane has CreateService/DescribeServices (services,
 * issue 4); until then its row says so. See SERVICES_SLOT below.
 *
 * autocannon runs in this process, on the same two cores as the server, Postgres and Redis.
 *
 *   node --import tsx bench/api.ts [--smoke]
 */

import { ecsTarget, SignedEcsClient } from '@bosun/testkit';
import autocannon from 'autocannon';
import { HollowFleet } from './hollow.ts';
import { num } from './lib/numbers.ts';
import { ProcessSampler } from './lib/proc.ts';
import { startControlPlane } from './lib/processes.ts';
import { type Row, report } from './lib/report.ts';
import { log, main, SMOKE } from './lib/run.ts';
import { queuePrefix, scratchDatabase } from './lib/services.ts';

const SECONDS = SMOKE ? 1 : 15;
const FIXED_RATE = 200;
const P99_TARGET_MS = 50;
const MAX_TARGET = 2000;
const POOL = 64;

interface Phase {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  cpuPercent: number;
}

async function load(
  ecs: SignedEcsClient,
  action: string,
  body: string,
  o: { rate?: number; connections: number },
  pid: number,
): Promise<Phase> {
  // Signed now, a few ms apart: valid for the whole phase (the server allows five minutes of skew).
  const now = Date.now();
  const pool = await Promise.all(
    Array.from({ length: POOL }, (_, i) => ecs.sign(ecsTarget(action), body, new Date(now - i * 1000))),
  );
  let i = 0;
  const sampler = new ProcessSampler(pid);
  const result = await autocannon({
    url: ecs.endpoint,
    method: 'POST',
    body,
    connections: o.connections,
    duration: SECONDS,
    ...(o.rate ? { overallRate: o.rate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/',
        setupRequest: (req) => ({ ...req, headers: pool[i++ % POOL], body }),
      },
    ],
  });
  const cpu = sampler.stop();
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpuPercent: cpu.cpuPercent,
  };
}

/** Fixed rate, then flat out. */
async function measure(ecs: SignedEcsClient, action: string, input: unknown, pid: number) {
  const body = JSON.stringify(input);
  await ecs.call(action, input); // fails loudly if the action does not answer 200
  log(`${action}: ${FIXED_RATE} req/s for ${SECONDS} s, then max for ${SECONDS} s`);
  const fixed = await load(ecs, action, body, { rate: FIXED_RATE, connections: 10 }, pid);
  const max = await load(ecs, action, body, { connections: 32 }, pid);
  return { action, fixed, max };
}

type Measured = Awaited<ReturnType<typeof measure>>;

function rowsFor(m: Measured, baseline: Measured | undefined, label: string): Row[] {
  const bad = m.fixed.errors + m.fixed.non2xx + m.max.errors + m.max.non2xx;
  return [
    {
      metric: `${label}: p99 at ${FIXED_RATE} req/s`,
      value: `${num(m.fixed.p99, 1)} ms`,
      target: `≤ ${P99_TARGET_MS} ms`,
      met: m.fixed.p99 <= P99_TARGET_MS && bad === 0,
      note: `p50 ${num(m.fixed.p50, 1)} ms; ${num(m.fixed.rps)} req/s served; server CPU ${num(m.fixed.cpuPercent)} %`,
    },
    {
      metric: `${label}: max throughput`,
      value: `${num(m.max.rps)} req/s`,
      target: `≥ ${num(MAX_TARGET)} req/s`,
      met: m.max.rps >= MAX_TARGET && bad === 0,
      note: `p99 ${num(m.max.p99, 1)} ms; server CPU ${num(m.max.cpuPercent)} %${baseline ? `; ${num(m.max.rps / baseline.max.rps, 2)}× ListClusters` : ''}${bad ? `; ${bad} errors/non-2xx` : ''}`,
    },
  ];
}

main(async () => {
  const databaseUrl = await scratchDatabase();
  // Plain HTTP on loopback: the hollow fleet's shared pools cannot present per-host client certificates.
  const cp = await startControlPlane('api-control-plane', {
    databaseUrl,
    queuePrefix: queuePrefix(),
    env: { BOSUN_TLS: 'off' },
  });
  const ecs = new SignedEcsClient(cp.endpoint, cp.key);
  await ecs.call('RegisterTaskDefinition', {
    family: 'api',
    containerDefinitions: [
      { name: 'main', image: 'bosun/busybox:latest', memory: 16, command: ['sleep', '3600'] },
    ],
  });
  // Two hollow hosts to place on (they never need to heartbeat for a read benchmark after this).
  const fleet = new HollowFleet([cp.endpoint], {
    heartbeatMs: 2000,
    longPollSeconds: 20,
    connectionsPerEndpoint: 8,
  });
  await fleet.register(
    2,
    async () => (await ecs.call<{ joinToken: string }>('BosunV1.CreateJoinToken', {})).joinToken,
    () => ({ cpu: 8192, memory: 16_384, attributes: [] }),
  );
  fleet.start();
  const arns: string[] = [];
  for (let i = 0; i < 20; i++) {
    const out = await ecs.call<{ tasks: { taskArn: string }[] }>('RunTask', {
      taskDefinition: 'api',
      count: 10,
    });
    arns.push(...out.tasks.map((t) => t.taskArn));
  }
  while (fleet.runningAt.size < arns.length) await new Promise((r) => setTimeout(r, 50));
  await fleet.stop();
  log(`${arns.length} tasks RUNNING on 2 hollow hosts; measuring`);

  const baseline = await measure(ecs, 'ListClusters', {}, cp.pid);
  const describe = await measure(ecs, 'DescribeTasks', { tasks: arns.slice(0, 10) }, cp.pid);
  const list = await measure(ecs, 'ListTasks', {}, cp.pid);

  // ---- SERVICES_SLOT: DescribeServices, once services exist (issue 4) ----------------------------
  // Probed at run time: if CreateService answers, a service (desiredCount 0) is made and
  // DescribeServices is measured like the others; otherwise the row says it is not there yet.
  let services: Measured | undefined;
  try {
    await ecs.call('CreateService', { serviceName: 'bench', taskDefinition: 'api', desiredCount: 0 });
    services = await measure(ecs, 'DescribeServices', { services: ['bench'] }, cp.pid);
  } catch (e) {
    log(`DescribeServices not measured: ${e instanceof Error ? e.message.slice(0, 160) : String(e)}`);
  }
  // ---- end SERVICES_SLOT ------------------------------------------------------------------------

  const rows: Row[] = [
    ...rowsFor(describe, baseline, 'DescribeTasks (10 tasks)'),
    ...rowsFor(list, baseline, 'ListTasks (page of 100)'),
    ...(services
      ? rowsFor(services, baseline, 'DescribeServices (1 service)')
      : [{ metric: 'DescribeServices', value: 'not measured', note: 'needs services (issue 4)' }]),
    {
      metric: 'baseline: ListClusters',
      value: `${num(baseline.max.rps)} req/s max`,
      note: `p99 at ${FIXED_RATE} req/s ${num(baseline.fixed.p99, 1)} ms`,
    },
  ];
  report('api', `api (SigV4-signed, autocannon, ${SECONDS} s per phase)`, rows, {
    seconds: SECONDS,
    baseline,
    describeTasks: describe,
    listTasks: list,
    describeServices: services ?? null,
  });
});
