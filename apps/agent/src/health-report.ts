import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentHealth } from './health.ts';

/** How often health.json is rewritten. */
export const HEALTH_WRITE_INTERVAL_MS = 2000;

/**
 * Publishes the agent's health (health.ts): `<state dir>/health.json`, rewritten every
 * HEALTH_WRITE_INTERVAL_MS, atomically (temp file, rename) so a reader never sees half of one; and,
 * when a port is set, `GET /health` on 127.0.0.1 only (200 ok, 503 degraded, the same JSON).
 */
export class HealthReporter {
  #timer: NodeJS.Timeout | undefined;
  #server: http.Server | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly port: number,
    private readonly snapshot: () => AgentHealth,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.write();
    this.#timer = setInterval(() => void this.write(), HEALTH_WRITE_INTERVAL_MS);
    this.#timer.unref();
    if (this.port > 0) {
      const server = http.createServer((req, res) => {
        if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/health') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; GET /health\n');
          return;
        }
        const health = this.snapshot();
        res
          .writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify(health, null, 2)}\n`);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.port, '127.0.0.1', () => resolve());
      });
      server.unref();
      this.#server = server;
      this.log.info({ url: `http://127.0.0.1:${this.port}/health` }, 'agent health endpoint');
    }
  }

  /** One write at a time: overlapping writes would race on the temp file. */
  write(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      const file = join(this.dir, 'health.json');
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        await writeFile(tmp, `${JSON.stringify(this.snapshot(), null, 2)}\n`, { mode: 0o644 });
        await rename(tmp, file);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'cannot write health.json');
      }
    });
    return this.#writing;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
