import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** The region and account every test and benchmark control plane answers for. */
export const REGION = 'local';
export const ACCOUNT = '000000000000';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The x-amz-target of an ECS action. */
export const ecsTarget = (action: string) => `AmazonEC2ContainerServiceV20141113.${action}`;

// One signer per key: a signer caches its derived signing key, which would otherwise be four HMACs a call.
const signers = new Map<string, SignatureV4>();

function signerFor(key: AccessKey): SignatureV4 {
  const id = `${key.accessKeyId}:${key.secretAccessKey}`;
  let signer = signers.get(id);
  if (!signer) {
    signer = new SignatureV4({
      credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
      region: REGION,
      service: 'ecs',
      sha256: Hash.bind(null, 'sha256'),
    });
    signers.set(id, signer);
  }
  return signer;
}

/**
 * SigV4 headers (without host) for one `POST /` to `endpoint` with this body, valid five minutes
 * from `date`. Every header given is signed. node:crypto's SHA-256: the pure-JS one cost the
 * benchmarks' own polling ~3 ms of CPU a call, taken from the same two cores as what is measured.
 */
export async function signEcsRequest(
  endpoint: string,
  key: AccessKey,
  o: { headers: Record<string, string>; body: string; date?: Date },
): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const signed = await signerFor(key).sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, ...o.headers },
      body: o.body,
    }),
    { signingDate: o.date ?? new Date() },
  );
  const { host: _host, ...headers } = signed.headers as Record<string, string>;
  return headers;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * Sends an arbitrary body to the ECS endpoint, signed (with `key`) or not, and never throws on an
 * error answer, so tests can send what the SDK would refuse to: malformed JSON, unknown actions,
 * wrong types, stale signatures.
 */
export async function rawEcsCall(
  endpoint: string,
  o: {
    target?: string;
    body: string;
    key?: AccessKey;
    signingDate?: Date;
    headers?: Record<string, string>;
  },
): Promise<RawResponse> {
  const unsigned: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.1',
    ...(o.target ? { 'x-amz-target': o.target } : {}),
    ...o.headers,
  };
  const headers = o.key
    ? await signEcsRequest(endpoint, o.key, {
        headers: unsigned,
        body: o.body,
        ...(o.signingDate ? { date: o.signingDate } : {}),
      })
    : unsigned;
  const res = await fetch(`${endpoint}/`, { method: 'POST', headers, body: o.body });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, headers: res.headers, body };
}

/** Signed ECS calls with one key, for code that wants answers, not status codes. */
export class SignedEcsClient {
  constructor(
    readonly endpoint: string,
    readonly key: AccessKey,
  ) {}

  /** Headers (without host) for one call of `target` with this body; valid five minutes from `date`. */
  sign(target: string, body: string, date = new Date()): Promise<Record<string, string>> {
    return signEcsRequest(this.endpoint, this.key, {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      body,
      date,
    });
  }

  /** One ECS action; throws on an error answer. `BosunV1.X` targets bosun's own actions. */
  async call<T = Record<string, unknown>>(action: string, input: unknown): Promise<T> {
    const body = JSON.stringify(input);
    const res = await fetch(`${this.endpoint}/`, {
      method: 'POST',
      headers: await this.sign(action.includes('.') ? action : ecsTarget(action), body),
      body,
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${action}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
}
