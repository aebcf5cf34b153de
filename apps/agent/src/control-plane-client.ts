import * as http from 'node:http';
import type {
  AgentReportRequest,
  CaCertificateResponse,
  DesiredStateResponse,
  HeartbeatRequest,
  RegisterInstanceRequest,
  RegisterInstanceResponse,
  RenewCertificateResponse,
} from '@bosun/model';

/** What the agent's TLS connections trust and present: the pinned CA, and its client certificate once it has one. */
export interface ClientTls {
  ca: string;
  key?: string;
  cert?: string;
}

/** An error from the control plane, with the ECS error code it sent. */
export class ControlPlaneError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
  /** 4xx other than throttling will not get better by retrying the same call. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429;
  }
}

/**
 * How long the heartbeat loop may still wait: a report the control plane accepted is a heartbeat too
 * (AGENT-PROTOCOL.md), so a busy agent sends none of its own and the control plane has a request less
 * per interval from every host that is starting or stopping tasks. 0 = send one now.
 */
export function heartbeatWaitMs(lastReportAt: number | undefined, now: number, intervalMs: number): number {
  return lastReportAt === undefined ? 0 : Math.min(intervalMs, Math.max(0, lastReportAt + intervalMs - now));
}

/** The agent's only line to the control plane: outbound HTTPS requests (HTTP only if the URL says so). */
export class ControlPlaneClient {
  /** Keep-alive connections, as fetch had: the long-poll, heartbeats and reports reuse them. */
  #agent: http.Agent | undefined;
  #tls: ClientTls | undefined;
  /** When (performance.now(): a wall-clock jump must not silence heartbeats) a report was last accepted. */
  lastReportAt: number | undefined;

  constructor(
    private readonly baseUrl: string,
    private credential?: string,
  ) {}

  setCredential(credential: string): void {
    this.credential = credential;
  }

  /**
   * From now on, trust only `tls.ca` and present `tls.key`/`tls.cert`. New connections only: requests
   * in flight finish on their own (the control plane accepts the previous certificate until it expires).
   */
  setTls(tls: ClientTls): void {
    this.#tls = tls;
    this.#agent = undefined;
  }

  /**
   * The CA the control plane's chain ends in, read before any CA is trusted: the caller pins it by the
   * join token's fingerprint (identity.ts), and nothing secret is sent on this connection.
   */
  async fetchCa(): Promise<string> {
    const answer = (await this.#request('GET', '/agent/v1/ca', undefined, {
      unverified: true,
    })) as Partial<CaCertificateResponse>;
    if (typeof answer.caCertificate !== 'string') throw new Error('GET /agent/v1/ca: no caCertificate');
    return answer.caCertificate;
  }

  /** A new client certificate for a new key pair's public key (SPKI DER, base64). */
  renewCertificate(publicKey: string): Promise<RenewCertificateResponse> {
    return this.#post('/agent/v1/certificate', { publicKey }) as Promise<RenewCertificateResponse>;
  }

  register(body: RegisterInstanceRequest): Promise<RegisterInstanceResponse> {
    return this.#post('/agent/v1/register', body) as Promise<RegisterInstanceResponse>;
  }

  heartbeat(body: HeartbeatRequest): Promise<{ status: string; heartbeatIntervalSeconds: number }> {
    return this.#post('/agent/v1/heartbeat', body) as Promise<{
      status: string;
      heartbeatIntervalSeconds: number;
    }>;
  }

  /**
   * Long-polls for what this instance should run: answers at once when the control plane's version
   * is past `after`, else when it changes or after about `waitSeconds`.
   */
  desired(after: number, waitSeconds: number, signal?: AbortSignal): Promise<DesiredStateResponse> {
    const timeout = AbortSignal.timeout((waitSeconds + 15) * 1000);
    return this.#request('GET', `/agent/v1/desired?after=${after}&wait=${waitSeconds}`, undefined, {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    }) as Promise<DesiredStateResponse>;
  }

  /** Sends the last state of some tasks; also counts as a heartbeat. */
  async report(body: AgentReportRequest): Promise<unknown> {
    const answer = await this.#post('/agent/v1/report', body);
    this.lastReportAt = performance.now();
    return answer;
  }

  #post(path: string, body: unknown): Promise<unknown> {
    return this.#request('POST', path, body);
  }

  /**
   * One JSON request over node:http(s), not fetch: the agent loads node:http anyway (dockerode), while
   * fetch would bring undici and its WebAssembly HTTP parser: ~6 MB of RSS for four kinds of request.
   */
  async #request(
    method: string,
    path: string,
    body: unknown,
    options: { signal?: AbortSignal; unverified?: boolean } = {},
  ): Promise<unknown> {
    const url = new URL(`${this.baseUrl}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const https = url.protocol === 'https:';
    const transport = https ? await import('node:https') : http;
    if (https && !this.#tls && !options.unverified) {
      throw new Error('no CA pinned yet: the agent talks to the control plane only once it pinned its CA');
    }
    const tls = this.#tls;
    if (!options.unverified && !this.#agent) {
      this.#agent = tls
        ? new (await import('node:https')).Agent({ keepAlive: true, ...tls })
        : new transport.Agent({ keepAlive: true });
    }
    // `unverified`: the one call before a CA is pinned, on a connection of its own.
    const agent = options.unverified ? new transport.Agent({ rejectUnauthorized: false }) : this.#agent;
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method,
          agent,
          headers: {
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
            ...(this.credential ? { authorization: `Bearer ${this.credential}` } : {}),
          },
          signal: options.signal ?? AbortSignal.timeout(30_000),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('close', () => {
            if (!response.complete) reject(new Error(`${method} ${path}: the response was cut off`));
            else resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(res.text) as Record<string, unknown>;
    } catch {
      // non-JSON errors are reported with their status below
    }
    if (res.status < 200 || res.status > 299) {
      throw new ControlPlaneError(
        res.status,
        String(json.__type ?? 'HttpError'),
        String(json.message ?? res.text.slice(0, 200)),
      );
    }
    return json;
  }
}
