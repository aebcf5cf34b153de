import { AuthenticationError, InvalidParameterError, parseJoinToken } from '@bosun/model';
import type { Db } from '../db/client.ts';
import { fingerprintOf, issueClientCertificate, readPublicKey } from '../tls/certificates.ts';
import type { TlsMaterial } from '../tls/state.ts';
import { storeCertificate } from './identity.ts';

/** The agent protocol's TLS: the install's CA, whether the listener serves TLS, certificates' lifetime. */
export interface AgentTls {
  material: TlsMaterial;
  serve: boolean;
  agentCertLifetimeMs: number;
}

/**
 * A register call's join token must have today's shape, with the CA fingerprint the agent pinned
 * (model/join-token.ts); an old `bjt_<secret>` token, which an agent could not pin with, is refused
 * even if it is still stored.
 */
export function checkJoinTokenShape(token: string): void {
  if (!parseJoinToken(token)) {
    throw new AuthenticationError(
      'UnrecognizedClientException',
      'The join token is not valid: create one with `scripts/bosun join-token` (bjt_1_<CA fingerprint>_<secret>).',
    );
  }
}

/** The public key to certify, checked before anything is stored; none over plain HTTP. */
export function publicKeyToCertify(tls: AgentTls, publicKey: string | undefined): Buffer | undefined {
  if (!tls.serve) return undefined;
  if (publicKey === undefined) {
    throw new InvalidParameterError(
      'publicKey is required: agents authenticate with a client certificate issued for it (mTLS).',
    );
  }
  const read = readPublicKey(publicKey);
  if ('error' in read) throw new InvalidParameterError(read.error);
  return read.der;
}

/** Signs the instance's client certificate for `publicKeyDer` and records it as the one it holds. */
export async function certifyInstance(
  db: Db,
  tls: AgentTls,
  instanceId: string,
  publicKeyDer: Buffer,
  now: Date,
): Promise<string> {
  const certificate = await issueClientCertificate(tls.material.agentCa, {
    instanceId,
    publicKeyDer,
    now,
    lifetimeMs: tls.agentCertLifetimeMs,
  });
  await storeCertificate(db, instanceId, fingerprintOf(certificate));
  return certificate;
}
