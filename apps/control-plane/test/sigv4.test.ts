import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signatureOf, verifySigV4 } from '../src/auth/sigv4.ts';

const REGION = 'local';
const SERVICE = 'ecs';

/** What verifySigV4 computed before it signed by itself: @smithy/signature-v4 re-signing the request. */
async function smithySignature(
  req: { method: string; path: string; query: Record<string, string | string[]>; body: string },
  headers: Record<string, string>,
  signedHeaders: string[],
  o: { accessKeyId: string; secret: string; signingDate: Date },
): Promise<{ signature: string; signedHeaders: string }> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secret },
    region: REGION,
    service: SERVICE,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
    uriEscapePath: true,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: req.method,
      protocol: 'http:',
      hostname: headers.host ?? '',
      path: req.path,
      query: req.query,
      headers,
      body: req.body,
    }),
    { signingDate: o.signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const authorization = String(signed.headers.authorization);
  return {
    signature: /Signature=([0-9a-f]{64})/.exec(authorization)?.[1] ?? '',
    signedHeaders: /SignedHeaders=([^,]+)/.exec(authorization)?.[1] ?? '',
  };
}

const headerName = fc.constantFrom(
  'host',
  'content-type',
  'x-amz-target',
  'x-amz-date',
  'x-amz-content-sha256',
  'x-amz-user-agent',
  'user-agent',
  'date',
  'authorization',
  'content-length',
  'proxy-thing',
  'sec-fetch-mode',
  'x-custom.name_1',
);
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const headerValue = fc.oneof(
  text,
  fc.constantFrom(' padded  value ', 'a\tb', 'multi\r\nline', '', 'UNSIGNED-PAYLOAD', 'x,  y'),
);
const pathSegment = fc.oneof(text, fc.constantFrom('.', '..', '', 'a b', "it's", '(x)*!', '%2F', 'ä'));
const queryValue = fc.oneof(text, fc.array(text, { minLength: 0, maxLength: 3 }));
const signingDate = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000));

describe('SigV4 signatures', () => {
  it('are the ones @smithy/signature-v4 computes, for any request', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom('POST', 'GET', 'PUT'),
          path: fc.oneof(
            fc.constant('/'),
            fc.array(pathSegment, { maxLength: 4 }).map((s) => `/${s.join('/')}`),
            fc.array(pathSegment, { maxLength: 3 }).map((s) => s.join('/')),
          ),
          query: fc.dictionary(fc.oneof(text, fc.constantFrom('X-Amz-Signature', 'a b', '*')), queryValue, {
            maxKeys: 4,
          }),
          body: fc.oneof(fc.constant(''), fc.constant('{}'), fc.json(), text),
          headers: fc.dictionary(headerName, headerValue, { minKeys: 1, maxKeys: 8 }),
          secret: fc.oneof(
            fc.string({ minLength: 1, maxLength: 40 }),
            fc.constant('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'),
          ),
          signingDate,
          order: fc.boolean(),
        }),
        async (c) => {
          const headers = { host: 'localhost:4000', ...c.headers };
          const names = Object.keys(headers);
          const signedHeaders = c.order ? names.sort() : names;
          const o = { accessKeyId: 'BKIATESTTESTTESTTEST', secret: c.secret, signingDate: c.signingDate };
          const req = { method: c.method, path: c.path, query: c.query, body: c.body };
          expect(
            signatureOf(req, headers, signedHeaders, { ...o, region: REGION, service: SERVICE }),
          ).toEqual(await smithySignature(req, { ...headers }, signedHeaders, o));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('verify a request the AWS SDK signer signed, and refuse it once a signed part changes', async () => {
    const key = { accessKeyId: 'BKIATESTTESTTESTTEST', secretAccessKey: 'secret/+key' };
    const now = new Date();
    const signer = new SignatureV4({
      credentials: key,
      region: REGION,
      service: SERVICE,
      sha256: Hash.bind(null, 'sha256'),
    });
    const body = '{"cluster":"default","tasks":["a"]}';
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: '/',
        headers: {
          host: '127.0.0.1:4000',
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeTasks',
        },
        body,
      }),
      { signingDate: now },
    );
    const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const verify = (change: { headers?: Record<string, string>; body?: string; secret?: string }) =>
      verifySigV4(
        {
          method: 'POST',
          path: '/',
          query: {},
          headers: { ...headers, ...change.headers },
          body: change.body ?? body,
        },
        {
          region: REGION,
          service: SERVICE,
          now,
          maxSkewMs: 300_000,
          secretFor: async (id) =>
            id === key.accessKeyId ? (change.secret ?? key.secretAccessKey) : undefined,
        },
      );
    await expect(verify({})).resolves.toBe(key.accessKeyId);
    // Twice: the second time with the derived key kept from the first.
    await expect(verify({})).resolves.toBe(key.accessKeyId);
    await expect(verify({ body: '{"cluster":"default","tasks":["b"]}' })).rejects.toMatchObject({
      code: 'InvalidSignatureException',
    });
    await expect(
      verify({ headers: { 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.StopTask' } }),
    ).rejects.toMatchObject({ code: 'InvalidSignatureException' });
    await expect(verify({ secret: 'another' })).rejects.toMatchObject({ code: 'InvalidSignatureException' });
    await expect(verify({})).resolves.toBe(key.accessKeyId);
  });
});
