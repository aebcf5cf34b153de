import type {
  AgentReportRequest,
  DesiredStateResponse,
  HeartbeatRequest,
  RegisterInstanceRequest,
  RegisterInstanceResponse,
} from '@bosun/model';

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

/** The agent's only line to the control plane: outbound HTTP requests. */
export class ControlPlaneClient {
  constructor(
    private readonly baseUrl: string,
    private credential?: string,
  ) {}

  setCredential(credential: string): void {
    this.credential = credential;
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
  report(body: AgentReportRequest): Promise<unknown> {
    return this.#post('/agent/v1/report', body);
  }

  #post(path: string, body: unknown): Promise<unknown> {
    return this.#request('POST', path, body);
  }

  async #request(
    method: string,
    path: string,
    body: unknown,
    options: { signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.credential ? { authorization: `Bearer ${this.credential}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: options.signal ?? AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // non-JSON errors are reported with their status below
    }
    if (!res.ok) {
      throw new ControlPlaneError(
        res.status,
        String(json.__type ?? 'HttpError'),
        String(json.message ?? text.slice(0, 200)),
      );
    }
    return json;
  }
}
