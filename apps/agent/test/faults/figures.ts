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
  note?: string;
}

export function recordFigures(figures: FaultFigures): void {
  const file = process.env.BOSUN_FAULT_FIGURES ?? join(REPO_ROOT, '.bosun', 'fault-figures.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(figures)}\n`);
  console.log(`[fault] ${JSON.stringify(figures)}`);
}

export const seconds = (ms: number) => Math.round(ms / 10) / 100;

/** Tasks wanted RUNNING that have no running container: what a fault lost. Pure. */
export const countLost = (wantedTaskIds: readonly string[], runningTaskIds: ReadonlySet<string>): number =>
  wantedTaskIds.filter((id) => !runningTaskIds.has(id)).length;

/**
 * `lost`, computed from the two records that can disagree: the tasks Postgres wants RUNNING (ListTasks
 * with desiredStatus RUNNING reads them there) and the containers Docker shows running on the given
 * daemons (the local one when none is given), by their bosun.task-id label.
 */
export async function lostTasks(
  aws: (...args: string[]) => Promise<Record<string, unknown>>,
  listArgs: readonly string[],
  dockerHosts: readonly (string | undefined)[] = [undefined],
): Promise<number> {
  const listed = (await aws('list-tasks', ...listArgs, '--desired-status', 'RUNNING')) as {
    taskArns: string[];
  };
  const wanted = listed.taskArns.map((arn) => arn.slice(arn.lastIndexOf('/') + 1));
  const running = new Set<string>();
  for (const host of dockerHosts) {
    const env = host === undefined ? process.env : { ...process.env, DOCKER_HOST: host };
    const { stdout } = await run(
      'docker',
      [
        'ps',
        '--filter',
        'label=bosun.task-id',
        '--filter',
        'status=running',
        '--format',
        '{{.Label "bosun.task-id"}}',
      ],
      { env },
    );
    for (const id of stdout.split('\n')) if (id.trim() !== '') running.add(id.trim());
  }
  return countLost(wanted, running);
}
