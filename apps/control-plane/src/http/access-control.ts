import { AccessDeniedError, type ArnScope } from '@bosun/model';
import type { FastifyRequest } from 'fastify';
import type { KeyIdentity } from '../auth/access-keys.ts';
import { type AuthorizationRequest, evaluatePolicy } from '../auth/policy.ts';
import type { Db } from '../db/client.ts';
import { userArn } from '../ecs/authorization.ts';
import { insertAuditEvent } from '../repositories/audit-events.ts';

/**
 * Throws AccessDeniedException (ECS's shape, HTTP 400) unless the key's policy allows the request on
 * every resource; the message names the first resource refused, in IAM's words.
 */
export function authorize(scope: ArnScope, key: KeyIdentity, req: AuthorizationRequest): void {
  if (evaluatePolicy(key.policy, req) === 'Allow') return;
  for (const resource of req.resources) {
    const decision = evaluatePolicy(key.policy, { ...req, resources: [resource] });
    if (decision === 'Allow') continue;
    const why =
      decision === 'ExplicitDeny'
        ? 'with an explicit deny in an identity-based policy'
        : `because no identity-based policy allows the ${req.action} action`;
    throw new AccessDeniedError(
      `User: ${userArn(scope, key.userName)} is not authorized to perform: ${req.action} on resource: ${resource} ${why}.`,
    );
  }
}

/**
 * One call's audit record: who (key, user, source address), what (action, resources), the request id
 * and the result (`ok` or the error code the caller got). `record` writes it to audit_events in the
 * request, before the answer goes out, and logs it as one pino line; a failed write is logged (the
 * line still holds the record) and does not change the answer.
 */
export class AuditTrail {
  resources: readonly string[] = [];

  constructor(
    private readonly db: Db,
    private readonly req: FastifyRequest,
    private readonly key: KeyIdentity,
    private readonly action: string,
  ) {}

  async record(result: string, made: readonly string[] = []): Promise<void> {
    const resources = [...new Set([...this.resources, ...made])].filter((r) => r !== '*');
    const event = {
      requestId: String(this.req.id),
      accessKeyId: this.key.accessKeyId,
      userName: this.key.userName,
      action: this.action,
      resources,
      result,
      sourceAddress: this.req.ip,
    };
    this.req.log.info({ audit: event }, 'audit');
    try {
      await insertAuditEvent(this.db, event);
    } catch (err) {
      this.req.log.error({ err, requestId: event.requestId }, 'audit record not stored');
    }
  }
}
