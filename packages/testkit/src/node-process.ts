import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './repo-root.ts';

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  /** Where its output goes, when it was started with one (else it is kept in memory). */
  logFile: string | undefined;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** The last `lines` lines of output(), for error messages. */
  tail(lines?: number): string;
  /** `signal` (SIGTERM by default; SIGKILL to simulate a crash), then SIGKILL after 15 s; its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `node ARGS` from the repository root with `env` added to this process's, its stdout and stderr
 * collected in memory or, with `logFile`, written there (emptied first).
 */
export function spawnNode(
  args: string[],
  env: Record<string, string>,
  o: { logFile?: string } = {},
): NodeProcess {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let kept = '';
  const logFile = o.logFile;
  if (logFile) {
    // Emptied now, not when the stream gets round to opening it: a waiter reads this file at once, and
    // a previous run's "ready" line must not count.
    writeFileSync(logFile, '');
    const out = createWriteStream(logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  } else {
    const keep = (d: Buffer) => {
      kept += d;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }
  const output = () => {
    if (!logFile) return kept;
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  let stopping = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      // A process that dies on its own mid-test otherwise shows only as refused connections later:
      // say so, with what it printed last, where the test run's output keeps it.
      if (!stopping) {
        process.stderr.write(
          `[testkit] node ${args.join(' ')} (pid ${child.pid}) exited on its own: code ${code}, signal ${signal}\n${output().split('\n').slice(-40).join('\n')}\n`,
        );
      }
      resolve(code);
    }),
  );
  return {
    child,
    pid: child.pid ?? 0,
    logFile,
    output,
    tail: (lines = 30) => output().split('\n').slice(-lines).join('\n'),
    async stop(signal = 'SIGTERM') {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const gone = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
        if (!gone) child.kill('SIGKILL');
      }
      return exited;
    },
  };
}

/** Waits until `ready()` holds, failing with the process's last output if it exits or time runs out. */
export async function waitForProcess(
  proc: NodeProcess,
  what: string,
  ready: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null)
      throw new Error(`${what} exited with ${proc.child.exitCode}:\n${proc.tail()}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready:\n${proc.tail()}`);
    await sleep(100);
  }
}
