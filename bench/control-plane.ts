/**
 * control-plane: 500 hollow hosts (bench/hollow.ts: register with a join token, heartbeat, long-poll,
 * report RUNNING) against real control-plane processes (apps/control-plane/src/server.ts) over
 * Postgres and BullMQ; 10,000 tasks through RunTask (count 10) from many concurrent callers.
 *
 * Measures committed placements per second (RunTask answered = tasks committed in Postgres, counted
 * there at the end), time until every task was reported RUNNING, control-plane CPU and RSS from /proc,
 * and the agent-protocol load (heartbeats, long-polls, reports per second).
 *
 * Baselines from the same run: the control plane's CPU with the 500 hosts only heartbeating, and
 * RunTask from one caller at a time (so the concurrent rate is also shown as a ratio to serial).
 *
 *   node --import tsx bench/control-plane.ts [--smoke] [--processes N]   (N control-plane processes, default 1)
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { masterKeyOf, SignedEcsClient } from '@bosun/testkit';
import postgres from 'postgres';
import { HollowFleet } from './hollow.ts';
import { median, num, quantile } from './lib/numbers.ts';
import { machineCpu, namedCpu, ProcessSampler } from './lib/proc.ts';
import { type ControlPlane, startControlPlane } from './lib/processes.ts';
import { type Row, report } from './lib/report.ts';
import { log, main, SMOKE } from './lib/run.ts';
import { queuePrefix, scratchDatabase } from './lib/services.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const PROCESSES = Number(arg('--processes') ?? process.env.BOSUN_BENCH_CP_PROCESSES ?? 1);
const HOSTS = SMOKE ? 20 : 500;
const TASKS = SMOKE ? 200 : 10_000;
const COUNT = 10;
const CALLERS = SMOKE ? 4 : Number(arg('--callers') ?? process.env.BOSUN_BENCH_CP_CALLERS ?? 32);
const SERIAL_CALLS = SMOKE ? 3 : 20;
const IDLE_S = SMOKE ? 3 : 10;
const HEARTBEAT_S = 2;
const TARGET = 1000;
const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const STRATEGY = [
  { type: 'spread', field: 'attribute:bosun.zone' },
  { type: 'spread', field: 'instanceId' },
];

interface CallStats {
  placed: number;
  latenciesMs: number[];
  failures: number;
  seconds: number;
}

async function runTasks(ecs: SignedEcsClient[], calls: number, callers: number): Promise<CallStats> {
  let next = 0;
  const stats: CallStats = { placed: 0, latenciesMs: [], failures: 0, seconds: 0 };
  const start = performance.now();
  const caller = async (c: number) => {
    const client = ecs[c % ecs.length] as SignedEcsClient;
    for (;;) {
      if (next >= calls) return;
      next += 1;
      const t0 = performance.now();
      const out = await client.call<{ tasks: unknown[]; failures: unknown[] }>('RunTask', {
        taskDefinition: 'hollow',
        count: COUNT,
        placementStrategy: STRATEGY,
      });
      stats.latenciesMs.push(performance.now() - t0);
      stats.placed += out.tasks.length;
      stats.failures += out.failures.length;
    }
  };
  await Promise.all(Array.from({ length: callers }, (_, c) => caller(c)));
  stats.seconds = (performance.now() - start) / 1000;
  return stats;
}

main(async () => {
  log(`control-plane: ${PROCESSES} process(es), ${HOSTS} hollow hosts, ${TASKS} tasks, ${CALLERS} callers`);
  const databaseUrl = await scratchDatabase();
  const prefix = queuePrefix();
  const env = {
    // Plain HTTP on loopback: the hollow fleet's shared connection pools cannot present one client
    // certificate per host (hollow.ts), and each process would make a CA of its own.
    BOSUN_TLS: 'off',
    BOSUN_HEARTBEAT_INTERVAL_SECONDS: String(HEARTBEAT_S),
    BOSUN_PLACEMENT_TIMEOUT_SECONDS: '60',
  };
  const cps: ControlPlane[] = [await startControlPlane('cp-1', { databaseUrl, queuePrefix: prefix, env })];
  for (let i = 2; i <= PROCESSES; i++) {
    cps.push(
      await startControlPlane(`cp-${i}`, {
        databaseUrl,
        queuePrefix: prefix,
        masterKey: masterKeyOf(cps[0] as ControlPlane),
        env,
      }),
    );
  }
  const key = (cps[0] as ControlPlane).key;
  const ecs = cps.map((cp) => new SignedEcsClient(cp.endpoint, key));
  const admin = ecs[0] as SignedEcsClient;
  await admin.call('RegisterTaskDefinition', {
    family: 'hollow',
    containerDefinitions: [
      { name: 'main', image: 'bosun/busybox:latest', memory: 16, command: ['sleep', '3600'] },
    ],
  });

  const fleet = new HollowFleet(
    cps.map((cp) => cp.endpoint),
    {
      heartbeatMs: HEARTBEAT_S * 1000,
      longPollSeconds: 20,
      connectionsPerEndpoint: Math.ceil((HOSTS * 1.5) / cps.length) + 16,
    },
  );
  const stopFleet = async () => fleet.stop();
  const regStart = performance.now();
  await fleet.register(
    HOSTS,
    async () => (await admin.call<{ joinToken: string }>('BosunV1.CreateJoinToken', {})).joinToken,
    (i) => ({
      cpu: 8192,
      memory: 16_384,
      attributes: [{ name: 'bosun.zone', value: ZONES[i % ZONES.length] ?? 'zone-a' }],
    }),
  );
  const registerSeconds = (performance.now() - regStart) / 1000;
  fleet.start();
  try {
    log(`${HOSTS} hosts registered in ${num(registerSeconds, 1)} s; idle ${IDLE_S} s (heartbeats only)`);
    await sleep(2000);
    const idleSamplers = cps.map((cp) => new ProcessSampler(cp.pid));
    const hb0 = fleet.counters.heartbeats;
    const idleT0 = performance.now();
    await sleep(IDLE_S * 1000);
    const idleHeartbeatRate = (fleet.counters.heartbeats - hb0) / ((performance.now() - idleT0) / 1000);
    const idle = idleSamplers.map((s) => s.stop());

    log(`serial baseline: ${SERIAL_CALLS} RunTask calls, one at a time`);
    const serial = await runTasks(ecs, SERIAL_CALLS, 1);

    const calls = Math.ceil((TASKS - serial.placed) / COUNT);
    log(`main run: ${calls} RunTask calls of ${COUNT} from ${CALLERS} callers`);
    const samplers = cps.map((cp) => new ProcessSampler(cp.pid, 500));
    const stopPg = namedCpu(['postgres']);
    // What the load generator (this process: the hollow fleet and the callers) and the whole machine
    // spent meanwhile: on two cores they share with what they measure, saturation must be visible.
    const selfCpu0 = process.cpuUsage();
    const stopMachine = machineCpu();
    const stopRedis = namedCpu(['redis-server']);
    const before = { ...fleet.counters };
    const t0Wall = new Date();
    const t0 = performance.now();
    const run = await runTasks(ecs, calls, CALLERS);
    const answeredAt = performance.now();
    const total = serial.placed + run.placed;
    const deadline = Date.now() + 120_000;
    while (fleet.runningAt.size < total && Date.now() < deadline) await sleep(50);
    const allRunningSeconds = (performance.now() - t0) / 1000;
    const load = samplers.map((s) => s.stop());
    const pg = stopPg();
    const selfCpu = process.cpuUsage(selfCpu0);
    const machine = stopMachine();
    const redis = stopRedis();
    const window = (performance.now() - t0) / 1000;
    const during = {
      heartbeats: (fleet.counters.heartbeats - before.heartbeats) / window,
      polls: (fleet.counters.polls - before.polls) / window,
      reports: (fleet.counters.reports - before.reports) / window,
    };

    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const [row] = await sql<{ n: number; running: number }[]>`
      select count(*)::int as n, count(*) filter (where last_status = 'RUNNING')::int as running from tasks`;
    // The placement worker's batches, read back from what it wrote: every task of a batch has the
    // batch's start as its created_at, and its RunTask request says when the call came in.
    const batchRows = await sql<{ at: Date; tasks: number; calls: number }[]>`
      select created_at as at, count(*)::int as tasks, count(distinct placement_request_id)::int as calls
        from tasks where created_at >= ${t0Wall} group by created_at order by created_at`;
    const waits = (
      await sql<{ waitedMs: number }[]>`
      select (extract(epoch from min(t.created_at) - r.created_at) * 1000)::float8 as "waitedMs"
        from tasks t join placement_requests r on r.id = t.placement_request_id
       where t.created_at >= ${t0Wall} group by r.id`
    ).map((w) => w.waitedMs);
    await sql.end();
    const committed = row?.n ?? 0;
    const gaps = batchRows.slice(1).map((b, i) => b.at.getTime() - (batchRows[i]?.at.getTime() ?? 0));

    const rate = run.placed / run.seconds;
    const serialRate = serial.placed / serial.seconds;
    const cpuTotal = load.reduce((a, l) => a + l.cpuPercent, 0);
    const rows: Row[] = [
      {
        metric: `committed placements/s (${CALLERS} callers, RunTask count ${COUNT})`,
        value: `${num(rate)} /s`,
        target: `≥ ${num(TARGET)}/s`,
        met: rate >= TARGET,
        note: `${num(run.placed)} tasks in ${num(run.seconds, 1)} s; ${num(rate / serialRate, 2)}× the serial baseline`,
      },
      {
        metric: 'baseline: one caller at a time',
        value: `${num(serialRate)} /s`,
        note: `RunTask p50 ${num(median(serial.latenciesMs), 1)} ms`,
      },
      {
        metric: 'RunTask latency under load p50 / p99',
        value: `${num(median(run.latenciesMs))} / ${num(quantile(run.latenciesMs, 0.99))} ms`,
      },
      {
        metric: 'placement batches during the run',
        value: `${num(batchRows.length)} of ${num(run.placed / Math.max(1, batchRows.length))} tasks`,
        note: `${num(median(batchRows.map((b) => b.calls)))} RunTask calls each (median), one batch every ${num(median(gaps))} ms (median); a call waited ${num(median(waits))} ms (median) for its batch to begin`,
      },
      {
        metric: 'all tasks reported RUNNING (from first call)',
        value: `${num(allRunningSeconds, 1)} s`,
        note: `${num(fleet.runningAt.size)} / ${num(total)} RUNNING; answers done at ${num((answeredAt - t0) / 1000, 1)} s; Postgres: ${num(committed)} tasks, ${num(row?.running ?? 0)} RUNNING`,
      },
      {
        metric: `control-plane CPU during the run (${PROCESSES} process${PROCESSES > 1 ? 'es' : ''})`,
        value: `${num(cpuTotal)} %`,
        note: `of one core, summed; idle with heartbeats only: ${num(
          idle.reduce((a, l) => a + l.cpuPercent, 0),
          1,
        )} % (${num(
          cpuTotal /
            Math.max(
              0.1,
              idle.reduce((a, l) => a + l.cpuPercent, 0),
            ),
          1,
        )}×)`,
      },
      {
        metric: 'load generator / whole machine CPU during the run',
        value: `${num(((selfCpu.user + selfCpu.system) / 1e6 / window) * 100)} % / ${num(machine.busyPercent)} %`,
        note: `the hollow fleet and the callers (this process), of one core; the machine: busy share of all ${cpus().length} cores`,
      },
      {
        metric: 'Postgres / Redis CPU during the run',
        value: `${num(pg.cpuPercent)} % / ${num(redis.cpuPercent)} %`,
        note: `of one core (all postgres processes, ${pg.processes} now; the machine has ${cpus().length} cores)`,
      },
      {
        metric: 'control-plane RSS at the end / peak',
        value: `${load.map((l) => num(l.rssMb)).join(' + ')} / ${load.map((l) => num(l.peakRssMb)).join(' + ')} MB`,
        note: `idle: ${idle.map((l) => num(l.rssMb)).join(' + ')} MB`,
      },
      {
        metric: `agent-protocol load (${HOSTS} hosts, heartbeat every ${HEARTBEAT_S} s)`,
        value: `${num(idleHeartbeatRate)} heartbeats/s idle`,
        // A host that reported within the interval sends no heartbeat (the agent does the same).
        note: `during the run: ${num(during.heartbeats)} heartbeats/s, ${num(during.polls)} long-poll answers/s, ${num(during.reports)} reports/s`,
      },
      {
        metric: 'errors',
        value: `${fleet.counters.errors} agent-protocol, ${run.failures + serial.failures} placement failures`,
        note: fleet.counters.lastError ?? '',
      },
    ];
    if (committed !== total) throw new Error(`Postgres has ${committed} tasks, RunTask answered ${total}`);
    report(
      `control-plane${PROCESSES > 1 ? `-${PROCESSES}` : ''}`,
      `control-plane (${HOSTS} hollow hosts, ${num(TASKS)} tasks, ${PROCESSES} process${PROCESSES > 1 ? 'es' : ''})`,
      rows,
      {
        processes: PROCESSES,
        hosts: HOSTS,
        tasks: TASKS,
        callers: CALLERS,
        registerSeconds,
        run: {
          ...run,
          latenciesMs: undefined,
          p50: median(run.latenciesMs),
          p99: quantile(run.latenciesMs, 0.99),
        },
        serial: { ...serial, latenciesMs: undefined, p50: median(serial.latenciesMs) },
        allRunningSeconds,
        idle,
        load: load.map((l, i) => ({ ...l, samples: samplers[i]?.samples })),
        idleHeartbeatRate,
        during,
        counters: fleet.counters,
        committed,
        batches: batchRows.map((b) => ({ ...b, at: b.at.toISOString() })),
        postgresCpuPercent: pg.cpuPercent,
        redisCpuPercent: redis.cpuPercent,
      },
    );
  } finally {
    await stopFleet();
  }
});
