import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the agent must remember across restarts, including kill -9. */
export interface AgentState {
  containerInstanceArn: string;
  containerInstanceId: string;
  credential: string;
  controlPlaneUrl: string;
  /**
   * TLS (identity.ts): the control plane's CA, pinned at join; the client certificate and its
   * private key (PKCS#8 PEM). Absent only with a plain-HTTP control plane (BOSUN_TLS=off). One file,
   * written atomically, so a renewal leaves the old pair or the new one, never half of each.
   */
  caCertificate?: string;
  certificate?: string;
  privateKey?: string;
}

/**
 * A JSON file written atomically (temp file, fsync by writeFile's flush, rename), so a crash leaves
 * either the old state or the new one, never half of each.
 */
export class StateStore {
  constructor(private readonly dir: string) {}

  async load(): Promise<AgentState | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'agent.json'), 'utf8')) as AgentState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async save(state: AgentState): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, 'agent.json');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(state, null, 2), { mode: 0o600, flush: true });
    await rename(tmp, file);
  }
}
