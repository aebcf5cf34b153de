import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type ArnScope,
  AuthenticationError,
  arns,
  ClientError,
  ClusterNotFoundError,
  HeartbeatRequest,
  RegisterInstanceRequest,
  type RegisterInstanceResponse,
} from '@bosun/model';
import { and, eq, isNull } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from './db/client.ts';
import { clusters, containerInstances, joinTokens } from './db/schema/index.ts';
import type { ControlPlaneSettings } from './ecs/action.ts';
import { hashSecret } from './ecs/container-instances.ts';
import { assertStorableStrings, parseActionInput } from './ecs/input.ts';

export interface AgentApiDeps {
  db: Db;
  scope: ArnScope;
  settings: ControlPlaneSettings;
  clock: () => Date;
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

/**
 * The agent's side door. Agents authenticate with the bearer credential they got at registration,
 * `<instanceId>.<secret>`; only its sha256 is stored, and it names exactly one instance.
 */
async function authenticateAgent(db: Db, req: FastifyRequest) {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer ([0-9a-f-]{36})\.([A-Za-z0-9_-]{20,100})$/.exec(header);
  if (!m)
    throw new AuthenticationError(
      'MissingAuthenticationTokenException',
      'Agent credential required (Bearer).',
    );
  const [, id, secret] = m as unknown as [string, string, string];
  const [row] = await db.select().from(containerInstances).where(eq(containerInstances.id, id));
  const expected = Buffer.from(row?.credentialHash ?? '', 'utf8');
  const actual = Buffer.from(hashSecret(secret), 'utf8');
  if (!row || expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new AuthenticationError('UnrecognizedClientException', 'The agent credential is not valid.');
  }
  if (row.status === 'INACTIVE') {
    throw new AuthenticationError('UnrecognizedClientException', 'This container instance was deregistered.');
  }
  return row;
}

export function registerAgentApi(app: FastifyInstance, deps: AgentApiDeps): void {
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
    const instance = await authenticateAgent(deps.db, req);
    const input = parseActionInput(HeartbeatRequest, parseBody(req.body));
    await deps.db
      .update(containerInstances)
      .set({
        lastHeartbeatAt: deps.clock(),
        ...(input.hostname ? { hostname: input.hostname } : {}),
        ...(input.versionInfo ? { versionInfo: input.versionInfo } : {}),
      })
      .where(eq(containerInstances.id, instance.id));
    return reply.send({
      status: instance.status,
      heartbeatIntervalSeconds: deps.settings.heartbeatIntervalMs / 1000,
    });
  });
}
