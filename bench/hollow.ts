/**
 * Hollow nodes: many simulated hosts in one process, speaking the agent protocol without Docker
 * (packages/model/AGENT-PROTOCOL.md). Each registers with a join token, heartbeats every
 * heartbeatIntervalSeconds (spread evenly; skipped, as by the agent, when a report went in within
 * the interval), keeps a long-poll on /agent/v1/desired open, and reports RUNNING for every task it
 * is given. One keep-alive undici Pool per control-plane endpoint carries all of them, so the control
 * planes run with BOSUN_TLS=off (loopback): shared connections cannot present per-host client certificates.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { heartbeatWaitMs } from '../apps/agent/src/control-plane-client.ts';

interface DesiredTask {
  taskId: string;
  desiredStatus: string;
  taskDefinition: { containerDefinitions: { name: string }[] };
}

export interface FleetCounters {
  heartbeats: number;
  polls: number;
  reports: number;
  reportedRunning: number;
  errors: number;
  lastError?: string;
}

interface Host {
  id: string;
  credential: string;
  pool: Pool;
  version: number;
  reported: Set<string>;
  /** When (performance.now()) the control plane last accepted a report from this host. */
  reportedAt: number | undefined;
}

export class HollowFleet {
  readonly counters: FleetCounters = { heartbeats: 0, polls: 0, reports: 0, reportedRunning: 0, errors: 0 };
  /** Time (performance.now()) each task was reported RUNNING. */
  readonly runningAt = new Map<string, number>();
  private readonly hosts: Host[] = [];
  private readonly pools: Pool[];
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly abort = new AbortController();

  constructor(
    readonly endpoints: readonly string[],
    readonly o: { heartbeatMs: number; longPollSeconds: number; connectionsPerEndpoint: number },
  ) {
    // Every request of every host listens on this one signal.
    setMaxListeners(0, this.abort.signal);
    this.pools = endpoints.map(
      (e) => new Pool(e, { connections: o.connectionsPerEndpoint, pipelining: 1, keepAliveTimeout: 60_000 }),
    );
  }

  get size(): number {
    return this.hosts.length;
  }

  /** Registers `count` hosts (round-robin over the endpoints), `parallel` at a time. */
  async register(
    count: number,
    joinToken: () => Promise<string>,
    host: (i: number) => { cpu: number; memory: number; attributes: { name: string; value: string }[] },
    parallel = 16,
  ): Promise<void> {
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const pool = this.pools[i % this.pools.length] as Pool;
        const spec = host(i);
        const res = await pool.request({
          method: 'POST',
          path: '/agent/v1/register',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            joinToken: await joinToken(),
            hostname: `hollow-${i}`,
            cpu: spec.cpu,
            memory: spec.memory,
            reservedPorts: ['tcp:22'],
            attributes: spec.attributes,
            versionInfo: { agentVersion: '0.1.0', dockerVersion: 'hollow' },
          }),
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`register: ${res.statusCode} ${text}`);
        const body = JSON.parse(text) as { containerInstanceId: string; credential: string };
        this.hosts.push({
          id: body.containerInstanceId,
          credential: body.credential,
          pool,
          version: -1,
          reported: new Set(),
          reportedAt: undefined,
        });
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }

  /** Starts heartbeats (evenly spread over the interval) and the long-poll loops. */
  start(): void {
    for (const [i, host] of this.hosts.entries()) {
      const offset = (this.o.heartbeatMs * i) / this.hosts.length;
      this.loops.push(this.heartbeatLoop(host, offset), this.pollLoop(host));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled(this.loops);
    await Promise.allSettled(this.pools.map((p) => p.destroy()));
  }

  private headers(host: Host): Record<string, string> {
    return { authorization: `Bearer ${host.credential}`, 'content-type': 'application/json' };
  }

  private fail(e: unknown): void {
    if (this.stopped) return;
    this.counters.errors += 1;
    this.counters.lastError = e instanceof Error ? e.message : String(e);
  }

  private async heartbeatLoop(host: Host, offsetMs: number): Promise<void> {
    await sleep(offsetMs, undefined, { signal: this.abort.signal }).catch(() => {});
    const body = JSON.stringify({
      hostname: 'hollow',
      versionInfo: { agentVersion: '0.1.0', dockerVersion: 'hollow' },
    });
    let due = performance.now();
    while (!this.stopped) {
      // As the agent does (heartbeatWaitMs): an accepted report is a heartbeat, so none goes while
      // reports keep coming.
      const reportedLately = heartbeatWaitMs(host.reportedAt, performance.now(), this.o.heartbeatMs);
      if (reportedLately > 0) {
        due = performance.now() + reportedLately;
        await sleep(reportedLately, undefined, { signal: this.abort.signal }).catch(() => {});
        continue;
      }
      try {
        const res = await host.pool.request({
          method: 'POST',
          path: '/agent/v1/heartbeat',
          headers: this.headers(host),
          body,
          signal: this.abort.signal,
        });
        await res.body.dump();
        if (res.statusCode === 200) this.counters.heartbeats += 1;
        else this.fail(new Error(`heartbeat ${res.statusCode}`));
      } catch (e) {
        this.fail(e);
      }
      due += this.o.heartbeatMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => {});
      else due = performance.now();
    }
  }

  private async pollLoop(host: Host): Promise<void> {
    while (!this.stopped) {
      try {
        const res = await host.pool.request({
          method: 'GET',
          path: `/agent/v1/desired?after=${host.version}&wait=${this.o.longPollSeconds}`,
          headers: this.headers(host),
          signal: this.abort.signal,
          headersTimeout: (this.o.longPollSeconds + 15) * 1000,
          bodyTimeout: (this.o.longPollSeconds + 15) * 1000,
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`desired ${res.statusCode} ${text.slice(0, 200)}`);
        this.counters.polls += 1;
        const state = JSON.parse(text) as { version: number; tasks: DesiredTask[] };
        host.version = state.version;
        const fresh = state.tasks.filter(
          (t) => t.desiredStatus === 'RUNNING' && !host.reported.has(t.taskId),
        );
        if (fresh.length > 0) await this.report(host, fresh);
      } catch (e) {
        this.fail(e);
        if (!this.stopped) await sleep(200);
      }
    }
  }

  private async report(host: Host, fresh: DesiredTask[]): Promise<void> {
    const now = Date.now();
    const tasks = fresh.map((t) => ({
      taskId: t.taskId,
      lastStatus: 'RUNNING',
      startedAt: now,
      containers: t.taskDefinition.containerDefinitions.map((c) => ({
        name: c.name,
        lastStatus: 'RUNNING',
        runtimeId: `hollow-${t.taskId}-${c.name}`,
      })),
    }));
    const res = await host.pool.request({
      method: 'POST',
      path: '/agent/v1/report',
      headers: this.headers(host),
      body: JSON.stringify({ tasks }),
      signal: this.abort.signal,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`report ${res.statusCode} ${text.slice(0, 200)}`);
    this.counters.reports += 1;
    const at = performance.now();
    host.reportedAt = at;
    for (const t of fresh) {
      host.reported.add(t.taskId);
      this.runningAt.set(t.taskId, at);
      this.counters.reportedRunning += 1;
    }
  }
}
