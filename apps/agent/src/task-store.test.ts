import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskStore, type TaskStoreState } from './task-store.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bosun-task-store-'));
  dirs.push(dir);
  return dir;
}
const state = (version: number): TaskStoreState => ({ version, tasks: [] });

describe('TaskStore', () => {
  it('each save resolves once its state or a newer one is on disk; a burst ends with the newest', async () => {
    const dir = await scratch();
    const store = new TaskStore(dir);
    const read = async () => JSON.parse(await readFile(join(dir, 'tasks.json'), 'utf8')).version;
    const saves = Array.from({ length: 20 }, (_, i) =>
      store.save(state(i + 1)).then(async () => expect(await read()).toBeGreaterThanOrEqual(i + 1)),
    );
    await Promise.all(saves);
    expect(await read()).toBe(20);
    expect(await new TaskStore(dir).load()).toEqual(state(20));
  });

  it('a failed write rejects those waiting for it, and a later save writes again', async () => {
    const dir = await scratch();
    // A file where the state directory should be: mkdir fails.
    const blocked = join(dir, 'state');
    await writeFile(blocked, '');
    const store = new TaskStore(blocked);
    await expect(store.save(state(1))).rejects.toThrow();
    await rm(blocked);
    await store.save(state(2));
    expect(await new TaskStore(blocked).load()).toEqual(state(2));
  });
});
