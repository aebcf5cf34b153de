import { readFileSync } from 'node:fs';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * `scripts/bosun <command>`: bosun's own operations, which the AWS CLI cannot call. Credentials and
 * endpoint come from the environment (`source .bosun/env`), or from the env file named by --env.
 */
const USAGE = `usage:
  scripts/bosun join-token [--cluster NAME] [--expires-in SECONDS (3600)] [--uses N (1)]
                           [--max-cpu UNITS] [--max-memory MIB] [--require-approval] [--env FILE]
  scripts/bosun list-join-tokens [--cluster NAME] [--env FILE]
  scripts/bosun revoke-join-token --id JOIN_TOKEN_ID [--cluster NAME] [--env FILE]
  scripts/bosun put-secret --name NAME --secret-string VALUE [--env FILE]
  scripts/bosun delete-secret --name NAME [--env FILE]
  scripts/bosun list-secrets [--env FILE]`;

function envFrom(file: string | undefined): Record<string, string | undefined> {
  if (!file) return process.env;
  const out: Record<string, string | undefined> = { ...process.env };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)='(.*)'$/.exec(line);
    if (m?.[1]) out[m[1]] = m[2]?.replace(/'\\''/g, "'");
  }
  return out;
}

async function call(
  env: Record<string, string | undefined>,
  action: string,
  body: object,
): Promise<Record<string, unknown>> {
  const endpoint = env.AWS_ENDPOINT_URL_ECS ?? env.AWS_ENDPOINT_URL;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'local';
  if (!endpoint || !accessKeyId || !secretAccessKey) {
    throw new Error('No bosun credentials: run `source .bosun/env` first, or pass --env .bosun/env');
  }
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey },
    region,
    service: 'ecs',
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `BosunV1.${action}`,
      },
      body: JSON.stringify(body),
    }),
  );
  const { host: _host, ...headers } = signed.headers;
  const res = await fetch(new URL('/', url), { method: 'POST', headers, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${String(json.__type)}: ${String(json.message)}`);
  return json;
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i];
    if (name === '--require-approval') {
      // The one switch without a value.
      flags.set('require-approval', 'true');
      i--;
      continue;
    }
    const value = rest[i + 1];
    if (!name?.startsWith('--') || value === undefined) throw new Error(USAGE);
    flags.set(name.slice(2), value);
  }
  const env = envFrom(flags.get('env'));
  const cluster = flags.has('cluster') ? { cluster: flags.get('cluster') } : {};
  const int = (flag: string, field: string) => {
    if (!flags.has(flag)) return {};
    const value = Number(flags.get(flag));
    if (!Number.isInteger(value)) throw new Error(`--${flag} takes a whole number\n${USAGE}`);
    return { [field]: value };
  };
  if (command === 'join-token') {
    const out = await call(env, 'CreateJoinToken', {
      ...cluster,
      ...int('expires-in', 'expiresInSeconds'),
      ...int('uses', 'uses'),
      ...int('max-cpu', 'maxCpu'),
      ...int('max-memory', 'maxMemory'),
      ...(flags.has('require-approval') ? { requireApproval: true } : {}),
    });
    // Only the token on stdout, so `token=$(scripts/bosun join-token)` works; its id (for revoking) on stderr.
    process.stderr.write(
      `join token ${String(out.joinTokenId)}: ${String(out.usesRemaining)} use(s), expires ${new Date(Number(out.expiresAt) * 1000).toISOString()}\n`,
    );
    process.stdout.write(`${String(out.joinToken)}\n`);
    return;
  }
  if (command === 'list-join-tokens') {
    process.stdout.write(`${JSON.stringify(await call(env, 'ListJoinTokens', cluster), null, 2)}\n`);
    return;
  }
  if (command === 'revoke-join-token') {
    const joinTokenId = flags.get('id');
    if (!joinTokenId) throw new Error(USAGE);
    const out = await call(env, 'RevokeJoinToken', { ...cluster, joinTokenId });
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  if (command === 'put-secret' || command === 'delete-secret') {
    const name = flags.get('name');
    const secretString = flags.get('secret-string');
    if (!name || (command === 'put-secret' && !secretString)) throw new Error(USAGE);
    const out =
      command === 'put-secret'
        ? await call(env, 'PutSecret', { name, secretString })
        : await call(env, 'DeleteSecret', { name });
    process.stdout.write(`${String(out.arn)}\n`);
    return;
  }
  if (command === 'list-secrets') {
    process.stdout.write(`${JSON.stringify(await call(env, 'ListSecrets', {}), null, 2)}\n`);
    return;
  }
  throw new Error(USAGE);
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
