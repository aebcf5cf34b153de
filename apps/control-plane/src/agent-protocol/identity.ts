import { timingSafeEqual } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import { AuthenticationError } from '@bosun/model';
import { and, eq, ne, type SQL, sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { Db, Tx } from '../db/client.ts';
import { preparedPer } from '../db/prepared.ts';
import { containerInstances } from '../db/schema/index.ts';
import { hashSecret, UUID_RE } from '../ecs/container-instances.ts';
import type { ContainerInstanceRow } from '../repositories/container-instances.ts';
import { fingerprintOf } from '../tls/certificates.ts';
import { type ContactAnswer, recordContact as recordGroupedContact } from './statements.ts';

/** The bearer credential an agent got at registration, `<instanceId>.<secret>`, as the request claims it. */
export interface AgentClaim {
  instanceId: string;
  secretHash: string;
  /**
   * sha256 of the client certificate the TLS handshake verified (issued by the install's CA, naming
   * this instance); null only over plain HTTP (BOSUN_TLS=off, loopback).
   */
  certificateFingerprint: string | null;
}

const refuse = (message: string) => new AuthenticationError('UnrecognizedClientException', message);

/**
 * The client certificate's fingerprint: the listener asks for one but lets the handshake finish
 * without (the ECS API's clients have none, http/app.ts), so here a missing one, one not issued by the
 * install's CA or expired (`authorized` false), or one naming another instance is refused.
 */
export function presentedCertificate(req: FastifyRequest, instanceId: string): string | null {
  const socket = req.raw.socket;
  if (!(socket instanceof TLSSocket)) return null;
  const cert = socket.getPeerCertificate();
  if (!cert?.raw) throw refuse('The agent protocol requires a client certificate (mTLS); none was sent.');
  if (!socket.authorized) {
    throw refuse(
      `The client certificate is not valid here (${String(socket.authorizationError ?? 'unknown issuer')}).`,
    );
  }
  if (cert.subject?.CN !== instanceId)
    throw refuse('The client certificate names another container instance.');
  return fingerprintOf(cert.raw);
}

/**
 * The agent's side door. Agents authenticate with their client certificate (mTLS, its fingerprint
 * checked against the instance row) and, as a second factor, the bearer credential they got at
 * registration; only its sha256 is stored, and it names exactly one instance. Parsing both needs no
 * database, so a long-poll can listen on the instance's channel before it reads anything.
 */
export function claimOf(req: FastifyRequest): AgentClaim {
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
  return {
    instanceId,
    secretHash: hashSecret(secret),
    certificateFingerprint: presentedCertificate(req, instanceId),
  };
}

/** What authenticating an agent reads of its instance; the long-poll also needs the version. */
type InstanceClaimRow = Pick<
  ContainerInstanceRow,
  'credentialHash' | 'status' | 'desiredVersion' | 'certificateFingerprint' | 'previousCertificateFingerprint'
>;

/** Whether the certificate is one the instance holds now: the last issued, or the one before it. */
export function certificateHeld(
  row: Pick<InstanceClaimRow, 'certificateFingerprint' | 'previousCertificateFingerprint'>,
  fingerprint: string | null,
): boolean {
  return (
    fingerprint === null ||
    fingerprint === row.certificateFingerprint ||
    fingerprint === row.previousCertificateFingerprint
  );
}

function checkClaim(row: InstanceClaimRow | undefined, claim: AgentClaim): InstanceClaimRow {
  const expected = Buffer.from(row?.credentialHash ?? '', 'utf8');
  const actual = Buffer.from(claim.secretHash, 'utf8');
  if (!row || expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw refuse('The agent credential is not valid.');
  }
  if (row.status === 'INACTIVE') throw refuse('This container instance was deregistered.');
  if (!certificateHeld(row, claim.certificateFingerprint)) {
    throw refuse('The client certificate was replaced or revoked; this instance holds another one.');
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
      certificateFingerprint: containerInstances.certificateFingerprint,
      previousCertificateFingerprint: containerInstances.previousCertificateFingerprint,
    })
    .from(containerInstances)
    .where(eq(containerInstances.id, sql.placeholder('id')))
    .prepare('agent_instance'),
);

export async function authenticateAgent(db: Db, claim: AgentClaim): Promise<InstanceClaimRow> {
  const [row] = await instanceByIdQuery(db).execute({ id: claim.instanceId });
  return checkClaim(row, claim);
}

/** certificateHeld in SQL, for statements that authenticate and write at once. */
export const certificateMatches = (fingerprint: SQL | ReturnType<typeof sql.placeholder>) =>
  sql`(${fingerprint}::text is null or ${containerInstances.certificateFingerprint} = ${fingerprint}::text
    or ${containerInstances.previousCertificateFingerprint} = ${fingerprint}::text)`;

/**
 * A contact: authenticates and records it in one statement, since there are hundreds of hosts doing it
 * every few seconds. The credential is compared in SQL: what an attacker controls is the secret, and
 * timing reveals at most how much of its sha256 matches, which does not help find a secret. `changes`
 * are further columns to set (a heartbeat's hostname and versionInfo).
 */
function contactUpdate(db: Tx, changes: Partial<Record<'hostname' | 'versionInfo', SQL>> = {}) {
  return (
    db
      .update(containerInstances)
      // Postgres' clock, which liveness compares against (db/now.ts).
      .set({ lastHeartbeatAt: sql`now()`, ...changes })
      .where(
        and(
          eq(containerInstances.id, sql.placeholder('id')),
          eq(containerInstances.credentialHash, sql.placeholder('credentialHash')),
          ne(containerInstances.status, 'INACTIVE'),
          certificateMatches(sql.placeholder('certificateFingerprint')),
        ),
      )
      .returning({
        instanceId: containerInstances.id,
        status: containerInstances.status,
        desiredVersion: containerInstances.desiredVersion,
      })
  );
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

const contactParams = (claim: AgentClaim) => ({
  id: claim.instanceId,
  credentialHash: claim.secretHash,
  certificateFingerprint: claim.certificateFingerprint,
});

/** A contact matched no row: reads the instance to say why (checkClaim throws), else refuses all the same. */
async function refuseContact(db: Db, claim: AgentClaim): Promise<never> {
  await authenticateAgent(db, claim);
  // Deregistered between the two reads, or the like.
  throw new AuthenticationError('UnrecognizedClientException', 'The agent credential is not valid.');
}

export async function recordContact(
  db: Db,
  claim: AgentClaim,
  changes: { hostname?: string; versionInfo?: ContainerInstanceRow['versionInfo'] } = {},
): Promise<{ status: ContainerInstanceRow['status']; desiredVersion: number }> {
  const [beat] = await recordContactQuery(db).execute({
    ...contactParams(claim),
    hostname: changes.hostname ?? null,
    versionInfo: changes.versionInfo ? JSON.stringify(changes.versionInfo) : null,
  });
  return beat ?? refuseContact(db, claim);
}

/** A report's contact: as a heartbeat's, in a statement grouped with other agents' (statements.ts). */
export async function recordReportContact(db: Db, claim: AgentClaim): Promise<ContactAnswer> {
  const beat = await recordGroupedContact(db, {
    instanceId: claim.instanceId,
    secretHash: claim.secretHash,
    certificateFingerprint: claim.certificateFingerprint,
  });
  return beat ?? refuseContact(db, claim);
}

/**
 * Records the client certificate just issued to the instance; the one it held before stays valid
 * until it expires (requests the agent still has in flight), any older one is refused from now on.
 */
export async function storeCertificate(db: Db, instanceId: string, fingerprint: string): Promise<void> {
  await db
    .update(containerInstances)
    .set({
      previousCertificateFingerprint: sql`${containerInstances.certificateFingerprint}`,
      certificateFingerprint: fingerprint,
    })
    .where(eq(containerInstances.id, instanceId));
}
