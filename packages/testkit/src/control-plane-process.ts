import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile } from './env.ts';
import { freePort } from './free-port.ts';
import { type NodeProcess, spawnNode, waitForProcess } from './node-process.ts';
import type { AccessKey } from './sigv4.ts';
import { trustCaFile } from './tls-trust.ts';

export interface ControlPlaneProcess extends NodeProcess {
  endpoint: string;
  stateDir: string;
  /** The variables its `env` file exports (what `source .bosun/env` gives a user), parsed. */
  clientEnv: Record<string, string>;
  /** The admin key from clientEnv. */
  key: AccessKey;
}

/**
 * `apps/control-plane/src/server.ts` as a real process, the way scripts/up starts it, on a free port
 * (or env's BOSUN_PORT); resolves once it answers /healthz and its state directory has an `env`
 * file. `env` must give at least DATABASE_URL, REDIS_URL and BOSUN_STATE_DIR.
 */
export async function startControlPlaneProcess(
  env: Record<string, string>,
  o: {
    logFile?: string;
    nodeArgs?: string[];
    /** Called as soon as the process exists, before it is ready (to register its clean-up). */
    onSpawn?: (proc: NodeProcess) => void;
  } = {},
): Promise<ControlPlaneProcess> {
  const stateDir = env.BOSUN_STATE_DIR;
  if (!stateDir) throw new Error('startControlPlaneProcess: BOSUN_STATE_DIR must be given');
  const port = Number(env.BOSUN_PORT || (await freePort()));
  const scheme = env.BOSUN_TLS === 'off' ? 'http' : 'https';
  const endpoint = `${scheme}://127.0.0.1:${port}`;
  const envFile = join(stateDir, 'env');
  const proc = spawnNode(
    [...(o.nodeArgs ?? []), '--import', 'tsx', 'apps/control-plane/src/server.ts'],
    { BOSUN_LOG_LEVEL: 'info', ...env, BOSUN_PORT: String(port) },
    o.logFile ? { logFile: o.logFile } : {},
  );
  o.onSpawn?.(proc);
  // The env file names the CA (AWS_CA_BUNDLE) the process made or was given: this test process trusts
  // it from then on (tls-trust.ts), as a user's shell does after `source .bosun/env`.
  const ready = async () => {
    if (!existsSync(envFile)) return false;
    const caFile = readEnvFile(envFile).AWS_CA_BUNDLE;
    if (caFile) trustCaFile(caFile);
    return fetch(`${endpoint}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
  };
  try {
    await waitForProcess(proc, 'control plane', ready, 90_000);
  } catch (e) {
    await proc.stop('SIGKILL');
    throw e;
  }
  // Another process of the same install (same state directory) may have written the file last, with
  // its own endpoint; the credentials are the install's either way.
  const clientEnv: Record<string, string> = {
    ...readEnvFile(envFile),
    AWS_ENDPOINT_URL_ECS: endpoint,
    AWS_ENDPOINT_URL: endpoint,
  };
  return {
    ...proc,
    endpoint,
    stateDir,
    clientEnv,
    key: {
      accessKeyId: clientEnv.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: clientEnv.AWS_SECRET_ACCESS_KEY ?? '',
    },
  };
}

/** The master key a control plane generated, so a second process of the same install can share it. */
export function masterKeyOf(cp: { stateDir: string }): string {
  return readFileSync(join(cp.stateDir, 'master.key'), 'utf8').trim();
}
