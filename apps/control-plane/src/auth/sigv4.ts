import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from '@bosun/model';

/** The parts of an incoming HTTP request that a SigV4 signature covers. */
export interface SignedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface VerifyOptions {
  region: string;
  service: string;
  now: Date;
  maxSkewMs: number;
  secretFor(accessKeyId: string): Promise<string | undefined>;
  /**
   * Headers the signature must cover besides host and x-amz-date (both always required): for a JSON
   * API, x-amz-target, so a captured signature cannot be replayed as another operation.
   */
  requiredSignedHeaders?: readonly string[];
}

const AUTH_RE =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;._-]+),\s*Signature=([0-9a-f]{64})\s*$/;

/**
 * Verifies an AWS Signature Version 4 Authorization header by re-signing the request the way
 * @smithy/signature-v4 (the signer the AWS SDKs use) signs it, and comparing in constant time.
 * Returns the access key id of the caller.
 */
export async function verifySigV4(req: SignedRequest, opts: VerifyOptions): Promise<string> {
  const header = single(req.headers.authorization);
  if (!header) {
    throw new AuthenticationError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const m = AUTH_RE.exec(header);
  if (!m) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      'Authorization header is not a valid AWS4-HMAC-SHA256 signature.',
    );
  }
  const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] = m as unknown as string[];
  if (region !== opts.region) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      `Credential should be scoped to a valid region. This endpoint serves region '${opts.region}', not '${region}'.`,
    );
  }
  if (service !== opts.service) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${opts.service}'.`,
    );
  }

  const amzDate = single(req.headers['x-amz-date']);
  const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!signingDate) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      "Authorization header requires a valid 'X-Amz-Date' header (YYYYMMDDTHHMMSSZ).",
    );
  }
  if (amzDate?.slice(0, 8) !== scopeDate) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      'Credential scope date does not match X-Amz-Date.',
    );
  }
  const skew = Math.abs(opts.now.getTime() - signingDate.getTime());
  if (skew > opts.maxSkewMs) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(opts.now.getTime() - opts.maxSkewMs))} ` +
        `or later than ${formatAmzDate(new Date(opts.now.getTime() + opts.maxSkewMs))}.`,
    );
  }

  const signedHeaders = (signedHeaderList ?? '').split(';');
  // AWS accepts the Date header in place of X-Amz-Date; the AWS CLI (botocore) and the SDKs always
  // send and sign X-Amz-Date, so bosun requires it and so has one timestamp to check.
  for (const name of ['host', 'x-amz-date', ...(opts.requiredSignedHeaders ?? [])]) {
    if (!signedHeaders.includes(name)) {
      throw new AuthenticationError(
        'IncompleteSignatureException',
        `The '${name}' header must be among the signed headers (SignedHeaders=${signedHeaderList}).`,
      );
    }
  }
  // An unsigned body would let anyone on the path change what a signed call does.
  const contentHash = single(req.headers['x-amz-content-sha256']);
  if (contentHash !== undefined && !/^[0-9a-f]{64}$/.test(contentHash)) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      `x-amz-content-sha256 '${contentHash.slice(0, 40)}' is not accepted: bosun requires the signed SHA-256 of the body (UNSIGNED-PAYLOAD and streaming payloads are refused).`,
    );
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) {
      throw new AuthenticationError(
        'InvalidSignatureException',
        `Signed header '${name}' is missing from the request.`,
      );
    }
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // The signer trusts a supplied payload hash, so it must really be the body's hash.
  const claimedHash = headers['x-amz-content-sha256'];
  if (claimedHash !== undefined) {
    const actual = hash('sha256', req.body, 'hex');
    if (claimedHash !== actual) {
      throw new AuthenticationError(
        'InvalidSignatureException',
        'x-amz-content-sha256 does not match the body.',
      );
    }
  }

  const secret = await opts.secretFor(accessKeyId ?? '');
  if (secret === undefined) {
    throw new AuthenticationError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  }

  const expected = signatureOf(req, headers, signedHeaders, {
    accessKeyId: accessKeyId ?? '',
    secret,
    signingDate,
    region: opts.region,
    service: opts.service,
  });
  if (
    expected.signedHeaders !== signedHeaderList ||
    expected.signature.length !== (signature ?? '').length ||
    !timingSafeEqual(Buffer.from(expected.signature, 'utf8'), Buffer.from(signature ?? '', 'utf8'))
  ) {
    throw new AuthenticationError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. ' +
        'Check your AWS Secret Access Key and signing method.',
    );
  }
  return accessKeyId ?? '';
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function formatAmzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * The signature, and the list of signed headers, that @smithy/signature-v4's `sign` (with
 * `signableHeaders` = the signed headers, `applyChecksum: false`, `uriEscapePath: true`) computes for
 * this request — the same steps done directly with node:crypto. The SDK signer costs several times
 * more per request (request clones, async hashing, a signer per key), which every API call paid.
 * test/sigv4.test.ts checks the two agree.
 */
export function signatureOf(
  req: Pick<SignedRequest, 'method' | 'path' | 'query' | 'body'>,
  headers: Readonly<Record<string, string>>,
  signedHeaders: readonly string[],
  o: { accessKeyId: string; secret: string; signingDate: Date; region: string; service: string },
): { signature: string; signedHeaders: string } {
  const longDate = formatAmzDate(o.signingDate);
  const shortDate = longDate.slice(0, 8);
  // The signer drops these from what it is given and sets x-amz-date itself.
  const canonical = new Map<string, string>();
  for (const name of signedHeaders) {
    if (name === 'authorization' || name === 'date' || name === 'x-amz-date' || !Object.hasOwn(headers, name))
      continue;
    canonical.set(name, canonicalHeaderValue(headers[name] as string));
  }
  canonical.set('x-amz-date', longDate);
  const names = [...canonical.keys()].sort();
  let canonicalHeaders = '';
  for (const name of names) canonicalHeaders += `${name}:${canonical.get(name)}\n`;
  const signedList = names.join(';');
  const payloadHash = canonical.has(SHA256_HEADER)
    ? (headers[SHA256_HEADER] as string)
    : hash('sha256', req.body, 'hex');
  const canonicalRequest = `${req.method}\n${canonicalPath(req.path)}\n${canonicalQuery(req.query)}\n${canonicalHeaders}\n${signedList}\n${payloadHash}`;
  const scope = `${shortDate}/${o.region}/${o.service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;
  const key = signingKey(o.accessKeyId, o.secret, shortDate, o.region, o.service);
  return {
    signature: createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex'),
    signedHeaders: signedList,
  };
}

const SHA256_HEADER = 'x-amz-content-sha256';

function canonicalHeaderValue(value: string): string {
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

/** RFC 3986 escaping, as the SDK's escapeUri. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalPath(given: string): string {
  if (given === '/') return given;
  // As the SDK's HttpRequest takes a path.
  const path = given === '' ? '/' : given.startsWith('/') ? given : `/${given}`;
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment.length === 0 || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(query: Readonly<Record<string, string | string[]>>): string {
  const keys: string[] = [];
  const serialized: Record<string, string> = {};
  for (const key in query) {
    if (!Object.hasOwn(query, key) || key.toLowerCase() === 'x-amz-signature') continue;
    const encodedKey = escapeUri(key);
    keys.push(encodedKey);
    const value = query[key];
    if (typeof value === 'string') serialized[encodedKey] = `${encodedKey}=${escapeUri(value)}`;
    else if (Array.isArray(value))
      serialized[encodedKey] = value
        .map((v) => `${encodedKey}=${escapeUri(v)}`)
        .sort()
        .join('&');
  }
  return keys
    .sort()
    .map((key) => serialized[key])
    .filter((s) => s)
    .join('&');
}

/**
 * The derived signing key depends only on the secret, the day, region and service, so it is kept:
 * four HMACs fewer per request. Keyed by access key id, checked against the secret it came from.
 */
const signingKeys = new Map<string, { secret: string; key: Buffer }>();

function signingKey(accessKeyId: string, secret: string, shortDate: string, region: string, service: string) {
  const id = `${accessKeyId}/${shortDate}/${region}/${service}`;
  const hit = signingKeys.get(id);
  if (hit !== undefined && hit.secret === secret) return hit.key;
  let key = createHmac('sha256', `AWS4${secret}`).update(shortDate, 'utf8').digest();
  for (const part of [region, service, 'aws4_request'])
    key = createHmac('sha256', key).update(part, 'utf8').digest();
  // Bounded: a day's keys per access key, and random key ids never get here (no secret).
  if (signingKeys.size >= 256) signingKeys.clear();
  signingKeys.set(id, { secret, key });
  return key;
}
