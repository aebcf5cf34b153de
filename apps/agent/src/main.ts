import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { type Logger, pino } from 'pino';
import { Agent } from './agent.ts';
import {
  Backoff,
  type BackoffPolicy,
  DOCKER_BACKOFF,
  HEARTBEAT_BACKOFF,
  REGISTER_BACKOFF,
} from './backoff.ts';
import { loadAgentConfig } from './config.ts';
import { ControlPlaneClient, ControlPlaneError, heartbeatWaitMs } from './control-plane-client.ts';
import { createDockerController } from './docker/controller.ts';
import { describeHealth } from './health.ts';
import { HealthReporter } from './health-report.ts';
import { type DockerInfo, describeHost } from './host.ts';
import { certificateRenewalDueAt, newKeyPair, pinCa, pinnedFingerprint, TrustError } from './identity.ts';
import { type AgentState, StateStore } from './state-store.ts';
import { TaskStore } from './task-store.ts';

/**
 * Start-up: make sure this host is registered, start the task reconcile loop (agent.ts), then
 * heartbeat (skipped while accepted reports keep coming: each is a heartbeat too). Losing the control
 * plane never stops the agent or its tasks; it keeps trying with a capped back-off. SIGTERM stops the
 * agent only: containers keep running and are adopted next start.
 */
async function main() {
  const config = loadAgentConfig();
  const log = pino({ level: config.logLevel, base: { component: 'agent' } });
  const docker = new Docker(); // honours DOCKER_HOST, else the local socket
  const store = new StateStore(config.stateDir);
  const client = new ControlPlaneClient(config.controlPlaneUrl);

  const info = await waitForDocker(docker, log);
  const host = describeHost(info, config);

  let state = await store.load();
  if (!state) {
    if (!config.joinToken) {
      throw new Error(
        `No agent state in ${config.stateDir} and no BOSUN_JOIN_TOKEN: create one on the control plane with ` +
          '`scripts/bosun join-token --cluster NAME` and start the agent with BOSUN_JOIN_TOKEN set.',
      );
    }
    const joinToken = config.joinToken;
    const https = config.controlPlaneUrl.startsWith('https:');
    // Pinned before anything secret (the join token) is sent: the CA must be the token's.
    const fingerprint = pinnedFingerprint(joinToken);
    let caCertificate: string | undefined;
    if (https) {
      caCertificate = await untilDone(log, "read the control plane's CA", REGISTER_BACKOFF, async () =>
        pinCa(await client.fetchCa(), fingerprint, config.controlPlaneUrl),
      );
      client.setTls({ ca: caCertificate });
      log.info({ caFingerprint: fingerprint }, "pinned the control plane's CA");
    } else {
      log.warn(
        { url: config.controlPlaneUrl },
        'plain HTTP to the control plane: no TLS, no client certificate',
      );
    }
    const keys = https ? newKeyPair() : undefined;
    const reg = await untilDone(log, 'register with the control plane', REGISTER_BACKOFF, () =>
      client.register({ ...host, joinToken, ...(keys ? { publicKey: keys.publicKey } : {}) }),
    );
    if (https && !reg.certificate) throw new TrustError('the control plane issued no client certificate');
    state = {
      containerInstanceArn: reg.containerInstanceArn,
      containerInstanceId: reg.containerInstanceId,
      credential: reg.credential,
      controlPlaneUrl: config.controlPlaneUrl,
      ...(caCertificate && keys && reg.certificate
        ? { caCertificate, certificate: reg.certificate, privateKey: keys.privateKey }
        : {}),
    };
    await store.save(state);
    log.info({ containerInstanceArn: reg.containerInstanceArn }, 'registered container instance');
  } else {
    log.info(
      { containerInstanceArn: state.containerInstanceArn },
      'resuming as registered container instance',
    );
  }
  client.setCredential(state.credential);
  useIdentity(client, state, config.controlPlaneUrl);
  const registered = state.containerInstanceArn;

  const agent = new Agent(
    createDockerController(docker, {
      networkImage: config.networkImage,
      pullInactivityTimeoutMs: config.imagePullTimeoutSeconds * 1000,
    }),
    client,
    new TaskStore(config.stateDir),
    log,
    {
      instanceId: state.containerInstanceId,
      hostIp: config.hostIp,
      imagePullBehavior: config.imagePullBehavior,
      defaultStopTimeoutSeconds: config.defaultStopTimeoutSeconds,
      cleanupDelayMs: config.cleanupDelayMs,
      relistIntervalMs: config.relistIntervalMs,
      longPollSeconds: config.longPollSeconds,
      crashAfterCreate: config.crashAfterCreate,
      scanDelayMs: config.scanDelayMs,
      stopTasksAfterDisconnectMs: config.stopTasksAfterDisconnectMs,
      hostPolicy: config.hostPolicy,
    },
  );
  await agent.start();

  const startedAt = Date.now();
  const beats = new Backoff(HEARTBEAT_BACKOFF);
  let intervalMs = 2000;
  const health = new HealthReporter(
    config.stateDir,
    config.healthPort,
    () => {
      const view = agent.healthView();
      return describeHealth({
        now: Date.now(),
        startedAt,
        containerInstanceArn: registered,
        controlPlaneUrl: config.controlPlaneUrl,
        lastContactAt: view.lastContactAt,
        heartbeatIntervalMs: intervalMs,
        failures: {
          heartbeat: beats.failures,
          desiredState: view.desiredStateFailures,
          reports: view.reports.failures,
        },
        docker: view.docker,
        taskStatuses: view.taskStatuses,
        reports: view.reports,
      });
    },
    log,
  );
  await health.start();

  let stopping = false;
  const stop = (signal: string) => {
    log.info({ signal }, 'agent stopping; running containers are left running');
    stopping = true;
    void agent
      .stop()
      .then(() => health.stop())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // The first heartbeat always goes: it carries this start's hostname and versionInfo.
  let beaten = false;
  while (!stopping) {
    // Here, not with the heartbeat: a busy agent's reports stand in for its heartbeats.
    state = await renewIfDue(client, store, state, log);
    const wait = heartbeatWaitMs(client.lastReportAt, performance.now(), intervalMs);
    if (beaten && beats.failures === 0 && wait > 0) {
      await sleep(wait);
      continue;
    }
    let delay: number;
    try {
      const beat = await client.heartbeat({ hostname: host.hostname, versionInfo: host.versionInfo });
      intervalMs = beat.heartbeatIntervalSeconds * 1000;
      beaten = true;
      agent.noteContact();
      if (beats.failures > 0) log.info('control plane reachable again');
      beats.reset();
      delay = intervalMs;
    } catch (e) {
      delay = beats.fail();
      const failures = beats.failures;
      if (e instanceof ControlPlaneError && !e.retryable) {
        log.error({ err: e.message, retryInMs: delay }, 'control plane refused this agent');
      } else if (failures === 1 || failures % 10 === 0) {
        log.warn(
          { err: (e as Error).message, failures, retryInMs: delay },
          'control plane unreachable; tasks keep running',
        );
      }
    }
    await sleep(delay);
  }
  // stop() exits once the reconcile loop has written its state.
}

/** Trust the pinned CA and present the client certificate; an https URL without them cannot go on. */
function useIdentity(client: ControlPlaneClient, state: AgentState, url: string): void {
  if (!url.startsWith('https:')) return;
  if (!state.caCertificate || !state.certificate || !state.privateKey) {
    throw new TrustError(
      `the agent state has no pinned CA or client certificate for ${url} (it joined a plain-HTTP control ` +
        'plane): remove the state directory and join again with a new BOSUN_JOIN_TOKEN.',
    );
  }
  client.setTls({ ca: state.caCertificate, key: state.privateKey, cert: state.certificate });
}

/**
 * Renews the client certificate at two thirds of its lifetime (identity.ts) with a new key pair; the
 * new pair is saved before it is used, so a crash leaves a state that still works. A failure is
 * retried at the next heartbeat: the old certificate serves until it expires.
 */
async function renewIfDue(
  client: ControlPlaneClient,
  store: StateStore,
  state: AgentState,
  log: Logger,
): Promise<AgentState> {
  if (!state.certificate || !state.caCertificate || Date.now() < certificateRenewalDueAt(state.certificate))
    return state;
  const keys = newKeyPair();
  try {
    const { certificate } = await client.renewCertificate(keys.publicKey);
    const renewed = { ...state, certificate, privateKey: keys.privateKey };
    await store.save(renewed);
    client.setTls({ ca: state.caCertificate, key: keys.privateKey, cert: certificate });
    log.info('client certificate renewed');
    return renewed;
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'could not renew the client certificate yet');
    return state;
  }
}

/** Docker may start after the agent (boot order, a restarting daemon): wait rather than exit. */
async function waitForDocker(docker: Docker, log: Logger): Promise<DockerInfo> {
  const backoff = new Backoff(DOCKER_BACKOFF);
  for (;;) {
    try {
      return (await docker.info()) as DockerInfo;
    } catch (e) {
      const delay = backoff.fail();
      if (backoff.failures === 1 || backoff.failures % 30 === 0) {
        log.warn({ err: (e as Error).message }, 'Docker is not reachable yet; waiting');
      }
      await sleep(delay);
    }
  }
}

/**
 * A call that must succeed before the agent can go on (registration): retried with a jittered back-off
 * while the control plane is away or failing; a refusal (a bad or used join token) ends the agent.
 */
async function untilDone<T>(
  log: Logger,
  what: string,
  policy: BackoffPolicy,
  call: () => Promise<T>,
): Promise<T> {
  const backoff = new Backoff(policy);
  for (;;) {
    try {
      return await call();
    } catch (e) {
      if ((e instanceof ControlPlaneError && !e.retryable) || e instanceof TrustError) throw e;
      const delay = backoff.fail();
      if (backoff.failures === 1 || backoff.failures % 10 === 0) {
        log.warn(
          { err: (e as Error).message, failures: backoff.failures, retryInMs: delay },
          `cannot ${what} yet; retrying`,
        );
      }
      await sleep(delay);
    }
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
