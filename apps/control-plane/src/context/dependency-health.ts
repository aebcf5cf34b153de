import type { Redis } from 'ioredis';
import type postgres from 'postgres';

/** What this process last saw of one dependency. */
export interface DependencyState {
  up: boolean;
  /** performance.now() of the last change between up and down (the process start at first). */
  since: number;
  /** The last error seen while down. */
  error?: string;
}

export interface DependencyHealthSnapshot {
  database: DependencyState;
  redis: DependencyState;
  /**
   * performance.now() of the latest moment this process could not have heard from agents: its start,
   * or the end of the latest outage of Postgres or Redis it saw. Liveness (scheduling/host-loss.ts)
   * declares no host lost until a full agent timeout plus a heartbeat interval has passed since it.
   */
  blindUntil: number;
}

const PING_TIMEOUT_MS = 2_000;
/**
 * A gap this long between two rounds of pings means this process was not running (a VM suspended, the
 * event loop stalled): it was as blind as during an outage. Measured on the wall clock, since the
 * monotonic clock stops while a machine sleeps; a wall-clock step forward reads as a gap too, which
 * only delays host-loss decisions by a timeout.
 */
const STALL_MS = 5_000;

/**
 * Pings Postgres and Redis every `intervalMs` with a bounded wait, and remembers when each was last
 * up or down. Time here is the process's monotonic clock: only durations on this process are
 * compared (how long since it started, since Postgres came back), never timestamps across machines.
 */
export class DependencyHealth {
  private readonly startedAt = performance.now();
  private database: DependencyState;
  private redis: DependencyState;
  private lastOutageEnd: number;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private lastRoundAt = Date.now();

  constructor(
    private readonly sql: postgres.Sql,
    private readonly redisClient: Redis,
    private readonly intervalMs = 1_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.database = { up: true, since: this.startedAt };
    this.redis = { up: true, since: this.startedAt };
    this.lastOutageEnd = this.startedAt;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
    void this.probe();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round of pings; concurrent callers share it. */
  probe(): Promise<void> {
    const wall = Date.now();
    if (wall - this.lastRoundAt > Math.max(STALL_MS, this.intervalMs * 5)) this.lastOutageEnd = this.now();
    this.lastRoundAt = wall;
    this.probing ??= Promise.all([
      this.check(() => this.sql`select 1`.then(() => undefined), 'database'),
      this.check(() => this.redisClient.ping().then(() => undefined), 'redis'),
    ]).then(
      () => {
        this.probing = undefined;
      },
      () => {
        this.probing = undefined;
      },
    );
    return this.probing;
  }

  /** A failure seen elsewhere (a worker's statement) counts as an outage without waiting for a ping. */
  sawFailure(which: 'database' | 'redis', error: unknown): void {
    this.record(which, false, error);
  }

  snapshot(): DependencyHealthSnapshot {
    return {
      database: { ...this.database },
      redis: { ...this.redis },
      blindUntil: this.database.up && this.redis.up ? this.lastOutageEnd : this.now(),
    };
  }

  private async check(ping: () => Promise<void>, which: 'database' | 'redis'): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
        }),
      ]);
      this.record(which, true);
    } catch (err) {
      this.record(which, false, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private record(which: 'database' | 'redis', up: boolean, error?: unknown): void {
    const state = which === 'database' ? this.database : this.redis;
    const now = this.now();
    if (state.up !== up) {
      state.up = up;
      state.since = now;
      if (up) this.lastOutageEnd = now;
    }
    if (up) delete state.error;
    else state.error = error instanceof Error ? error.message : String(error);
  }
}
