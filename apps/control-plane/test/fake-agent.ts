import type {
  AgentReportResponse,
  DesiredStateResponse,
  InstanceAttribute,
  RegisterInstanceResponse,
  TaskStateReport,
} from '@bosun/model';
import { type AccessKey, agentDispatcher, newAgentKeyPair, rawEcsCall } from '@bosun/testkit';
import { type Dispatcher, fetch } from 'undici';

/**
 * Plays a bosun agent over HTTPS: registers through the real join-token flow with a public key,
 * then long-polls /agent/v1/desired and posts /agent/v1/report with the client certificate it got
 * (mTLS) and its bearer credential, exactly as apps/agent does.
 */
export class FakeAgent {
  readonly dispatcher: Dispatcher;

  constructor(
    readonly endpoint: string,
    readonly registration: RegisterInstanceResponse,
    /** Its private key (PEM); with registration.certificate, its mTLS identity. */
    readonly keyPem?: string,
    dispatcher?: Dispatcher,
  ) {
    this.dispatcher =
      dispatcher ??
      agentDispatcher(
        keyPem && registration.certificate ? { keyPem, certPem: registration.certificate } : undefined,
      );
  }

  get id(): string {
    return this.registration.containerInstanceId;
  }

  get arn(): string {
    return this.registration.containerInstanceArn;
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.registration.credential}`, 'content-type': 'application/json' };
  }

  async desired(after?: number, waitSeconds?: number): Promise<DesiredStateResponse> {
    const query = new URLSearchParams();
    if (after !== undefined) query.set('after', String(after));
    if (waitSeconds !== undefined) query.set('wait', String(waitSeconds));
    const res = await fetch(`${this.endpoint}/agent/v1/desired?${query}`, {
      headers: this.headers(),
      dispatcher: this.dispatcher,
    });
    if (res.status !== 200) throw new Error(`desired: ${res.status} ${await res.text()}`);
    return (await res.json()) as DesiredStateResponse;
  }

  /** Reports as given: `tasks` may carry what the protocol refuses (tests of refused reports). */
  async report(tasks: TaskStateReport[] | unknown[]): Promise<AgentReportResponse> {
    const res = await fetch(`${this.endpoint}/agent/v1/report`, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ tasks }),
      dispatcher: this.dispatcher,
    });
    if (res.status !== 200) throw new Error(`report: ${res.status} ${await res.text()}`);
    return (await res.json()) as AgentReportResponse;
  }

  async heartbeat(): Promise<{ status: string; heartbeatIntervalSeconds: number }> {
    const res = await fetch(`${this.endpoint}/agent/v1/heartbeat`, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({}),
      dispatcher: this.dispatcher,
    });
    if (res.status !== 200) throw new Error(`heartbeat: ${res.status} ${await res.text()}`);
    return (await res.json()) as { status: string; heartbeatIntervalSeconds: number };
  }
}

/** A control plane to join, in this process or another: its endpoint and admin key. */
export interface JoinableControlPlane {
  endpoint: string;
  key: AccessKey;
}

export async function joinToken(cp: JoinableControlPlane, cluster?: string): Promise<string> {
  const res = await rawEcsCall(cp.endpoint, {
    target: 'BosunV1.CreateJoinToken',
    body: JSON.stringify(cluster ? { cluster } : {}),
    key: cp.key,
  });
  if (res.status !== 200) throw new Error(`CreateJoinToken: ${JSON.stringify(res.body)}`);
  return res.body.joinToken as string;
}

export async function registerAgent(
  cp: JoinableControlPlane,
  host: {
    cluster?: string;
    hostname?: string;
    cpu?: number;
    memory?: number;
    reservedPorts?: string[];
    attributes?: InstanceAttribute[];
  },
): Promise<FakeAgent> {
  const keys = newAgentKeyPair();
  const res = await fetch(`${cp.endpoint}/agent/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    dispatcher: agentDispatcher(),
    body: JSON.stringify({
      publicKey: keys.publicKey,
      joinToken: await joinToken(cp, host.cluster),
      hostname: host.hostname ?? 'host',
      cpu: host.cpu ?? 2048,
      memory: host.memory ?? 2048,
      reservedPorts: host.reservedPorts ?? ['tcp:22'],
      attributes: host.attributes ?? [],
      versionInfo: { agentVersion: '0.1.0', dockerVersion: '27.0.0' },
    }),
  });
  if (res.status !== 200) throw new Error(`register: ${res.status} ${await res.text()}`);
  return new FakeAgent(cp.endpoint, (await res.json()) as RegisterInstanceResponse, keys.keyPem);
}
