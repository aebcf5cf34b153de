/**
 * What every benchmark shares: sizes (full or --smoke), markdown tables with targets, results on disk,
 * clean-up that runs on failure and on Ctrl-C, /proc readings, scratch databases, control-plane and
 * agent processes, SigV4-signed ECS calls, and a hand-rolled SVG line chart.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '@bosun/testkit';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { AGENT_ENV, AGENT_NODE_FLAGS, buildAgent } from '../apps/agent/build.ts';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const RESULTS_DIR = join(REPO_ROOT, 'bench/results');

/** `--smoke` or BOSUN_BENCH_SMOKE=1: tiny sizes, to check that a benchmark works, not to measure. */
export const SMOKE = process.argv.includes('--smoke') || process.env.BOSUN_BENCH_SMOKE === '1';

export const REGION = 'local';

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Numbers and tables

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

/** 12345.6 → "12,346"; small numbers keep `digits` decimals. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export interface Row {
  metric: string;
  value: string;
  target?: string;
  /** undefined: no target (informational). */
  met?: boolean;
  note?: string;
}

export function verdict(met: boolean | undefined): string {
  if (met === undefined) return '';
  return met ? 'met' : '**missed**';
}

export function markdownTable(rows: readonly Row[], title?: string): string {
  const lines: string[] = [];
  if (title) lines.push(`### ${title}`, '');
  lines.push('| metric | measured | target | | note |', '|---|---:|---|---|---|');
  for (const r of rows) {
    lines.push(`| ${r.metric} | ${r.value} | ${r.target ?? ''} | ${verdict(r.met)} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}

export interface BenchResult {
  name: string;
  smoke: boolean;
  startedAt: string;
  machine: { cpus: number; node: string; platform: string };
  rows: Row[];
  /** Raw measurements, benchmark-specific. */
  data: unknown;
  /** `skipped`: the benchmark needs something that does not exist yet (e.g. services). */
  status: 'ok' | 'skipped';
}

/** Prints the benchmark's table on stdout and writes bench/results/<name>.json (+ charts). */
/**
 * Creates bench/results/ (gitignored) with a nested biome.json that excludes it, so generated JSON,
 * SVG and markdown never fail `biome check .`.
 */
export function resultsDir(): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const config = join(RESULTS_DIR, 'biome.json');
  if (!existsSync(config)) writeFileSync(config, '{ "root": false, "files": { "includes": ["!**"] } }\n');
  return RESULTS_DIR;
}

export function report(
  name: string,
  title: string,
  rows: Row[],
  data: unknown,
  charts: Record<string, string> = {},
  status: BenchResult['status'] = 'ok',
): void {
  resultsDir();
  const result: BenchResult = {
    name,
    smoke: SMOKE,
    startedAt: new Date().toISOString(),
    machine: {
      cpus: navigatorCpus(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    rows,
    data,
    status,
  };
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  for (const [file, svg] of Object.entries(charts)) writeFileSync(join(RESULTS_DIR, file), svg);
  process.stdout.write(`\n${markdownTable(rows, `${title}${SMOKE ? ' (smoke sizes)' : ''}`)}\n\n`);
  const files = [`${name}.json`, ...Object.keys(charts)].map((f) => `bench/results/${f}`);
  log(`wrote ${files.join(', ')}`);
}

function navigatorCpus(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------------
// Clean-up that runs whatever happens

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

// ---------------------------------------------------------------------------------------------------
// /proc

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

// ---------------------------------------------------------------------------------------------------
// Services

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (bench/run sets it up)`);
  return v;
}

/** A fresh database on DATABASE_URL's server, dropped at clean-up. */
export async function scratchDatabase(): Promise<string> {
  const base = new URL(requireEnv('DATABASE_URL'));
  const name = `bosun_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = postgres(base.toString(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  onCleanup(`drop database ${name}`, async () => {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  });
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A BullMQ prefix of its own; its keys are deleted from Redis at clean-up. */
export function queuePrefix(): string {
  const prefix = `bosun_bench_${randomBytes(4).toString('hex')}`;
  onCleanup(`redis keys ${prefix}:*`, async () => {
    const redis = new Redis(requireEnv('REDIS_URL'), { maxRetriesPerRequest: 2 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}

export { freePort };

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  logFile: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Spawns a long-running process with output to a log file; stopped (SIGTERM, then SIGKILL) at clean-up. */
export function spawnLogged(name: string, args: string[], env: Record<string, string>): Proc {
  const logDir = join(resultsDir(), 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  // Emptied now, not when the stream gets round to opening it: startAgent reads this file at once, and a
  // previous run's "registered container instance" must not count.
  writeFileSync(logFile, '');
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const killed = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!killed) child.kill('SIGKILL');
    }
    await exited;
  };
  const remove = onCleanup(`stop ${name} (pid ${child.pid})`, stop);
  return {
    child,
    pid: child.pid ?? 0,
    logFile,
    async stop(signal) {
      await stop(signal);
      await remove();
    },
  };
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface ControlPlane extends Proc {
  endpoint: string;
  key: Key;
  stateDir: string;
}

/**
 * `apps/control-plane/src/server.ts` as a real process, the way scripts/up starts it. BOSUN_LOG_LEVEL
 * defaults to warn here (BOSUN_BENCH_LOG_LEVEL overrides): with `info`, fastify logs two lines per
 * request, which would be part of what is measured.
 */
export async function startControlPlane(
  name: string,
  o: { databaseUrl: string; queuePrefix: string; masterKey?: string; env?: Record<string, string> },
): Promise<ControlPlane> {
  const stateDir = tempDir(`bosun-bench-${name}-`);
  const port = await freePort();
  // BOSUN_BENCH_CPU_PROF=DIR: write a V8 CPU profile of the control plane there when it stops.
  const profile = process.env.BOSUN_BENCH_CPU_PROF;
  const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const proc = spawnLogged(name, [...nodeArgs, '--import', 'tsx', 'apps/control-plane/src/server.ts'], {
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: requireEnv('REDIS_URL'),
    BOSUN_STATE_DIR: stateDir,
    BOSUN_PORT: String(port),
    BOSUN_QUEUE_PREFIX: o.queuePrefix,
    BOSUN_LOG_LEVEL: process.env.BOSUN_BENCH_LOG_LEVEL ?? 'warn',
    ...(o.masterKey ? { BOSUN_MASTER_KEY: o.masterKey } : {}),
    ...o.env,
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const envFile = join(stateDir, 'env');
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${name} exited with ${proc.child.exitCode}:\n${tail(proc.logFile)}`);
    }
    if (Date.now() > deadline) throw new Error(`${name} did not become ready:\n${tail(proc.logFile)}`);
    if (existsSync(envFile)) {
      const ok = await fetch(`${endpoint}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
    }
    await sleep(100);
  }
  const env = parseEnvFile(readFileSync(envFile, 'utf8'));
  return {
    ...proc,
    endpoint,
    stateDir,
    key: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' },
  };
}

/** The master key a control plane generated, so a second process of the same install can share it. */
export function masterKeyOf(cp: ControlPlane): string {
  return readFileSync(join(cp.stateDir, 'master.key'), 'utf8').trim();
}

function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return out;
}

/**
 * The agent as a real process, resolving once it registered: with `bundle` (agentBundle()), that file
 * under plain `node` with agentNodeFlags() and AGENT_ENV, as scripts/up and docker-compose.yml run it;
 * without, `node --import tsx apps/agent/src/main.ts`, as in development and the tests.
 */
export async function startAgent(name: string, env: Record<string, string>, bundle?: string): Promise<Proc> {
  const args = bundle ? [...agentNodeFlags(), bundle] : ['--import', 'tsx', 'apps/agent/src/main.ts'];
  const proc = spawnLogged(name, args, {
    ...(bundle ? AGENT_ENV : {}),
    BOSUN_LOG_LEVEL: 'info',
    BOSUN_HOST_IP: '127.0.0.1',
    ...env,
  });
  const deadline = Date.now() + 60_000;
  while (!/registered container instance|resuming as registered/.test(tail(proc.logFile, 200))) {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited:\n${tail(proc.logFile)}`);
    if (Date.now() > deadline) throw new Error(`${name} did not register:\n${tail(proc.logFile)}`);
    await sleep(100);
  }
  return proc;
}

/**
 * Node flags for the bundled agent: apps/agent/build.ts's AGENT_NODE_FLAGS, those scripts/up and
 * docker-compose.yml use; BOSUN_BENCH_AGENT_NODE_FLAGS (space-separated, may be empty) replaces them,
 * to see what a flag is worth.
 */
export function agentNodeFlags(): string[] {
  const override = process.env.BOSUN_BENCH_AGENT_NODE_FLAGS;
  if (override === undefined) return [...AGENT_NODE_FLAGS];
  return override.split(/\s+/).filter(Boolean);
}

/**
 * The agent bundle as scripts/build-agent makes it (apps/agent/build.ts, the same function), written
 * to bench/results/agent-bundle/agent.mjs rather than apps/agent/dist/ so that a running scripts/up is
 * left alone. Returns its path and size.
 */
export async function agentBundle(): Promise<{ file: string; bytes: number }> {
  const dir = join(resultsDir(), 'agent-bundle');
  mkdirSync(dir, { recursive: true });
  const { outfile, bytes } = await buildAgent({ outfile: join(dir, 'agent.mjs') });
  return { file: outfile, bytes };
}

// ---------------------------------------------------------------------------------------------------
// Signed ECS calls

export const ecsTarget = (action: string) => `AmazonEC2ContainerServiceV20141113.${action}`;

export class Ecs {
  private readonly signer: SignatureV4;
  private readonly url: URL;

  constructor(
    readonly endpoint: string,
    key: Key,
  ) {
    this.url = new URL(endpoint);
    // node:crypto's SHA-256: the pure-JS one cost the benchmarks' own polling ~3 ms of CPU a call,
    // taken from the same two cores as what is measured.
    this.signer = new SignatureV4({
      credentials: key,
      region: REGION,
      service: 'ecs',
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  /** Headers (without host) for one POST / with this body; valid five minutes from `date`. */
  async sign(target: string, body: string, date = new Date()): Promise<Record<string, string>> {
    const signed = await this.signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: this.url.hostname,
        port: Number(this.url.port),
        path: '/',
        headers: {
          host: this.url.host,
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': target,
        },
        body,
      }),
      { signingDate: date },
    );
    const { host: _host, ...headers } = signed.headers as Record<string, string>;
    return headers;
  }

  /** One ECS action; throws on an error answer. `BosunV1.X` targets bosun's own actions. */
  async call<T = Record<string, unknown>>(action: string, input: unknown): Promise<T> {
    const target = action.includes('.') ? action : ecsTarget(action);
    const body = JSON.stringify(input);
    const res = await fetch(`${this.endpoint}/`, {
      method: 'POST',
      headers: await this.sign(target, body),
      body,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${action}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
}

// ---------------------------------------------------------------------------------------------------
// Docker

/** Runs the docker CLI against DOCKER_HOST `host` (undefined: the environment's). */
export function dockerCli(host: string | undefined, args: string[], timeoutMs = 120_000): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    env: { ...process.env, ...(host ? { DOCKER_HOST: host } : {}) },
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

// ---------------------------------------------------------------------------------------------------
// SVG chart

export interface Series {
  name: string;
  /** [x, y] */
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** A step/line chart of several series, hand-rolled SVG (no dependency). */
export function lineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  step?: boolean;
}): string {
  const width = 720;
  const height = 420;
  const m = { left: 60, right: 160, top: 40, bottom: 50 };
  const all = o.series.flatMap((s) => s.points);
  const xMax = niceMax(Math.max(1e-9, ...all.map((p) => p[0])));
  const yMax = niceMax(Math.max(1e-9, ...all.map((p) => p[1])));
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + (x / xMax) * pw;
  const sy = (y: number) => m.top + ph - (y / yMax) * ph;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const xv = (xMax * i) / 5;
    const yv = (yMax * i) / 5;
    parts.push(
      `<line x1="${sx(xv)}" y1="${m.top}" x2="${sx(xv)}" y2="${m.top + ph}" stroke="#eee"/>`,
      `<text x="${sx(xv)}" y="${m.top + ph + 16}" text-anchor="middle">${+xv.toPrecision(3)}</text>`,
      `<line x1="${m.left}" y1="${sy(yv)}" x2="${m.left + pw}" y2="${sy(yv)}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${sy(yv) + 4}" text-anchor="end">${+yv.toPrecision(3)}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
    `<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts: string[] = [];
    let prev: [number, number] | undefined;
    for (const p of [...s.points].sort((a, b) => a[0] - b[0])) {
      if (o.step && prev) pts.push(`${sx(p[0]).toFixed(1)},${sy(prev[1]).toFixed(1)}`);
      pts.push(`${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`);
      prev = p;
    }
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`,
      `<line x1="${m.left + pw + 12}" y1="${m.top + 10 + i * 20}" x2="${m.left + pw + 32}" y2="${m.top + 10 + i * 20}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${m.left + pw + 38}" y="${m.top + 14 + i * 20}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceMax(v: number): number {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (f * exp >= v) return f * exp;
  return 10 * exp;
}
