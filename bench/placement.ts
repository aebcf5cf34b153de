/**
 * placement: the pure `placeTasks` of @bosun/scheduler, no I/O. 10,000 tasks over 1,000 instances with
 * spread(attribute:bosun.zone) + binpack(memory) and a memberOf constraint, two ways:
 *
 *   batched — as a service or RunTask places them: count 10 per call, the snapshot updated with the
 *             call's placements before the next call (1,000 calls);
 *   one call — count 10,000 in a single call.
 *
 * Reports placements per second on one core (the median of several repetitions after a warm-up) and,
 * as a baseline measured in the same run, the cost of one call that places nothing but still builds
 * and filters the 1,000-instance snapshot, so a reader can tell fixed per-call cost from per-copy cost.
 *
 *   node --import tsx bench/placement.ts [--smoke]
 */
import {
  type CandidateInstance,
  type PlacementRequest,
  parseClusterQuery,
  placeTasks,
} from '@bosun/scheduler';
import { median, num } from './lib/numbers.ts';
import { type Row, report } from './lib/report.ts';
import { log, main, SMOKE } from './lib/run.ts';

const INSTANCES = SMOKE ? 100 : 1000;
const TASKS = SMOKE ? 1000 : 10_000;
const BATCH = 10;
const REPEATS = SMOKE ? 2 : 7;
const TARGET = 20_000;
const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const GROUP = 'family:web';
const EXPRESSION = 'attribute:bosun.cpu-architecture == x86_64 and not(task:group == database)';

interface MutableInstance extends CandidateInstance {
  remainingMemory: number;
  remainingCpu: number;
  taskGroups: Set<string>;
}

function cluster(): MutableInstance[] {
  const out: MutableInstance[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    const id = `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
    out.push({
      instanceId: id,
      arn: `arn:aws:ecs:local:000000000000:container-instance/bench/${id}`,
      status: 'ACTIVE',
      agentConnected: true,
      agentVersion: '0.1.0',
      registeredAt: 1_700_000_000_000 + i,
      runningTasksCount: 0,
      // Every tenth host is arm64 (excluded by the constraint); a few already run a database.
      attributes: {
        'bosun.zone': ZONES[i % ZONES.length] ?? 'zone-a',
        'bosun.cpu-architecture': i % 10 === 9 ? 'arm64' : 'x86_64',
        'bosun.os-type': 'linux',
      },
      taskGroups: new Set(i % 50 === 0 ? ['database'] : []),
      remainingCpu: 16_384,
      // Uneven free memory, so binpack has something to choose.
      remainingMemory: 32_768 - (i % 7) * 1024,
      usedPorts: new Set(['tcp:22']),
    });
  }
  return out;
}

function request(count: number, seed: number, existing: Map<string, number>): PlacementRequest {
  const parsed = parseClusterQuery(EXPRESSION);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return {
    task: { cpu: 64, memory: 128, ports: [], group: GROUP },
    count,
    constraints: [{ type: 'memberOf', expression: parsed.value }],
    strategy: [
      { type: 'spread', field: 'attribute:bosun.zone' },
      { type: 'binpack', field: 'memory' },
    ],
    seed,
    existingGroupTasks: existing,
  };
}

/** 1,000 calls of 10; after each, the snapshot takes the call's placements (as a fresh read would). */
function batched(): { seconds: number; placed: number; perZone: Record<string, number> } {
  const instances = cluster();
  const byId = new Map(instances.map((i) => [i.instanceId, i]));
  const existing = new Map<string, number>();
  let placed = 0;
  const start = performance.now();
  for (let call = 0; placed < TASKS; call++) {
    const result = placeTasks(request(Math.min(BATCH, TASKS - placed), call + 1, existing), instances);
    if (result.placements.length === 0) throw new Error(`call ${call} placed nothing: ${result.explanation}`);
    for (const p of result.placements) {
      const instance = byId.get(p.instanceId);
      if (!instance) throw new Error('unknown instance');
      instance.remainingCpu -= 64;
      instance.remainingMemory -= 128;
      instance.taskGroups.add(GROUP);
      existing.set(p.instanceId, (existing.get(p.instanceId) ?? 0) + 1);
    }
    placed += result.placements.length;
  }
  const seconds = (performance.now() - start) / 1000;
  return { seconds, placed, perZone: zoneCounts(instances, existing) };
}

function oneCall(): { seconds: number; placed: number; perZone: Record<string, number> } {
  const instances = cluster();
  const req = request(TASKS, 1, new Map());
  const start = performance.now();
  const result = placeTasks(req, instances);
  const seconds = (performance.now() - start) / 1000;
  const counts = new Map<string, number>();
  for (const p of result.placements) counts.set(p.instanceId, (counts.get(p.instanceId) ?? 0) + 1);
  return { seconds, placed: result.placements.length, perZone: zoneCounts(instances, counts) };
}

/** Baseline: calls with count 0 still build slots, sort and evaluate memberOf on every instance. */
function emptyCalls(calls: number): number {
  const instances = cluster();
  const existing = new Map<string, number>();
  const start = performance.now();
  for (let i = 0; i < calls; i++) placeTasks(request(0, i + 1, existing), instances);
  return (performance.now() - start) / 1000 / calls;
}

function zoneCounts(instances: readonly CandidateInstance[], counts: Map<string, number>) {
  const perZone: Record<string, number> = {};
  for (const i of instances) {
    const zone = i.attributes['bosun.zone'] ?? '';
    perZone[zone] = (perZone[zone] ?? 0) + (counts.get(i.instanceId) ?? 0);
  }
  return perZone;
}

main(async () => {
  log(`placement: ${TASKS} tasks over ${INSTANCES} instances, ${REPEATS} repetitions after a warm-up`);
  // Warm-up: let the JIT see both shapes.
  batched();
  oneCall();
  const batchRuns: number[] = [];
  const oneRuns: number[] = [];
  const emptyRuns: number[] = [];
  let last: ReturnType<typeof batched> | undefined;
  for (let r = 0; r < REPEATS; r++) {
    last = batched();
    if (last.placed !== TASKS) throw new Error(`batched placed ${last.placed} of ${TASKS}`);
    batchRuns.push(last.seconds);
    const one = oneCall();
    if (one.placed !== TASKS) throw new Error(`one call placed ${one.placed} of ${TASKS}`);
    oneRuns.push(one.seconds);
    emptyRuns.push(emptyCalls(TASKS / BATCH / 10));
  }
  const batchRate = TASKS / median(batchRuns);
  const oneRate = TASKS / median(oneRuns);
  const emptyMs = median(emptyRuns) * 1000;
  const perCallMs = (median(batchRuns) / (TASKS / BATCH)) * 1000;
  const rows: Row[] = [
    {
      metric: `batched: ${TASKS / BATCH} calls × count ${BATCH}`,
      value: `${num(batchRate)} placements/s`,
      target: `≥ ${num(TARGET)}/s`,
      met: batchRate >= TARGET,
      note: `${num(perCallMs, 2)} ms per call`,
    },
    {
      metric: `one call: count ${num(TASKS)}`,
      value: `${num(oneRate)} placements/s`,
      target: `≥ ${num(TARGET)}/s`,
      met: oneRate >= TARGET,
      note: `${num(median(oneRuns) * 1000, 1)} ms for the call`,
    },
    {
      metric: `baseline: one call placing nothing (${INSTANCES} instances)`,
      value: `${num(emptyMs, 3)} ms`,
      note: `fixed cost = ${num((emptyMs / perCallMs) * 100)} % of a batched call`,
    },
    {
      metric: 'ratio one call / batched',
      value: `${num(oneRate / batchRate, 2)}×`,
      note: `spread: ${Object.entries(last?.perZone ?? {})
        .map(([z, n]) => `${z} ${n}`)
        .join(', ')}`,
    },
  ];
  report('placement', `placement (${num(TASKS)} tasks, ${num(INSTANCES)} instances, one core)`, rows, {
    instances: INSTANCES,
    tasks: TASKS,
    batch: BATCH,
    batchedSeconds: batchRuns,
    oneCallSeconds: oneRuns,
    emptyCallSeconds: emptyRuns,
    perZone: last?.perZone,
  });
});
