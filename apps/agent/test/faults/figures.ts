import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@bosun/testkit';

const run = promisify(execFile);

/**
 * Each fault scenario prints its figures and appends them, one JSON line each, to the file
 * scripts/test turns into the closing table (BOSUN_FAULT_FIGURES, else .bosun/fault-figures.jsonl).
 */
export interface FaultFigures {
  scenario: string;
  detectionSeconds?: number;
  recoverySeconds?: number;
  duplicates?: number;
  lost?: number;
  restarts?: number;
  /** The scenarios that assert nothing was touched (untouched.ts): how long the fault held, */
  outageSeconds?: number;
  /** how many tasks were replaced, */
  replaced?: number;
  /** and whether the same containers run. */
  sameContainers?: boolean;
  note?: string;
}

export function recordFigures(figures: FaultFigures): void {
  const file = process.env.BOSUN_FAULT_FIGURES ?? join(REPO_ROOT, '.bosun', 'fault-figures.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(figures)}\n`);
  console.log(`[fault] ${JSON.stringify(figures)}`);
}

export const seconds = (ms: number) => Math.round(ms / 10) / 100;

/** A running container of a task, as Docker records it (its bosun.* labels). */
export interface RunningContainer {
  id: string;
  taskId: string;
  containerName: string;
  instanceId: string;
}

/**
 * Every running container of a bosun task on the given daemons (the local one when none is given),
 * from Docker itself: full id and labels. An awsvpc namespace holder (bosun.role=network) is no
 * task container and is left out.
 */
export async function runningContainers(
  dockerHosts: readonly (string | undefined)[] = [undefined],
): Promise<RunningContainer[]> {
  const found: RunningContainer[] = [];
  for (const host of dockerHosts) {
    const env = host === undefined ? process.env : { ...process.env, DOCKER_HOST: host };
    const { stdout } = await run(
      'docker',
      [
        'ps',
        '--no-trunc',
        '--filter',
        'label=bosun.task-id',
        '--filter',
        'status=running',
        '--format',
        '{{.ID}}\t{{.Label "bosun.task-id"}}\t{{.Label "bosun.container-name"}}\t{{.Label "bosun.instance-id"}}\t{{.Label "bosun.role"}}',
      ],
      { env },
    );
    for (const line of stdout.split('\n')) {
      const [id, taskId, containerName, instanceId, role] = line.trim().split('\t');
      if (!id || !taskId || role === 'network') continue;
      found.push({ id, taskId, containerName: containerName ?? '', instanceId: instanceId ?? '' });
    }
  }
  return found;
}

/** Tasks wanted RUNNING that have no running container: what a fault lost. Pure. */
export const countLost = (wantedTaskIds: readonly string[], runningTaskIds: ReadonlySet<string>): number =>
  wantedTaskIds.filter((id) => !runningTaskIds.has(id)).length;

/**
 * Running containers beyond one per container of a task wanted RUNNING: a second copy of a task's
 * container, or a container of a task Postgres no longer wants (a replaced task still running beside
 * its replacement). `running` are the running containers of the scenario's tasks, whatever their
 * desired status. Pure.
 */
export function countDuplicates(
  wantedTaskIds: readonly string[],
  running: readonly Pick<RunningContainer, 'taskId' | 'containerName'>[],
): number {
  const wanted = new Set(wantedTaskIds);
  const seen = new Set<string>();
  let duplicates = 0;
  for (const c of running) {
    const key = `${c.taskId}/${c.containerName}`;
    if (!wanted.has(c.taskId) || seen.has(key)) duplicates++;
    else seen.add(key);
  }
  return duplicates;
}

const taskIdOf = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/**
 * `lost` and `duplicates`, computed from the two records that can disagree: the tasks Postgres has
 * (ListTasks reads them there: those wanted RUNNING, and those wanted STOPPED, which may still run)
 * and the containers Docker shows running on the given daemons, by their bosun.task-id label.
 */
export async function measureTasks(
  aws: (...args: string[]) => Promise<Record<string, unknown>>,
  listArgs: readonly string[],
  dockerHosts: readonly (string | undefined)[] = [undefined],
): Promise<{ lost: number; duplicates: number }> {
  const list = async (status: string) =>
    (
      (await aws('list-tasks', ...listArgs, '--desired-status', status)) as { taskArns: string[] }
    ).taskArns.map(taskIdOf);
  const wanted = await list('RUNNING');
  const scope = new Set([...wanted, ...(await list('STOPPED'))]);
  const running = (await runningContainers(dockerHosts)).filter((c) => scope.has(c.taskId));
  return {
    lost: countLost(wanted, new Set(running.map((c) => c.taskId))),
    duplicates: countDuplicates(wanted, running),
  };
}
