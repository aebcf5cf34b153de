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

export class TaskStore {
  #lastWritten = '';
  #writing: Promise<void> = Promise.resolve();

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
   * changed. Resolves once this state, or a later one, is on disk.
   */
  save(state: TaskStoreState): Promise<void> {
    const text = JSON.stringify(state);
    this.#writing = this.#writing.then(async () => {
      if (text === this.#lastWritten) return;
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const file = join(this.dir, 'tasks.json');
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600, flush: true });
      await rename(tmp, file);
      this.#lastWritten = text;
    });
    return this.#writing;
  }
}
