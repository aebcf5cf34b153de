import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, run } from '@bosun/testkit';

/**
 * A Postgres server of the test's own, in a temporary directory on a free port, so a fault scenario
 * can stop and start it without touching the server other tests or a developer's bosun use.
 * As root it runs as the `postgres` OS user, as scripts/lib/postgres.sh does.
 */
export interface OwnPostgres {
  /** postgres://bosun:bosun@127.0.0.1:PORT/postgres: a server URL for createScratchDatabase. */
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

function binDir(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('no /usr/lib/postgresql/*/bin');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = binDir();
  const root = userInfo().uid === 0;
  const dir = mkdtempSync('/tmp/bosun-fault-pg-');
  const data = join(dir, 'data');
  if (root)
    chownSync(
      dir,
      Number((await run('id', ['-u', 'postgres'])).stdout),
      Number((await run('id', ['-g', 'postgres'])).stdout),
    );
  const asOwner = (cmd: string, args: string[]) =>
    root ? run('runuser', ['-u', 'postgres', '--', cmd, ...args], { cwd: '/' }) : run(cmd, args);
  const port = await freePort();
  await asOwner(`${bin}/initdb`, [
    '-D',
    data,
    '-E',
    'UTF8',
    '--no-locale',
    '--auth-host=trust',
    '--auth-local=trust',
  ]);
  const start = async () => {
    await asOwner(`${bin}/pg_ctl`, [
      'start',
      '-D',
      data,
      '-w',
      '-t',
      '60',
      '-s',
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
    ]);
  };
  await start();
  await asOwner(`${bin}/psql`, [
    '-h',
    dir,
    '-p',
    String(port),
    '-d',
    'postgres',
    '-c',
    "create role bosun login createdb password 'bosun'",
  ]);
  return {
    url: `postgres://bosun:bosun@127.0.0.1:${port}/postgres`,
    start,
    async stop() {
      await asOwner(`${bin}/pg_ctl`, ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60', '-s']);
    },
    async destroy() {
      await asOwner(`${bin}/pg_ctl`, ['stop', '-D', data, '-m', 'immediate', '-w', '-s']).catch(
        () => undefined,
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
