import { describe, expect, it } from 'vitest';
import { countDuplicates, countLost } from './figures.ts';
import { compareRecords, type ServiceRecord } from './untouched.ts';

const task = (id: string, desiredStatus = 'RUNNING', lastStatus = 'RUNNING') => ({
  id,
  desiredStatus,
  lastStatus,
});
const container = (id: string, taskId: string, containerName = 'main') => ({
  id,
  taskId,
  containerName,
  instanceId: 'i',
});
const steady: ServiceRecord = {
  tasks: [task('a'), task('b'), task('c')],
  containers: [container('1', 'a'), container('2', 'b'), container('3', 'c')],
};

describe('countLost and countDuplicates', () => {
  it.each([
    {
      case: 'each wanted task has its container',
      wanted: ['a', 'b'],
      running: ['a', 'b'],
      lost: 0,
      duplicates: 0,
    },
    { case: 'a wanted task without a container', wanted: ['a', 'b'], running: ['a'], lost: 1, duplicates: 0 },
    { case: 'a second container of one task', wanted: ['a'], running: ['a', 'a'], lost: 0, duplicates: 1 },
    {
      case: 'a replaced task still running beside its replacement',
      wanted: ['b'],
      running: ['a', 'b'],
      lost: 0,
      duplicates: 1,
    },
    { case: 'nothing wanted, nothing running', wanted: [], running: [], lost: 0, duplicates: 0 },
  ])('$case', ({ wanted, running, lost, duplicates }) => {
    expect(countLost(wanted, new Set(running))).toBe(lost);
    expect(
      countDuplicates(
        wanted,
        running.map((taskId) => ({ taskId, containerName: 'main' })),
      ),
    ).toBe(duplicates);
  });

  it('counts the containers of a task by name: two containers of one task are no duplicate', () => {
    expect(
      countDuplicates(
        ['a'],
        [
          { taskId: 'a', containerName: 'app' },
          { taskId: 'a', containerName: 'sidecar' },
        ],
      ),
    ).toBe(0);
  });
});

describe('compareRecords', () => {
  it.each<{ case: string; after: ServiceRecord; want: ReturnType<typeof compareRecords> }>([
    {
      case: 'untouched',
      after: steady,
      want: { replaced: 0, stopped: 0, sameContainers: true, lost: 0, duplicates: 0 },
    },
    {
      case: 'every task replaced, the old containers stopped (fenced)',
      after: {
        tasks: [
          task('a', 'STOPPED'),
          task('b', 'STOPPED'),
          task('c', 'STOPPED'),
          task('d'),
          task('e'),
          task('f'),
        ],
        containers: [container('4', 'd'), container('5', 'e'), container('6', 'f')],
      },
      want: { replaced: 3, stopped: 3, sameContainers: false, lost: 0, duplicates: 0 },
    },
    {
      case: 'tasks stopped while their host is cut off: replacements not placed yet, old containers still up',
      after: {
        tasks: [task('a', 'STOPPED'), task('b', 'STOPPED'), task('c', 'STOPPED')],
        containers: steady.containers,
      },
      want: { replaced: 0, stopped: 3, sameContainers: true, lost: 0, duplicates: 3 },
    },
    {
      case: 'a container restarted under the same task',
      after: {
        tasks: steady.tasks,
        containers: [container('1', 'a'), container('2', 'b'), container('9', 'c')],
      },
      want: { replaced: 0, stopped: 0, sameContainers: false, lost: 0, duplicates: 0 },
    },
    {
      case: 'a container gone',
      after: { tasks: steady.tasks, containers: [container('1', 'a'), container('2', 'b')] },
      want: { replaced: 0, stopped: 0, sameContainers: false, lost: 1, duplicates: 0 },
    },
  ])('$case', ({ after, want }) => {
    expect(compareRecords(steady, after)).toEqual(want);
  });

  it('an empty record before is never "the same containers"', () => {
    expect(compareRecords({ tasks: [], containers: [] }, { tasks: [], containers: [] }).sameContainers).toBe(
      false,
    );
  });
});
