/**
 * A benchmark's run: its size (full or --smoke), its log lines, and clean-up that runs whatever
 * happens (success, failure, Ctrl-C, SIGTERM).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** `--smoke` or BOSUN_BENCH_SMOKE=1: tiny sizes, to check that a benchmark works, not to measure. */
export const SMOKE = process.argv.includes('--smoke') || process.env.BOSUN_BENCH_SMOKE === '1';

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const cleanups: { name: string; fn: () => Promise<unknown> | unknown }[] = [];

/** Registers a clean-up step; they run in reverse order. Returns a function that runs it early. */
export function onCleanup(name: string, fn: () => Promise<unknown> | unknown): () => Promise<void> {
  const entry = { name, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await entry.fn();
  };
}

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const entry = cleanups.pop();
    if (!entry) break;
    try {
      await Promise.race([entry.fn(), sleep(60_000)]);
    } catch (e) {
      log(`clean-up "${entry.name}" failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Runs a benchmark: clean-up on success, failure, SIGINT and SIGTERM; exit status 0 only on success. */
export function main(fn: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: cleaning up`);
    void runCleanups().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  fn()
    .then(
      () => 0,
      (e: unknown) => {
        log(`FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        return 1;
      },
    )
    .then(async (code) => {
      await runCleanups();
      process.exit(code);
    });
}
