/** What the pulse says about this process's workers at one moment (for /readyz). */
export interface PulseState {
  /** Milliseconds since the workers last showed they work. */
  sinceBeatMs: number;
  /** Milliseconds the longest-running job of this process has run (0 when none runs). */
  longestJobMs: number;
  /** Past this, a silent pulse means the workers are not working. */
  staleMs: number;
}

/**
 * The workers' heartbeat in one control-plane process. It beats when a job of this process's workers
 * ends (done or failed: either way the worker works), and at every tick of a timer while every worker
 * is running and no job has run for longer than `staleMs`. So it falls silent when the workers stopped
 * or a job is stuck (every slot of a queue taken by jobs that never end), and /readyz says so.
 *
 * Per process on purpose: which process takes the sweep's job is BullMQ's choice, so one process
 * may complete no job for a while and still be fine; the tick covers that. Time is the process's
 * monotonic clock.
 */
export class WorkerPulse {
  private lastBeat: number;
  private readonly running = new Map<symbol, number>();

  constructor(
    /** 3 × BOSUN_SERVICE_SWEEP_SECONDS, at least 15 s (workersStaleMs). */
    readonly staleMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastBeat = now();
  }

  /** Runs one job, counted as running until it ends; its end is a beat. */
  async track<T>(job: () => Promise<T>): Promise<T> {
    const key = Symbol();
    this.running.set(key, this.now());
    try {
      return await job();
    } finally {
      this.running.delete(key);
      this.lastBeat = this.now();
    }
  }

  /** The timer's tick: a beat while every worker runs and none of this process's jobs is stuck. */
  tick(workersRunning: boolean): void {
    if (workersRunning && this.longestJobMs() <= this.staleMs) this.lastBeat = this.now();
  }

  state(): PulseState {
    return {
      sinceBeatMs: this.now() - this.lastBeat,
      longestJobMs: this.longestJobMs(),
      staleMs: this.staleMs,
    };
  }

  private longestJobMs(): number {
    const now = this.now();
    let longest = 0;
    for (const started of this.running.values()) longest = Math.max(longest, now - started);
    return longest;
  }
}

/** How long the workers may stay silent before /readyz calls them not working. */
export function workersStaleMs(serviceSweepMs: number): number {
  return Math.max(3 * serviceSweepMs, 15_000);
}
