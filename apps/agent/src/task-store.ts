import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredTask } from '@bosun/model';
import type { TaskRecord } from './reconcile/step.ts';

/**
 * What the agent keeps about its tasks across restarts (kill -9 included): the last desired task
 * seen for each, so tasks keep running and restart policies apply while the control plane is away;
 * and its own records, which hold the name-before-create intents that make adoption safe.
 */
export interface TaskStoreState {
  /** The control plane's desired-state version the tasks below came with. */
  version: number;
  tasks: { desired: DesiredTask; record: TaskRecord }[];
}

interface SaveWaiter {
  generation: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class TaskStore {
  #lastWritten = '';
  /** The newest state asked for and its generation; `#written` is the newest generation on disk. */
  #latest = '';
  #requested = 0;
  #written = 0;
  #writer: Promise<void> | undefined;
  #waiters: SaveWaiter[] = [];

  constructor(private readonly dir: string) {}

  async load(): Promise<TaskStoreState> {
    try {
      const text = await readFile(join(this.dir, 'tasks.json'), 'utf8');
      this.#lastWritten = text;
      return JSON.parse(text) as TaskStoreState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 0, tasks: [] };
      throw e;
    }
  }

  /**
   * Writes atomically (temp file, flush, rename), one write at a time, and only when something
   * changed. Resolves once this state, or a later one, is on disk: saves asked for while a write is
   * under way are folded into one write of the newest state, so twenty tasks starting at once cost a
   * few writes and fsyncs, not sixty in a row.
   */
  save(state: TaskStoreState): Promise<void> {
    this.#latest = JSON.stringify(state);
    const generation = ++this.#requested;
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ generation, resolve, reject }));
    this.#writer ??= this.#writeUntilCurrent().finally(() => {
      this.#writer = undefined;
    });
    return done;
  }

  async #writeUntilCurrent(): Promise<void> {
    while (this.#written < this.#requested) {
      const generation = this.#requested;
      const text = this.#latest;
      try {
        if (text !== this.#lastWritten) {
          await mkdir(this.dir, { recursive: true, mode: 0o700 });
          const file = join(this.dir, 'tasks.json');
          const tmp = `${file}.${process.pid}.tmp`;
          await writeFile(tmp, text, { mode: 0o600, flush: true });
          await rename(tmp, file);
          this.#lastWritten = text;
        }
        this.#written = generation;
        this.#settle(generation, (w) => w.resolve());
      } catch (e) {
        // Those waiting for this state learn it failed; a later save tries again.
        this.#written = generation;
        this.#settle(generation, (w) => w.reject(e));
      }
    }
  }

  #settle(upTo: number, how: (w: SaveWaiter) => void): void {
    const ready = this.#waiters.filter((w) => w.generation <= upTo);
    this.#waiters = this.#waiters.filter((w) => w.generation > upTo);
    for (const w of ready) how(w);
  }
}
