import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '@bosun/testkit';

/**
 * Each fault scenario prints its figures and appends them, one JSON line each, to the file
 * scripts/test turns into the closing table (BOSUN_FAULT_FIGURES, else .bosun/fault-figures.jsonl).
 */
export interface FaultFigures {
  scenario: string;
  detectionSeconds?: number;
  recoverySeconds?: number;
  duplicates?: number;
  lost?: number;
  restarts?: number;
  note?: string;
}

export function recordFigures(figures: FaultFigures): void {
  const file = process.env.BOSUN_FAULT_FIGURES ?? join(REPO_ROOT, '.bosun', 'fault-figures.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(figures)}\n`);
  console.log(`[fault] ${JSON.stringify(figures)}`);
}

export const seconds = (ms: number) => Math.round(ms / 10) / 100;
