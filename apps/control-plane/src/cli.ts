import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * `scripts/bosun <command>`: bosun's own operations, which the AWS CLI cannot call. Credentials and
 * endpoint come from the environment (`source .bosun/env`), or from the env file named by --env.
 */
const USAGE = `usage:
  scripts/bosun join-token [--cluster NAME] [--expires-in SECONDS] [--env FILE]
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
  const res =
    url.protocol === 'https:'
      ? await postHttps(url, headers, JSON.stringify(body), env.AWS_CA_BUNDLE)
      : await fetch(new URL('/', url), { method: 'POST', headers, body: JSON.stringify(body) }).then(
          async (r) => ({ status: r.status, text: await r.text() }),
        );
  const json = JSON.parse(res.text) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${String(json.__type)}: ${String(json.message)}`);
  return json;
}

/**
 * POST over https trusting the CA the env file names (AWS_CA_BUNDLE, as the AWS CLI does): the env file
 * is read after start, too late for NODE_EXTRA_CA_CERTS, and fetch takes no CA without undici.
 */
function postHttps(
  url: URL,
  headers: Record<string, string>,
  body: string,
  caFile: string | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/', url),
      { method: 'POST', headers, ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i];
    const value = rest[i + 1];
    if (!name?.startsWith('--') || value === undefined) throw new Error(USAGE);
    flags.set(name.slice(2), value);
  }
  const env = envFrom(flags.get('env'));
  if (command === 'join-token') {
    const out = await call(env, 'CreateJoinToken', {
      ...(flags.has('cluster') ? { cluster: flags.get('cluster') } : {}),
      ...(flags.has('expires-in') ? { expiresInSeconds: Number(flags.get('expires-in')) } : {}),
    });
    process.stdout.write(`${String(out.joinToken)}\n`);
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
