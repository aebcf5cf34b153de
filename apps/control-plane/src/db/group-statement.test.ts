import { describe, expect, it } from 'vitest';
import type { Db } from './client.ts';
import { GroupedStatement, groupedLookup } from './group-statement.ts';

/** A run that records the groups it was given and answers each input doubled, when released. */
function recorder() {
  const groups: number[][] = [];
  const pending: (() => void)[] = [];
  const run = (inputs: number[]) =>
    new Promise<number[]>((resolve) => {
      groups.push(inputs);
      pending.push(() => resolve(inputs.map((n) => n * 2)));
    });
  const release = async () => {
    const next = pending.shift();
    next?.();
    // Let the answers and the next group's start settle.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { groups, run, release };
}

describe('GroupedStatement', () => {
  it('runs a lone call at once, then groups the calls made while it is in flight', async () => {
    const r = recorder();
    const grouped = new GroupedStatement(r.run);
    const first = grouped.call(1);
    await Promise.resolve();
    await Promise.resolve();
    expect(r.groups).toEqual([[1]]);
    const rest = [grouped.call(2), grouped.call(3), grouped.call(4)];
    expect(r.groups).toEqual([[1]]);
    await r.release();
    expect(await first).toBe(2);
    expect(r.groups).toEqual([[1], [2, 3, 4]]);
    await r.release();
    expect(await Promise.all(rest)).toEqual([4, 6, 8]);
  });

  it.each([
    { maxInFlight: 1, maxGroup: 500, calls: 7, groups: [[0], [1, 2, 3, 4, 5, 6]] },
    { maxInFlight: 2, maxGroup: 500, calls: 7, groups: [[0], [1], [2, 3, 4, 5, 6]] },
    { maxInFlight: 1, maxGroup: 3, calls: 7, groups: [[0], [1, 2, 3], [4, 5, 6]] },
  ])(
    'maxInFlight $maxInFlight, maxGroup $maxGroup: groups $groups',
    async ({ maxInFlight, maxGroup, calls, groups }) => {
      const r = recorder();
      const grouped = new GroupedStatement(r.run, { maxInFlight, maxGroup });
      const outs: Promise<number>[] = [];
      for (let i = 0; i < calls; i++) {
        outs.push(grouped.call(i));
        // The first calls start before the next is made; the rest queue behind them.
        await Promise.resolve();
        await Promise.resolve();
      }
      // Release each group in turn until every call is answered.
      let answered = 0;
      for (const out of outs) void out.then(() => answered++);
      for (let round = 0; answered < calls && round < calls; round++) await r.release();
      expect(r.groups).toEqual(groups);
      expect(await Promise.all(outs)).toEqual([...Array(calls).keys()].map((n) => n * 2));
    },
  );

  it('rejects a lone failed call without running it again, and goes on with the next', async () => {
    let fail = true;
    const runs: number[][] = [];
    const grouped = new GroupedStatement(async (inputs: number[]) => {
      runs.push(inputs);
      if (fail) throw new Error('statement failed');
      return inputs;
    });
    await expect(grouped.call(1)).rejects.toThrow('statement failed');
    fail = false;
    expect(await grouped.call(3)).toBe(3);
    expect(runs).toEqual([[1], [3]]);
  });

  it('runs each member of a failed group alone: only the bad one is rejected, with its own error', async () => {
    const runs: number[][] = [];
    const grouped = new GroupedStatement(async (inputs: number[]) => {
      runs.push(inputs);
      const bad = inputs.find((n) => n < 0);
      if (bad !== undefined) throw new Error(`refused ${bad}`);
      return inputs.map((n) => n * 10);
    });
    const first = grouped.call(1);
    // Made while the first is in flight: one group of four, with one bad member.
    const rest = [2, -3, 4, 5].map((n) => grouped.call(n));
    const settled = await Promise.allSettled([first, ...rest]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : String(s.reason)))).toEqual([
      10,
      20,
      'Error: refused -3',
      40,
      50,
    ]);
    expect(runs).toEqual([[1], [2, -3, 4, 5], [2], [-3], [4], [5]]);
    // The statement goes on grouping afterwards.
    expect(await grouped.call(6)).toBe(60);
  });

  it("rejects every member at once when the failure is not one member's (mayBeOneMember false)", async () => {
    const runs: number[][] = [];
    const grouped = new GroupedStatement(
      async (inputs: number[]) => {
        runs.push(inputs);
        throw Object.assign(new Error('database down'), { down: true });
      },
      { mayBeOneMember: (err) => !(err as { down?: boolean }).down },
    );
    const settled = await Promise.allSettled([grouped.call(1), grouped.call(2), grouped.call(3)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(runs).toEqual([[1], [2, 3]]);
  });

  it('keeps the next group waiting while a failed group runs its members alone', async () => {
    const r = recorder();
    let failNext = true;
    const grouped = new GroupedStatement(async (inputs: number[]) => {
      if (inputs.length > 1 && failNext) {
        failNext = false;
        throw new Error('one of them is bad');
      }
      return r.run(inputs);
    });
    const first = grouped.call(1);
    await Promise.resolve();
    const group = [grouped.call(2), grouped.call(3)];
    await r.release();
    expect(await first).toBe(2);
    // The group failed: 2 and 3 run alone, side by side; 4 waits for both to finish.
    const later = grouped.call(4);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(r.groups).toEqual([[1], [2], [3]]);
    await r.release();
    await r.release();
    expect(await Promise.all(group)).toEqual([4, 6]);
    expect(r.groups).toEqual([[1], [2], [3], [4]]);
    await r.release();
    expect(await later).toBe(8);
  });

  it('rejects the group when run answers a different number of calls', async () => {
    const grouped = new GroupedStatement(async (inputs: number[]) => inputs.slice(1));
    await expect(grouped.call(1)).rejects.toThrow('answered 0 of 1 calls');
  });

  it('rejects a group whose run throws before returning a promise', async () => {
    const grouped = new GroupedStatement<number, number>(() => {
      throw new Error('bad input');
    });
    await expect(grouped.call(1)).rejects.toThrow('bad input');
  });

  it("groupedLookup reads the union of a group's keys once and answers each call with the rows of its keys", async () => {
    const reads: string[][] = [];
    const rows = [
      { key: 'a', n: 1 },
      { key: 'b', n: 2 },
      { key: 'a', n: 3 },
      { key: 'c', n: 4 },
    ];
    const lookup = groupedLookup(
      async (_db: Db, keys: string[]) => {
        reads.push([...keys]);
        return rows.filter((r) => keys.includes(r.key));
      },
      (row) => row.key,
    );
    // A handle of its own: groupedLookup keeps one group per database handle.
    const db = {} as Db;
    const answers = await Promise.all([
      lookup(db, ['a']),
      lookup(db, ['c', 'a']),
      lookup(db, ['b', 'x']),
      lookup(db, []),
    ]);
    expect(answers.map((list) => list.map((r) => r.n))).toEqual([[1, 3], [4, 1, 3], [2], []]);
    // The first call alone, the next two together, the empty one not at all.
    expect(reads).toEqual([['a'], ['c', 'a', 'b', 'x']]);
  });
});
