import { randomBytes } from 'node:crypto';
import {
  AgentReportEnvelope,
  type AgentReportResponse,
  type ArnScope,
  arns,
  type CaCertificateResponse,
  ClientError,
  HeartbeatRequest,
  type RefusedReport,
  RegisterInstanceRequest,
  type RegisterInstanceResponse,
  RenewCertificateRequest,
  type RenewCertificateResponse,
  TaskStateReport,
} from '@bosun/model';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SecretBox } from '../auth/secret-box.ts';
import type { ControlPlaneSettings } from '../context/settings.ts';
import type { Db } from '../db/client.ts';
import { hashSecret } from '../ecs/container-instances.ts';
import { assertStorableStrings, parseActionInput } from '../ecs/input.ts';
import { evaluateClusterServices } from '../repositories/services.ts';
import { readTasksById } from '../repositories/tasks.ts';
import { nudge, type Queues } from '../workers/queues.ts';
import { type AgentTls, certifyInstance, checkJoinTokenShape, publicKeyToCertify } from './certificates.ts';
import { desiredState } from './desired-state.ts';
import { authenticateAgent, claimOf, recordContact, recordReportContact } from './identity.ts';
import { answerStillStands, type LastAnswer } from './long-poll.ts';
import { registerInstance } from './registration.ts';
import { applyTaskReports, concernsService } from './task-writes.ts';
import { channels, type Notifier } from './wake-ups.ts';

export interface AgentApiDeps {
  db: Db;
  scope: ArnScope;
  settings: ControlPlaneSettings;
  clock: () => Date;
  notifier: Notifier;
  /** Task reports and new hosts queue service evaluations. */
  queues: Queues;
  secretBox: SecretBox;
  tls: AgentTls;
}

const DesiredQuery = z.object({
  /** The version the agent already has; absent = answer at once. */
  after: z.coerce.number().int().min(-1).optional(),
  /** Seconds to wait at most: shorter than the server's long-poll period if the agent wants, never longer. */
  wait: z.coerce.number().min(0).max(3600).optional(),
  /** Same as `wait`. */
  waitSeconds: z.coerce.number().min(0).max(3600).optional(),
});

function parseBody(raw: unknown): unknown {
  const text = typeof raw === 'string' ? raw : '';
  try {
    const body: unknown = text.trim() === '' ? {} : JSON.parse(text);
    assertStorableStrings(body);
    return body;
  } catch (e) {
    if (e instanceof SyntaxError) throw new ClientError(`The request body is not valid JSON: ${e.message}`);
    throw e;
  }
}

/**
 * Each report on its own: one that fails validation (a field past REPORT_LIMITS, a timestamp past
 * year 9999) is refused and named in the answer, and the others are applied.
 */
export function validateReports(reports: readonly unknown[]): {
  valid: TaskStateReport[];
  refused: RefusedReport[];
} {
  const valid: TaskStateReport[] = [];
  const refused: RefusedReport[] = [];
  reports.forEach((raw, index) => {
    const parsed = TaskStateReport.safeParse(raw);
    if (parsed.success) {
      valid.push(parsed.data);
      return;
    }
    const taskId = (raw as { taskId?: unknown } | null)?.taskId;
    const reason = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.')}: ${i.message}`)
      .join('; ');
    refused.push({ index, ...(typeof taskId === 'string' && taskId.length <= 64 ? { taskId } : {}), reason });
  });
  return { valid, refused };
}

export function registerAgentApi(app: FastifyInstance, deps: AgentApiDeps): void {
  // Long-polls in flight, answered at once when the server closes so shutdown does not wait for them.
  const polls = new Set<AbortController>();
  /**
   * The last answer this process gave each agent (long-poll.ts): an agent's next long-poll, right
   * after it, may wait without reading Postgres — a statement less per task placed. One entry per
   * agent this process has answered.
   */
  const answered = new Map<string, LastAnswer>();
  /**
   * When this process last recorded a long-poll as an agent's contact (performance.now()). A poll
   * counts as contact — an agent waiting on us is alive even if its heartbeats are held up — but is
   * written at most once a heartbeat interval, and not awaited: the poll's answer never waits on it.
   */
  const pollContactAt = new Map<string, number>();
  const notePollContact = (claim: ReturnType<typeof claimOf>, log: FastifyBaseLogger) => {
    const last = pollContactAt.get(claim.instanceId);
    const at = performance.now();
    if (last !== undefined && at - last < deps.settings.heartbeatIntervalMs) return;
    recordReportContact(deps.db, claim).then(
      () => pollContactAt.set(claim.instanceId, at),
      // A refused claim is answered by the poll itself; an outage by the agent's retries.
      (err: unknown) => log.debug({ err, instanceId: claim.instanceId }, 'long-poll contact not recorded'),
    );
  };
  app.addHook('preClose', async () => {
    for (const poll of polls) poll.abort();
  });

  // Unauthenticated: a joining agent fetches the CA and pins it by the join token's fingerprint
  // before it sends anything secret; every call after this one verifies the server against it.
  app.get('/agent/v1/ca', async (_req, reply) => {
    const body: CaCertificateResponse = { caCertificate: deps.tls.material.serverCaPem };
    return reply.send(body);
  });

  app.post('/agent/v1/register', async (req, reply) => {
    const input = parseActionInput(RegisterInstanceRequest, parseBody(req.body));
    checkJoinTokenShape(input.joinToken);
    const publicKey = publicKeyToCertify(deps.tls, input.publicKey);
    const now = deps.clock();
    const credentialSecret = randomBytes(32).toString('base64url');
    const result = await registerInstance(deps.db, input, hashSecret(credentialSecret), now, {
      reservedAttributes: deps.settings.reservedAttributes ?? [],
    });
    const certificate =
      publicKey && (await certifyInstance(deps.db, deps.tls, result.row.id, publicKey, now));
    req.log.info(
      { instanceId: result.row.id, cluster: result.clusterName, joinTokenId: result.joinTokenId },
      'container instance registered',
    );
    // A new host: DAEMON services start a task there, and services short of capacity may place now.
    await nudge(req.log, "evaluations of the new host's cluster", () =>
      evaluateClusterServices(deps.db, deps.queues, result.row.clusterId, 'instances-changed'),
    );
    const body: RegisterInstanceResponse = {
      containerInstanceArn: arns.containerInstance(deps.scope, result.clusterName, result.row.id),
      containerInstanceId: result.row.id,
      clusterArn: arns.cluster(deps.scope, result.clusterName),
      credential: `${result.row.id}.${credentialSecret}`,
      heartbeatIntervalSeconds: deps.settings.heartbeatIntervalMs / 1000,
      ...(certificate ? { certificate } : {}),
    };
    return reply.send(body);
  });

  /** A new client certificate for a new key, before the current one expires (the agent's renewal). */
  app.post('/agent/v1/certificate', async (req, reply) => {
    const claim = claimOf(req);
    const input = parseActionInput(RenewCertificateRequest, parseBody(req.body));
    const publicKey = publicKeyToCertify(deps.tls, input.publicKey);
    if (!publicKey)
      throw new ClientError('This control plane serves plain HTTP (BOSUN_TLS=off): no certificates.');
    await authenticateAgent(deps.db, claim);
    const certificate = await certifyInstance(deps.db, deps.tls, claim.instanceId, publicKey, deps.clock());
    req.log.info({ instanceId: claim.instanceId }, 'client certificate renewed');
    const body: RenewCertificateResponse = { certificate };
    return reply.send(body);
  });

  app.post('/agent/v1/heartbeat', async (req, reply) => {
    const claim = claimOf(req);
    const input = parseActionInput(HeartbeatRequest, parseBody(req.body));
    const beat = await recordContact(deps.db, claim, {
      ...(input.hostname ? { hostname: input.hostname } : {}),
      ...(input.versionInfo ? { versionInfo: input.versionInfo } : {}),
    });
    return reply.send({
      status: beat.status,
      heartbeatIntervalSeconds: deps.settings.heartbeatIntervalMs / 1000,
    });
  });

  /**
   * Long-poll for the instance's desired state. Answers at once when the stored version is past
   * `after` (or `after` is absent), else waits for a wake-up on `bosun:instance:<id>` — published by
   * whichever control-plane process changed the instance's tasks — or for the long-poll period, and
   * then answers with the current state either way.
   */
  app.get('/agent/v1/desired', async (req, reply) => {
    const claim = claimOf(req);
    const query = parseActionInput(DesiredQuery, req.query);
    notePollContact(claim, req.log);
    const waitMs = Math.min(
      deps.settings.longPollMs,
      (query.wait ?? query.waitSeconds ?? Number.POSITIVE_INFINITY) * 1000,
    );
    const gone = new AbortController();
    // The response's close fires when the agent hangs up before we answer.
    reply.raw.on('close', () => gone.abort());
    polls.add(gone);
    try {
      // Listening before the one read that both authenticates and tells the version, so a change
      // committed after that read still wakes this poll; the tasks are read only to answer.
      const channel = channels.instance(claim.instanceId);
      let checkedAt = Date.now();
      await deps.notifier.waitFor(channel, waitMs, gone.signal, async () => {
        const last = answered.get(claim.instanceId);
        const poll = {
          after: query.after,
          secretHash: claim.secretHash,
          certificateFingerprint: claim.certificateFingerprint,
          mark: deps.notifier.mark(channel),
        };
        if (answerStillStands(last, poll, Date.now())) {
          checkedAt = last.checkedAt;
          return false;
        }
        const instance = await authenticateAgent(deps.db, claim);
        checkedAt = Date.now();
        return query.after === undefined || instance.desiredVersion > query.after;
      });
      const mark = deps.notifier.mark(channel);
      const state = await desiredState(deps.db, deps.scope, deps.secretBox, claim.instanceId);
      answered.set(claim.instanceId, {
        version: state.version,
        secretHash: claim.secretHash,
        certificateFingerprint: claim.certificateFingerprint,
        mark,
        checkedAt,
      });
      return reply.send(state);
    } finally {
      polls.delete(gone);
    }
  });

  /**
   * The agent's view of its tasks; also a heartbeat. At-least-once: each task report is merged by
   * mergeTaskReport (never backwards, never blanking). Reports about tasks that are not on the calling
   * instance are ignored and listed back in `unknownTaskIds`.
   */
  app.post('/agent/v1/report', async (req, reply) => {
    const claim = claimOf(req);
    const envelope = parseActionInput(AgentReportEnvelope, parseBody(req.body));
    const now = deps.clock();
    const { valid, refused } = validateReports(envelope.tasks);
    if (refused.length > 0) req.log.warn({ instanceId: claim.instanceId, refused }, 'task reports refused');
    // One task's reports in the order given.
    const reportsByTask = new Map<string, TaskStateReport[]>();
    for (const report of valid) {
      const list = reportsByTask.get(report.taskId);
      if (list === undefined) reportsByTask.set(report.taskId, [report]);
      else list.push(report);
    }
    const ids = [...reportsByTask.keys()];
    // The contact and the task rows side by side, each a statement grouped with other agents' (see
    // statements.ts); rows read for a credential that turns out refused are dropped unseen.
    const [beat, rows] = await Promise.all([
      recordReportContact(deps.db, claim),
      readTasksById(deps.db, ids),
    ]);
    const mine = rows.filter((r) => r.containerInstanceId === claim.instanceId);
    const found = new Set(mine.map((r) => r.id));
    const unknown = ids.filter((id) => !found.has(id));
    // Tasks side by side, so their writes share a statement.
    const writes = (
      await Promise.all(
        mine.map((row) => applyTaskReports(deps.db, row, reportsByTask.get(row.id) ?? [], now)),
      )
    ).flat();
    const services = new Set(writes.flatMap((w) => (concernsService(w) ? [w.from.serviceId] : [])));
    // No child logger per report: making one cost more than the report's own merge.
    for (const { from, to } of writes) {
      if (from.lastStatus !== to.lastStatus) {
        req.log.info(
          { instanceId: claim.instanceId, taskId: to.id },
          `task ${from.lastStatus}->${to.lastStatus}`,
        );
      }
    }
    // After the commit, so the evaluation reads the report.
    for (const serviceId of services) {
      await nudge(req.log, 'a service evaluation', () =>
        deps.queues.evaluateService(serviceId, 'task-changed'),
      );
    }
    const answer: AgentReportResponse = {
      version: beat.desiredVersion,
      status: beat.status,
      heartbeatIntervalSeconds: deps.settings.heartbeatIntervalMs / 1000,
      unknownTaskIds: unknown,
      refused,
    };
    return reply.send(answer);
  });
}
