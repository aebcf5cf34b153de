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
  scripts/bosun join-token [--cluster NAME] [--expires-in SECONDS (3600)] [--uses N (1)]
                           [--max-cpu UNITS] [--max-memory MIB] [--require-approval] [--env FILE]
  scripts/bosun list-join-tokens [--cluster NAME] [--env FILE]
  scripts/bosun revoke-join-token --id JOIN_TOKEN_ID [--cluster NAME] [--env FILE]
  scripts/bosun put-secret --name NAME --secret-string VALUE [--env FILE]
  scripts/bosun delete-secret --name NAME [--env FILE]
  scripts/bosun list-secrets [--env FILE]
  scripts/bosun create-access-key --name USER [--read-only | --policy PRESET | --policy-file FILE] [--local]
  scripts/bosun list-access-keys [--name USER] [--local]
  scripts/bosun update-access-key --access-key-id ID --status Active|Inactive [--local]
  scripts/bosun put-access-key-policy --access-key-id ID (--read-only | --policy PRESET | --policy-file FILE) [--local]
  scripts/bosun delete-access-key --access-key-id ID [--local]
  scripts/bosun audit [--since 1h|ISO-TIME] [--until …] [--action ecs:CreateService] [--access-key-id ID]
                      [--user NAME] [--result ok|CODE] [--max N] [--json]
Presets: AdministratorAccess, EcsFullAccess (the default for a new user), ReadOnly.
--local: on the control-plane host, straight on its database (DATABASE_URL) with its master key
(BOSUN_MASTER_KEY or BOSUN_STATE_DIR/master.key), needing no working key.`;

/** The switches without a value. */
const BOOLEAN_FLAGS = new Set(['read-only', 'local', 'json', 'require-approval']);

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

const KEY_COMMANDS = new Set([
  'create-access-key',
  'list-access-keys',
  'update-access-key',
  'put-access-key-policy',
  'delete-access-key',
]);

/** `--read-only`, `--policy PRESET` or `--policy-file FILE` → the API's PolicyName / PolicyDocument. */
function policyChoice(flags: Map<string, string>): { policyName?: string; policyDocument?: string } {
  const given = ['read-only', 'policy', 'policy-file'].filter((f) => flags.has(f));
  if (given.length > 1) throw new Error('Give one of --read-only, --policy, --policy-file.');
  if (flags.has('read-only')) return { policyName: 'ReadOnly' };
  if (flags.has('policy')) return { policyName: flags.get('policy') as string };
  if (flags.has('policy-file'))
    return { policyDocument: readFileSync(flags.get('policy-file') as string, 'utf8') };
  return {};
}

function required(flags: Map<string, string>, name: string): string {
  const v = flags.get(name);
  if (!v) throw new Error(`--${name} is required.\n${USAGE}`);
  return v;
}

/** `1h`, `30m`, `2d`, `90s` ago; or an ISO time; → epoch seconds. */
function parseTime(value: string, now = Date.now()): number {
  const m = /^(\d+)([smhd])$/.exec(value);
  if (m) return (now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's']) / 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`Not a time: '${value}' (use 1h, 30m, 2d or an ISO time).`);
  return t / 1000;
}

const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o, null, 2)}\n`);

async function keyCommand(
  command: string,
  flags: Map<string, string>,
  env: Record<string, string | undefined>,
) {
  const local = flags.has('local');
  const status = (s: string) => {
    if (s !== 'Active' && s !== 'Inactive') throw new Error('--status is Active or Inactive.');
    return s;
  };
  if (command === 'create-access-key') {
    const userName = required(flags, 'name');
    const choice = policyChoice(flags);
    if (local) {
      const { runLocal } = await import('./cli-local.ts');
      print(await runLocal(env, { kind: 'create', userName, ...choice }));
      return;
    }
    const out = (await call(env, 'CreateAccessKey', {
      UserName: userName,
      ...(choice.policyName ? { PolicyName: choice.policyName } : {}),
      ...(choice.policyDocument ? { PolicyDocument: choice.policyDocument } : {}),
    })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string; UserName: string } };
    const k = out.AccessKey;
    print({ AccessKeyId: k.AccessKeyId, SecretAccessKey: k.SecretAccessKey, UserName: k.UserName });
    return;
  }
  if (command === 'audit') {
    if (local) throw new Error('audit has no --local form: read it through the API.');
    await printAudit(env, flags);
    return;
  }
  const { runLocal } = local ? await import('./cli-local.ts') : { runLocal: undefined };
  if (command === 'list-access-keys') {
    const userName = flags.get('name');
    print(
      runLocal
        ? await runLocal(env, { kind: 'list', ...(userName ? { userName } : {}) })
        : await call(env, 'ListAccessKeys', userName ? { UserName: userName } : {}),
    );
    return;
  }
  const accessKeyId = required(flags, 'access-key-id');
  if (command === 'update-access-key') {
    const s = status(required(flags, 'status'));
    print(
      runLocal
        ? await runLocal(env, { kind: 'status', accessKeyId, status: s === 'Active' ? 'ACTIVE' : 'INACTIVE' })
        : await call(env, 'UpdateAccessKey', { AccessKeyId: accessKeyId, Status: s }),
    );
    return;
  }
  if (command === 'put-access-key-policy') {
    const choice = policyChoice(flags);
    print(
      runLocal
        ? await runLocal(env, { kind: 'policy', accessKeyId, ...choice })
        : await call(env, 'PutAccessKeyPolicy', {
            AccessKeyId: accessKeyId,
            ...(choice.policyName ? { PolicyName: choice.policyName } : {}),
            ...(choice.policyDocument ? { PolicyDocument: choice.policyDocument } : {}),
          }),
    );
    return;
  }
  print(
    runLocal
      ? await runLocal(env, { kind: 'delete', accessKeyId })
      : await call(env, 'DeleteAccessKey', { AccessKeyId: accessKeyId }),
  );
}

interface AuditEvent {
  time: number;
  requestId: string;
  accessKeyId: string;
  userName: string | null;
  action: string;
  resources: string[];
  result: string;
  sourceAddress: string;
}

/** Every page up to --max (100) events, newest first: one line each, or JSON with --json. */
async function printAudit(env: Record<string, string | undefined>, flags: Map<string, string>) {
  const max = Number(flags.get('max') ?? 100);
  const filter = {
    ...(flags.has('since') ? { startTime: parseTime(flags.get('since') as string) } : {}),
    ...(flags.has('until') ? { endTime: parseTime(flags.get('until') as string) } : {}),
    ...(flags.has('action') ? { action: flags.get('action') } : {}),
    ...(flags.has('access-key-id') ? { accessKeyId: flags.get('access-key-id') } : {}),
    ...(flags.has('user') ? { userName: flags.get('user') } : {}),
    ...(flags.has('result') ? { result: flags.get('result') } : {}),
  };
  const events: AuditEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = (await call(env, 'ListAuditEvents', {
      ...filter,
      maxResults: Math.min(1000, max - events.length),
      ...(nextToken ? { nextToken } : {}),
    })) as { auditEvents: AuditEvent[]; nextToken?: string };
    events.push(...page.auditEvents);
    nextToken = page.nextToken;
  } while (nextToken && events.length < max);
  if (flags.has('json')) {
    print({ auditEvents: events });
    return;
  }
  for (const e of events) {
    const when = new Date(e.time * 1000).toISOString();
    const who = `${e.userName ?? '?'}(${e.accessKeyId})`;
    process.stdout.write(
      `${when}  ${who}  ${e.action}  ${e.result}  ${e.sourceAddress}  ${e.resources.join(' ')}\n`,
    );
  }
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
    if (name?.startsWith('--') && BOOLEAN_FLAGS.has(name.slice(2))) {
      flags.set(name.slice(2), 'true');
      i--;
      continue;
    }
    const value = rest[i + 1];
    if (!name?.startsWith('--') || value === undefined) throw new Error(USAGE);
    flags.set(name.slice(2), value);
  }
  const env = envFrom(flags.get('env'));
  if (KEY_COMMANDS.has(command ?? '') || command === 'audit') {
    await keyCommand(command as string, flags, env);
    return;
  }
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
