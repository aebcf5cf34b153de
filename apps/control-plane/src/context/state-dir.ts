import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccessKey } from '../auth/access-keys.ts';

/** The master key that seals stored secrets: from config, else STATE_DIR/master.key (made once). */
export async function loadMasterKey(stateDir: string, fromEnv: string | undefined): Promise<string> {
  if (fromEnv) return fromEnv;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, 'master.key');
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`${file} is corrupt: expected 64 hex characters`);
    return hex;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const hex = randomBytes(32).toString('hex');
  // 'wx' fails if another process created it first; then use theirs.
  try {
    await writeFile(file, `${hex}\n`, { mode: 0o600, flag: 'wx' });
    return hex;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return (await readFile(file, 'utf8')).trim();
  }
}

/**
 * STATE_DIR/env: `source` it and the AWS CLI and SDKs talk to this bosun. `caFile` is the CA the
 * server's certificate chains to: AWS_CA_BUNDLE for the AWS CLI and Python SDKs, NODE_EXTRA_CA_CERTS
 * for Node programs (the JavaScript SDK v3 and scripts/bosun).
 */
export async function writeClientEnv(
  stateDir: string,
  key: AccessKey,
  opts: { region: string; endpoint: string; caFile?: string },
): Promise<string> {
  const file = join(stateDir, 'env');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const text = [
    '# Written by the bosun control plane. `source` this file to point the AWS CLI and SDKs at bosun.',
    `export AWS_ACCESS_KEY_ID=${q(key.accessKeyId)}`,
    `export AWS_SECRET_ACCESS_KEY=${q(key.secretAccessKey)}`,
    `export AWS_REGION=${q(opts.region)}`,
    `export AWS_DEFAULT_REGION=${q(opts.region)}`,
    `export AWS_ENDPOINT_URL_ECS=${q(opts.endpoint)}`,
    `export AWS_ENDPOINT_URL=${q(opts.endpoint)}`,
    ...(opts.caFile
      ? [`export AWS_CA_BUNDLE=${q(opts.caFile)}`, `export NODE_EXTRA_CA_CERTS=${q(opts.caFile)}`]
      : []),
    '',
  ].join('\n');
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
  return file;
}
