import { randomUUID } from 'node:crypto';
import type { ArnScope } from '@bosun/model';
import { ClientError, UnknownOperationError } from '@bosun/model';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { registerAgentApi } from '../agent-protocol/routes.ts';
import type { AccessKeyStore } from '../auth/access-keys.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import type { DependencyHealth } from '../context/dependency-health.ts';
import { readiness } from '../context/readiness.ts';
import type { ControlPlaneRuntime } from '../context/runtime.ts';
import type { ControlPlaneSettings } from '../context/settings.ts';
import type { Database } from '../db/client.ts';
import { LOG_SERIALIZERS } from '../db/safe-error.ts';
import { actionsByTarget, BOSUN_TARGET_PREFIX } from '../ecs/index.ts';
import { assertStorableStrings } from '../ecs/input.ts';
import type { TlsMaterial } from '../tls/state.ts';
import type { WorkerPulse } from '../workers/pulse.ts';
import { type DispatchDeps, runAction, verifyCaller } from './dispatch.ts';
import { ecsErrorHandler, sendEcsError } from './errors.ts';
import { credentialScopeService, serveIamQuery } from './iam-query.ts';
import { buildOpenApiDocument } from './openapi.ts';

export interface AppDeps {
  database: Database;
  /** A connection whose commands fail at once while Redis is down (context/start.ts). */
  redis: Redis;
  /** What this process last saw of Postgres and Redis (pinged every second): /readyz. */
  health: DependencyHealth;
  /** This process's workers' heartbeat; absent when it runs none. */
  workers?: WorkerPulse;
  keys: AccessKeyStore;
  /** The master key's box: stored secrets are sealed and opened with it. */
  secretBox: SecretBox;
  scope: ArnScope;
  bodyLimitBytes: number;
  settings: ControlPlaneSettings;
  /** Queues and wake-ups (context/runtime.ts); owned by the caller, which closes it after the app. */
  runtime: ControlPlaneRuntime;
  logLevel?: string;
  /** Where the log goes (stdout otherwise); tests capture it. */
  logStream?: { write(line: string): void };
  /** Injected in tests to check signature expiry. */
  clock?: () => Date;
  /** The CA and server certificate; `serve: false` listens in plain HTTP (BOSUN_TLS=off, loopback). */
  tls: { material: TlsMaterial; serve: boolean; agentCertLifetimeMs: number };
}

const VERSION = '0.1.0';

export function buildApp(deps: AppDeps): FastifyInstance {
  const clock = deps.clock ?? (() => new Date());
  const tls = deps.tls.material;
  const app = Fastify({
    // One listener for the ECS API and the agent protocol. It asks every client for a certificate
    // but lets the handshake finish without one: the AWS CLI and SDKs send none, and SigV4
    // authenticates them. The agent routes refuse a request whose certificate is missing or not
    // issued by the install's CA (agent-protocol/identity.ts), except register, which authenticates
    // with the join token. Two listeners would mean two ports to publish and two URLs to configure.
    ...(deps.tls.serve
      ? {
          https: {
            cert: tls.serverCertPem,
            key: tls.serverKeyPem,
            ca: tls.agentCa.certPem,
            requestCert: true,
            rejectUnauthorized: false,
            minVersion: 'TLSv1.2' as const,
          },
        }
      : {}),
    bodyLimit: deps.bodyLimitBytes,
    logger: {
      level: deps.logLevel ?? 'info',
      redact: ['req.headers.authorization', 'req.headers["x-amz-security-token"]'],
      // Errors without query text, parameters or quoted values (db/safe-error.ts); bodies are never logged.
      serializers: LOG_SERIALIZERS,
      ...(deps.logStream === undefined ? {} : { stream: deps.logStream }),
    },
    genReqId: () => randomUUID(),
    // ECS clients send one JSON document; the signature must be checked over the exact bytes.
    return503OnClosing: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler(ecsErrorHandler);
  app.setNotFoundHandler((req, reply) =>
    sendEcsError(
      reply,
      'UnknownOperationException',
      `No such resource: ${req.method} ${req.url}. The ECS API is POST /.`,
      404,
    ),
  );
  // Set before the body is read, so even a request refused for its size carries an id.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-amzn-RequestId', req.id);
  });

  app.get('/healthz', async (_req, reply) => {
    await deps.database.sql`select 1`;
    await deps.redis.ping();
    return reply.send({ status: 'ok' });
  });

  // Kubernetes-style probes. Live: this process's event loop answers (restart it if not).
  app.get('/livez', async (_req, reply) => reply.send({ status: 'ok' }));

  // Ready: Postgres and Redis answer and the workers work (take traffic away if not). From what the
  // process already knows, so it answers at once even while a dependency hangs.
  app.get('/readyz', async (_req, reply) => {
    const r = readiness(deps.health.snapshot(), deps.workers?.state(), performance.now());
    return reply
      .status(r.ready ? 200 : 503)
      .send({ status: r.ready ? 'ready' : 'not ready', notReady: r.notReady, checks: r.checks });
  });

  app.get('/openapi.json', async () => buildOpenApiDocument(VERSION));

  const dispatch: DispatchDeps = {
    db: deps.database.db,
    scope: deps.scope,
    keys: deps.keys,
    secretBox: deps.secretBox,
    settings: deps.settings,
    runtime: deps.runtime,
    caFingerprint: tls.serverCaFingerprint,
  };

  app.post('/', async (req, reply) => {
    const rawBody = typeof req.body === 'string' ? req.body : '';
    const now = clock();
    // IAM's Query protocol (`aws iam …`): credentials scoped to the service `iam`.
    if (credentialScopeService(req.headers.authorization) === 'iam') {
      return serveIamQuery(dispatch, req, reply, rawBody, now);
    }
    const caller = await verifyCaller(dispatch, req, rawBody, now, 'ecs');
    const target = req.headers['x-amz-target'];
    const action = typeof target === 'string' ? actionsByTarget.get(target) : undefined;
    if (!action)
      throw new UnknownOperationError(typeof target === 'string' ? target : '(no X-Amz-Target header)');
    const actionName = (target as string).slice((target as string).indexOf('.') + 1);
    const service = (target as string).startsWith(`${BOSUN_TARGET_PREFIX}.`) ? 'bosun' : 'ecs';
    const result = await runAction(
      dispatch,
      req,
      now,
      caller,
      service,
      actionName,
      action,
      jsonInput(rawBody),
    );
    return reply.header('content-type', 'application/x-amz-json-1.1').send(JSON.stringify(result));
  });

  registerAgentApi(app, {
    db: deps.database.db,
    scope: deps.scope,
    settings: deps.settings,
    clock,
    notifier: deps.runtime.notifier,
    queues: deps.runtime.queues,
    secretBox: deps.secretBox,
    tls: deps.tls,
  });

  return app;
}

/** The body of an ECS JSON call, checked for strings Postgres cannot store. */
function jsonInput(raw: string): unknown {
  const body = parseJsonBody(raw);
  assertStorableStrings(body);
  return body;
}

function parseJsonBody(raw: string): unknown {
  if (raw.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (e) {
    throw new ClientError(`The request body is not valid JSON: ${(e as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ClientError('The request body must be a JSON object.');
  }
  return body;
}
