import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  AgentReportRequest,
  type ArnScope,
  AuthenticationError,
  arns,
  ClientError,
  ClusterNotFoundError,
  type DesiredStateResponse,
  type DesiredTask,
  HeartbeatRequest,
  RegisterInstanceRequest,
  type RegisterInstanceResponse,
  ServerError,
  type TaskStateReport,
} from '@bosun/model';
import { and, eq, isNull, ne, type SQL, sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SecretBox } from '../auth/secret-box.ts';
import type { Db, Tx } from '../db/client.ts';
import { preparedPer } from '../db/prepared.ts';
import { clusters, containerInstances, joinTokens, tasks } from '../db/schema/index.ts';
import type { ControlPlaneSettings } from '../ecs/action.ts';
import { hashSecret, UUID_RE } from '../ecs/container-instances.ts';
import { assertStorableStrings, parseActionInput } from '../ecs/input.ts';
import type { ContainerInstanceRow } from '../repositories/container-instances.ts';
import { resolveRegistryAuth } from '../repositories/secrets.ts';
import { evaluateClusterServices } from '../repositories/services.ts';
import { loadSpecs, revisionKey } from '../repositories/task-definitions.ts';
import { readTasksById, type TaskRow } from '../repositories/tasks.ts';
import { applyOverrides } from '../scheduling/inputs.ts';
import type { Queues } from '../workers/queues.ts';
import { answerStillStands, type LastAnswer } from './long-poll.ts';
import { mergeTaskReport } from './reports.ts';
import {
  type ContactAnswer,
  desiredRows,
  recordContact as recordGroupedContact,
  writeTaskPatch,
} from './statements.ts';
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
}

const DesiredQuery = z.object({
  /** The version the agent already has; absent = answer at once. */
  after: z.coerce.number().int().min(-1).optional(),
  /** Seconds to wait at most: shorter than the server's long-poll period if the agent wants, never longer. */
  wait: z.coerce.number().min(0).max(3600).optional(),
  /** Same as `wait`. */
  waitSeconds: z.coerce.number().min(0).max(3600).optional(),
});

/**
 * What an instance should run: every task placed on it that it has not yet reported STOPPED, with the
 * task definition as the task runs it (containerOverrides applied). The version is read first, so the
 * tasks are never older than the version the agent is told.
 */
async function desiredState(
  db: Db,
  scope: ArnScope,
  box: SecretBox,
  instanceId: string,
): Promise<DesiredStateResponse> {
  const rows = await desiredRows(db, instanceId);
  const specs = await loadSpecs(
    db,
    rows.flatMap((r) => (r.task === null ? [] : [r.task])),
  );
  const placed = rows.flatMap((r) => {
    const spec = r.task === null ? undefined : specs.get(revisionKey(r.task));
    return r.task === null || spec === undefined ? [] : [{ ...r.task, spec, clusterName: r.clusterName }];
  });
  // Registry credentials are resolved per spec: the agent gets them only for tasks placed on it.
  const auths = await Promise.all(placed.map((t) => resolveRegistryAuth(db, box, t.spec)));
  return {
    version: rows[0]?.version ?? 0,
    tasks: placed.map(
      (task, i): DesiredTask => ({
        taskArn: arns.task(scope, task.clusterName, task.id),
        taskId: task.id,
        clusterArn: arns.cluster(scope, task.clusterName),
        taskDefinitionArn: arns.taskDefinition(scope, task.family, task.revision),
        desiredStatus: task.desiredStatus,
        taskDefinition: applyOverrides(task.spec, task.overrides.containerOverrides),
        group: task.group,
        ...(auths[i] ? { registryAuth: auths[i] } : {}),
        ...(task.startedBy === null ? {} : { startedBy: task.startedBy }),
        ...(task.desiredStatus === 'STOPPED' && task.stopCode !== null ? { stopCode: task.stopCode } : {}),
        ...(task.desiredStatus === 'STOPPED' && task.stoppedReason !== null
          ? { stoppedReason: task.stoppedReason }
          : {}),
      }),
    ),
  };
}

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

/** The bearer credential an agent got at registration, `<instanceId>.<secret>`, as the request claims it. */
interface AgentClaim {
  instanceId: string;
  secretHash: string;
}

/**
 * The agent's side door. Agents authenticate with the bearer credential they got at registration;
 * only its sha256 is stored, and it names exactly one instance. Parsing it needs no database, so a
 * long-poll can listen on the instance's channel before it reads anything.
 */
function claimOf(req: FastifyRequest): AgentClaim {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer ([0-9a-f-]{36})\.([A-Za-z0-9_-]{20,100})$/.exec(header);
  // A well-formed uuid: it goes into statements shared with other agents' requests, where one that
  // Postgres refuses would fail them all.
  if (!m || !UUID_RE.test(m[1] ?? ''))
    throw new AuthenticationError(
      'MissingAuthenticationTokenException',
      'Agent credential required (Bearer).',
    );
  const [, instanceId, secret] = m as unknown as [string, string, string];
  return { instanceId, secretHash: hashSecret(secret) };
}

/** What authenticating an agent reads of its instance; the long-poll also needs the version. */
type InstanceClaimRow = Pick<ContainerInstanceRow, 'credentialHash' | 'status' | 'desiredVersion'>;

function checkClaim(row: InstanceClaimRow | undefined, claim: AgentClaim): InstanceClaimRow {
  const expected = Buffer.from(row?.credentialHash ?? '', 'utf8');
  const actual = Buffer.from(claim.secretHash, 'utf8');
  if (!row || expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new AuthenticationError('UnrecognizedClientException', 'The agent credential is not valid.');
  }
  if (row.status === 'INACTIVE') {
    throw new AuthenticationError('UnrecognizedClientException', 'This container instance was deregistered.');
  }
  return row;
}

/** Every long-poll runs it; three columns, where the whole row carried attributes and versionInfo to parse. */
const instanceByIdQuery = preparedPer((db) =>
  db
    .select({
      credentialHash: containerInstances.credentialHash,
      status: containerInstances.status,
      desiredVersion: containerInstances.desiredVersion,
    })
    .from(containerInstances)
    .where(eq(containerInstances.id, sql.placeholder('id')))
    .prepare('agent_instance'),
);

async function authenticateAgent(db: Db, claim: AgentClaim): Promise<InstanceClaimRow> {
  const [row] = await instanceByIdQuery(db).execute({ id: claim.instanceId });
  return checkClaim(row, claim);
}

/**
 * A contact: authenticates and records it in one statement, since there are hundreds of hosts doing it
 * every few seconds. The credential is compared in SQL: what an attacker controls is the secret, and
 * timing reveals at most how much of its sha256 matches, which does not help find a secret. `changes`
 * are further columns to set (a heartbeat's hostname and versionInfo).
 */
function contactUpdate(db: Tx, changes: Partial<Record<'hostname' | 'versionInfo', SQL>> = {}) {
  return db
    .update(containerInstances)
    .set({ lastHeartbeatAt: sql`${sql.placeholder('now')}::timestamptz`, ...changes })
    .where(
      and(
        eq(containerInstances.id, sql.placeholder('id')),
        eq(containerInstances.credentialHash, sql.placeholder('credentialHash')),
        ne(containerInstances.status, 'INACTIVE'),
      ),
    )
    .returning({
      instanceId: containerInstances.id,
      status: containerInstances.status,
      desiredVersion: containerInstances.desiredVersion,
    });
}

/**
 * A heartbeat's contact; hostname and versionInfo change only when given (null keeps the stored one),
 * so heartbeats with and without them share one prepared statement.
 */
const recordContactQuery = preparedPer((db) =>
  contactUpdate(db, {
    hostname: sql`coalesce(${sql.placeholder('hostname')}::text, ${containerInstances.hostname})`,
    versionInfo: sql`coalesce(${sql.placeholder('versionInfo')}::text::jsonb, ${containerInstances.versionInfo})`,
  }).prepare('agent_record_contact'),
);

const contactParams = (claim: AgentClaim, now: Date) => ({
  id: claim.instanceId,
  credentialHash: claim.secretHash,
  now: now.toISOString(),
});

/** A contact matched no row: reads the instance to say why (checkClaim throws), else refuses all the same. */
async function refuseContact(db: Db, claim: AgentClaim): Promise<never> {
  await authenticateAgent(db, claim);
  // Deregistered between the two reads, or the like.
  throw new AuthenticationError('UnrecognizedClientException', 'The agent credential is not valid.');
}

async function recordContact(
  db: Db,
  claim: AgentClaim,
  now: Date,
  changes: { hostname?: string; versionInfo?: ContainerInstanceRow['versionInfo'] } = {},
): Promise<{ status: ContainerInstanceRow['status']; desiredVersion: number }> {
  const [beat] = await recordContactQuery(db).execute({
    ...contactParams(claim, now),
    hostname: changes.hostname ?? null,
    versionInfo: changes.versionInfo ? JSON.stringify(changes.versionInfo) : null,
  });
  return beat ?? refuseContact(db, claim);
}

/** A report's contact: as a heartbeat's, in a statement grouped with other agents' (agent-statements.ts). */
async function recordReportContact(db: Db, claim: AgentClaim, now: Date): Promise<ContactAnswer> {
  const beat = await recordGroupedContact(db, {
    instanceId: claim.instanceId,
    secretHash: claim.secretHash,
    now,
  });
  return beat ?? refuseContact(db, claim);
}

/** A task written by others this many times while one report merges into it is not normal; the agent retries. */
const MAX_REPORT_RETRIES = 10;

/** One write of a report: the task before it and as written. */
interface TaskWrite {
  from: TaskRow;
  to: TaskRow;
}

/**
 * Merges a task's reports into it, in the order given, and writes each change. Grouped writes lock
 * their task rows (in id order, for their statement only); each is written only if its version is
 * still the one the merge was computed from (every writer of a task bumps it), else the row is read
 * again and the report merged onto it.
 */
async function applyTaskReports(
  db: Db,
  row: TaskRow,
  reports: readonly TaskStateReport[],
  now: Date,
): Promise<TaskWrite[]> {
  const writes: TaskWrite[] = [];
  let current: TaskRow | undefined = row;
  for (const report of reports) {
    for (let attempt = 0; current !== undefined; attempt++) {
      const patch = mergeTaskReport(current, report, now);
      if (patch === undefined) break;
      const written = await writeTaskPatch(db, { row: current, patch, now });
      if (written !== undefined) {
        writes.push({ from: current, to: written });
        current = written;
        break;
      }
      if (attempt >= MAX_REPORT_RETRIES) throw new ServerError('The task kept changing; retry the report.');
      [current] = await db.select().from(tasks).where(eq(tasks.id, current.id));
    }
  }
  return writes;
}

/** What the services scheduler decides on: a service task's status or health. */
const concernsService = (w: TaskWrite): w is TaskWrite & { from: { serviceId: string } } =>
  w.from.serviceId !== null &&
  (w.from.lastStatus !== w.to.lastStatus || w.from.healthStatus !== w.to.healthStatus);

export function registerAgentApi(app: FastifyInstance, deps: AgentApiDeps): void {
  // Long-polls in flight, answered at once when the server closes so shutdown does not wait for them.
  const polls = new Set<AbortController>();
  /**
   * The last answer this process gave each agent (long-poll.ts): an agent's next long-poll, right
   * after it, may wait without reading Postgres — a statement less per task placed. One entry per
   * agent this process has answered.
   */
  const answered = new Map<string, LastAnswer>();
  app.addHook('preClose', async () => {
    for (const poll of polls) poll.abort();
  });

  app.post('/agent/v1/register', async (req, reply) => {
    const input = parseActionInput(RegisterInstanceRequest, parseBody(req.body));
    const now = deps.clock();
    const credentialSecret = randomBytes(32).toString('base64url');
    const result = await deps.db.transaction(async (tx) => {
      const [token] = await tx
        .select({ clusterId: joinTokens.clusterId, expiresAt: joinTokens.expiresAt })
        .from(joinTokens)
        .where(and(eq(joinTokens.tokenHash, hashSecret(input.joinToken)), isNull(joinTokens.revokedAt)));
      if (!token || (token.expiresAt && token.expiresAt < now)) {
        throw new AuthenticationError(
          'UnrecognizedClientException',
          'The join token is not valid or has expired.',
        );
      }
      const [cluster] = await tx.select().from(clusters).where(eq(clusters.id, token.clusterId)).for('share');
      if (cluster?.status !== 'ACTIVE') throw new ClusterNotFoundError();
      const [row] = await tx
        .insert(containerInstances)
        .values({
          clusterId: cluster.id,
          status: 'ACTIVE',
          hostname: input.hostname,
          registeredCpu: input.cpu,
          registeredMemory: input.memory,
          reservedPorts: [...new Set(input.reservedPorts)],
          attributes: input.attributes,
          versionInfo: input.versionInfo,
          credentialHash: '',
          lastHeartbeatAt: now,
          registeredAt: now,
        })
        .returning();
      if (!row) throw new Error('insert returned no row');
      await tx
        .update(containerInstances)
        .set({ credentialHash: hashSecret(credentialSecret) })
        .where(eq(containerInstances.id, row.id));
      return { row, clusterName: cluster.name };
    });
    req.log.info({ instanceId: result.row.id, cluster: result.clusterName }, 'container instance registered');
    // A new host: DAEMON services start a task there, and services short of capacity may place now.
    await evaluateClusterServices(deps.db, deps.queues, result.row.clusterId, 'instances-changed');
    const body: RegisterInstanceResponse = {
      containerInstanceArn: arns.containerInstance(deps.scope, result.clusterName, result.row.id),
      containerInstanceId: result.row.id,
      clusterArn: arns.cluster(deps.scope, result.clusterName),
      credential: `${result.row.id}.${credentialSecret}`,
      heartbeatIntervalSeconds: deps.settings.heartbeatIntervalMs / 1000,
    };
    return reply.send(body);
  });

  app.post('/agent/v1/heartbeat', async (req, reply) => {
    const claim = claimOf(req);
    const input = parseActionInput(HeartbeatRequest, parseBody(req.body));
    const beat = await recordContact(deps.db, claim, deps.clock(), {
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
        const poll = { after: query.after, secretHash: claim.secretHash, mark: deps.notifier.mark(channel) };
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
    const input = parseActionInput(AgentReportRequest, parseBody(req.body));
    const now = deps.clock();
    // One task's reports in the order given.
    const reportsByTask = new Map<string, TaskStateReport[]>();
    for (const report of input.tasks) {
      const list = reportsByTask.get(report.taskId);
      if (list === undefined) reportsByTask.set(report.taskId, [report]);
      else list.push(report);
    }
    const ids = [...reportsByTask.keys()];
    // The contact and the task rows side by side, each a statement grouped with other agents' (see
    // agent-statements.ts); rows read for a credential that turns out refused are dropped unseen.
    const [beat, rows] = await Promise.all([
      recordReportContact(deps.db, claim, now),
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
    for (const serviceId of services) await deps.queues.evaluateService(serviceId, 'task-changed');
    return reply.send({
      version: beat.desiredVersion,
      status: beat.status,
      heartbeatIntervalSeconds: deps.settings.heartbeatIntervalMs / 1000,
      unknownTaskIds: unknown,
    });
  });
}
