import type { Db } from './client.ts';
import { databaseFailure } from './failures.ts';

export interface GroupOptions {
  /** Groups running at once (1: the next group waits for the one in flight). */
  maxInFlight?: number;
  /** Calls in one group at most. */
  maxGroup?: number;
  /**
   * Whether a group's failure may be one member's doing, so each member is run again alone (default:
   * always). false for a failure every member would meet alone too (the database is down).
   */
  mayBeOneMember?: (err: unknown) => boolean;
}

/** Members of a failed group run alone this many at a time. */
const ALONE_AT_ONCE = 8;

interface Call<In, Out> {
  input: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for one hot statement: a call made while none of its kind is in flight runs at once,
 * alone; calls made while one is in flight wait for it to end and then go together, as one statement
 * (`run` gets them all and answers each, in order). Under load, the hundreds of agents a placement
 * batch wakes then cost Postgres a handful of statements instead of one each, and the control plane a
 * handful of round trips — each of which, on this class of machine, costs more in system calls and
 * wake-ups than the work it carries. Alone, a call waits for nothing.
 *
 * Written here rather than taken from DataLoader, which batches the calls of one event-loop tick: the
 * agents' requests arrive in separate ticks, and waiting for more would add latency when idle.
 *
 * A group is one statement, so one member Postgres refuses (a value out of range) would fail every
 * caller in it: when a group of several fails, each member runs again alone, and only those that
 * fail alone are rejected, each with its own error.
 */
export class GroupedStatement<In, Out> {
  private readonly queue: Call<In, Out>[] = [];
  private inFlight = 0;

  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly options: GroupOptions = {},
  ) {}

  call(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.queue.length === 0 || this.inFlight >= (this.options.maxInFlight ?? 1)) return;
    const group = this.queue.splice(0, this.options.maxGroup ?? 500);
    this.inFlight += 1;
    // Through a promise, so a `run` that throws at once rejects its group like one that fails later.
    void Promise.resolve(group.map((c) => c.input))
      .then(this.run)
      .then((outs) => {
        if (outs.length !== group.length) {
          throw new Error(`grouped statement answered ${outs.length} of ${group.length} calls`);
        }
        for (const [i, c] of group.entries()) c.resolve(outs[i] as Out);
      })
      .catch(async (err: unknown) => {
        if (group.length === 1 || !(this.options.mayBeOneMember?.(err) ?? true)) {
          for (const c of group) c.reject(err);
          return;
        }
        await this.runAlone(group);
      })
      .finally(() => {
        this.inFlight -= 1;
        this.next();
      });
  }

  /** Each member of a failed group on its own, a few at a time; still counted as the group in flight. */
  private async runAlone(group: Call<In, Out>[]): Promise<void> {
    let next = 0;
    const lane = async () => {
      for (let c = group[next++]; c !== undefined; c = group[next++]) {
        try {
          const outs = await this.run([c.input]);
          if (outs.length !== 1) throw new Error(`grouped statement answered ${outs.length} of 1 calls`);
          c.resolve(outs[0] as Out);
        } catch (err) {
          c.reject(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ALONE_AT_ONCE, group.length) }, lane));
  }
}

/**
 * A grouped statement per database handle, made on first use (as preparedPer does for prepared
 * ones). The database itself only: statements of a transaction must not join other callers' group.
 * A failed group's members run alone unless the database itself failed (down, a timeout): alone,
 * each would only wait for the same failure again.
 */
export function groupedPer<In, Out>(
  run: (db: Db, inputs: In[]) => Promise<Out[]>,
  options?: GroupOptions,
): (db: Db) => GroupedStatement<In, Out> {
  const made = new WeakMap<Db, GroupedStatement<In, Out>>();
  return (db) => {
    let grouped = made.get(db);
    if (grouped === undefined) {
      grouped = new GroupedStatement((inputs) => run(db, inputs), {
        mayBeOneMember: (err) => databaseFailure(err) === undefined,
        ...options,
      });
      made.set(db, grouped);
    }
    return grouped;
  };
}

/**
 * A grouped read of rows by key: each call names some keys and gets the rows of those keys, in the
 * order of its keys (and, within a key, in the order `read` gave them); the group reads the union of
 * its calls' keys once. `read` must not depend on which call asked.
 */
export function groupedLookup<K, Row>(
  read: (db: Db, keys: K[]) => Promise<Row[]>,
  keyOf: (row: Row) => K,
): (db: Db, keys: readonly K[]) => Promise<Row[]> {
  const grouped = groupedPer<readonly K[], Row[]>(async (db, lists) => {
    const rows = await read(db, [...new Set(lists.flat())]);
    const byKey = new Map<K, Row[]>();
    for (const row of rows) {
      const key = keyOf(row);
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [row]);
      else list.push(row);
    }
    return lists.map((keys) => keys.flatMap((key) => byKey.get(key) ?? []));
  });
  return (db, keys) => (keys.length === 0 ? Promise.resolve([]) : grouped(db).call(keys));
}
