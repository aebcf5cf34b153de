/** The benchmark's table (rows with targets, in markdown) and its results on disk. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@bosun/testkit';
import { log, SMOKE } from './run.ts';

export const RESULTS_DIR = join(REPO_ROOT, 'bench/results');

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

/** Prints the benchmark's table on stdout and writes bench/results/<name>.json (+ charts). */
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
