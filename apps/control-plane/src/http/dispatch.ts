import type { ArnScope } from '@bosun/model';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { AccessKeyStore, KeyIdentity } from '../auth/access-keys.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import { verifySigV4 } from '../auth/sigv4.ts';
import type { ControlPlaneRuntime } from '../context/runtime.ts';
import type { ControlPlaneSettings } from '../context/settings.ts';
import type { Db } from '../db/client.ts';
import type { Action } from '../ecs/action.ts';
import { arnsInResult, authorizationRequest, isMutating } from '../ecs/authorization.ts';
import { knownPolicyActions } from '../ecs/index.ts';
import { parseActionInput } from '../ecs/input.ts';
import { AuditTrail, authorize } from './access-control.ts';
import { classifyError } from './errors.ts';

/** What running an action needs (a part of AppDeps). */
export interface DispatchDeps {
  db: Db;
  scope: ArnScope;
  keys: AccessKeyStore;
  secretBox: SecretBox;
  settings: ControlPlaneSettings;
  runtime: ControlPlaneRuntime;
  /** The CA's fingerprint, which join tokens carry (model/join-token.ts). */
  caFingerprint: string;
}

const SIGNATURE_MAX_SKEW_MS = 5 * 60 * 1000;

/**
 * The SigV4 check of `POST /`; answers the ACTIVE key that signed the request. `service` is the
 * credential scope's service: `ecs` (JSON: x-amz-target must be signed too) or `iam` (Query: the
 * operation is in the signed body).
 */
export async function verifyCaller(
  deps: DispatchDeps,
  req: FastifyRequest,
  rawBody: string,
  now: Date,
  service: 'ecs' | 'iam',
): Promise<KeyIdentity> {
  const [path, query] = splitUrl(req.url);
  let key: KeyIdentity | undefined;
  await verifySigV4(
    { method: req.method, path, query, headers: req.headers, body: rawBody },
    {
      region: deps.scope.region,
      service,
      now,
      maxSkewMs: SIGNATURE_MAX_SKEW_MS,
      secretFor: async (id) => {
        key = await deps.keys.lookup(id);
        return key?.secret;
      },
      requiredSignedHeaders: service === 'ecs' ? ['x-amz-target'] : [],
    },
  );
  // verifySigV4 returned: the key exists, is ACTIVE and signed this request.
  return key as KeyIdentity;
}

/**
 * One authenticated call: the action's input schema → the key's policy → the handler → the audit
 * record (mutating or refused calls; a failed call too, with the error code the caller gets).
 */
export async function runAction(
  deps: DispatchDeps,
  req: FastifyRequest,
  now: Date,
  caller: KeyIdentity,
  service: 'ecs' | 'bosun',
  actionName: string,
  action: Action,
  body: unknown,
): Promise<object> {
  const audit = new AuditTrail(deps.db, req, caller, `${service}:${actionName}`);
  let result: object;
  try {
    const input = parseActionInput(action.input, body);
    const request = authorizationRequest(service, actionName, input as Record<string, unknown>, deps.scope);
    const authz = {
      ...request,
      context: {
        ...request.context,
        'aws:username': caller.userName,
        'bosun:accesskeyid': caller.accessKeyId,
      },
    };
    audit.resources = authz.resources;
    authorize(deps.scope, caller, authz);
    // Made when a handler first logs: most calls never do, and a pino child costs a few % per call.
    let log: FastifyBaseLogger | undefined;
    result = await action.handle(
      {
        db: deps.db,
        scope: deps.scope,
        now,
        caller: {
          accessKeyId: caller.accessKeyId,
          userName: caller.userName,
          authorize: (a, resources) => authorize(deps.scope, caller, { ...authz, action: a, resources }),
        },
        accessKeys: { knownActions: knownPolicyActions, forget: (id) => deps.keys.forget(id) },
        get log() {
          log ??= req.log.child({ action: actionName });
          return log;
        },
        settings: deps.settings,
        runtime: deps.runtime,
        secretBox: deps.secretBox,
        caFingerprint: deps.caFingerprint,
      },
      input,
    );
  } catch (e) {
    const { code } = classifyError(e as Error, req);
    if (isMutating(actionName) || code === 'AccessDeniedException') await audit.record(code);
    throw e;
  }
  if (isMutating(actionName)) await audit.record('ok', arnsInResult(result));
  return result;
}

function splitUrl(url: string): [string, Record<string, string | string[]>] {
  const idx = url.indexOf('?');
  if (idx === -1) return [url, {}];
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(url.slice(idx + 1))) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return [url.slice(0, idx), query];
}
