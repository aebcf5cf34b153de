import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { REGION } from './harness.ts';

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * Sends an arbitrary body to the ECS endpoint, signed properly (or not), so tests can send what
 * the SDK would refuse to: malformed JSON, unknown actions, wrong types.
 */
export async function rawEcsCall(
  endpoint: string,
  opts: {
    target?: string;
    body: string;
    key?: { accessKeyId: string; secretAccessKey: string };
    signingDate?: Date;
    headers?: Record<string, string>;
  },
): Promise<RawResponse> {
  const url = new URL(endpoint);
  let headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    ...(opts.target ? { 'x-amz-target': opts.target } : {}),
    ...opts.headers,
  };
  if (opts.key) {
    const signer = new SignatureV4({ credentials: opts.key, region: REGION, service: 'ecs', sha256: Sha256 });
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers,
        body: opts.body,
      }),
      { signingDate: opts.signingDate ?? new Date() },
    );
    headers = signed.headers as Record<string, string>;
  }
  const { host: _host, ...sendable } = headers;
  const res = await fetch(`${endpoint}/`, { method: 'POST', headers: sendable, body: opts.body });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, headers: res.headers, body };
}

export const target = (action: string) => `AmazonEC2ContainerServiceV20141113.${action}`;
