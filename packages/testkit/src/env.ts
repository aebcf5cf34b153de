import { readFileSync } from 'node:fs';

/** A variable scripts/test or bench/run sets up (DATABASE_URL, REDIS_URL); throws when it is missing. */
export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (scripts/test and bench/run set it up)`);
  return v;
}

/** Parses the `export NAME='value'` lines the control plane writes to its state directory's `env`. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return out;
}

export function readEnvFile(file: string): Record<string, string> {
  return parseEnvFile(readFileSync(file, 'utf8'));
}
