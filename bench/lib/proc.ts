/** CPU and memory of processes and of the machine, read from /proc. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size in MiB (VmRSS), and the peak (VmHWM). */
export function memory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** Samples a process's CPU use (percent of one core) and RSS every `everyMs`. */
export class ProcessSampler {
  readonly samples: { t: number; cpuPercent: number; rssMb: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { t: number; cpu: number };
  readonly start: { t: number; cpu: number };

  constructor(
    readonly pid: number,
    everyMs = 1000,
  ) {
    this.start = { t: performance.now(), cpu: cpuSeconds(pid) };
    this.last = this.start;
    this.timer = setInterval(() => {
      try {
        const now = { t: performance.now(), cpu: cpuSeconds(pid) };
        const cpuPercent = ((now.cpu - this.last.cpu) / ((now.t - this.last.t) / 1000)) * 100;
        this.samples.push({ t: now.t - this.start.t, cpuPercent, rssMb: memory(pid).rssMb });
        this.last = now;
      } catch {
        // the process is gone
      }
    }, everyMs);
    this.timer.unref();
  }

  /** Average CPU percent (of one core) since the sampler started, and the RSS figures. */
  stop(): { cpuPercent: number; cpuSeconds: number; seconds: number; rssMb: number; peakRssMb: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const now = { t: performance.now(), cpu: cpuSeconds(this.pid) };
    const seconds = (now.t - this.start.t) / 1000;
    const used = now.cpu - this.start.cpu;
    const mem = memory(this.pid);
    const peakRssMb = Math.max(mem.rssMb, ...this.samples.map((s) => s.rssMb));
    return { cpuPercent: (used / seconds) * 100, cpuSeconds: used, seconds, rssMb: mem.rssMb, peakRssMb };
  }
}

/** The busy share (percent) of all CPUs between start() and the returned stop(), from /proc/stat. */
export function machineCpu(): () => { busyPercent: number } {
  const ticks = () => {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1);
    const all = fields.map(Number);
    const total = all.reduce((a, b) => a + b, 0);
    // idle + iowait
    return { busy: total - (all[3] ?? 0) - (all[4] ?? 0), total };
  };
  const before = ticks();
  return () => {
    const after = ticks();
    return { busyPercent: (100 * (after.busy - before.busy)) / Math.max(1, after.total - before.total) };
  };
}

/** Pids whose /proc/<pid>/comm is one of `names` (e.g. postgres, redis-server). */
export function pidsNamed(names: readonly string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * CPU used by every process with one of `names` between start() and the returned stop(): percent of
 * one core. Processes that exit in between are not counted (Postgres backends live as long as their
 * connection, so a run's own connections are).
 */
export function namedCpu(names: readonly string[]): () => { cpuPercent: number; processes: number } {
  const t0 = performance.now();
  const before = new Map<number, number>();
  for (const pid of pidsNamed(names)) {
    try {
      before.set(pid, cpuSeconds(pid));
    } catch {
      // gone
    }
  }
  return () => {
    let used = 0;
    const pids = pidsNamed(names);
    for (const pid of pids) {
      try {
        used += cpuSeconds(pid) - (before.get(pid) ?? 0);
      } catch {
        // gone
      }
    }
    return { cpuPercent: (used / ((performance.now() - t0) / 1000)) * 100, processes: pids.length };
  };
}
