import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { parseJoinToken } from '@bosun/model/join-token';

/**
 * The agent's TLS identity: which control plane it trusts and how it proves who it is.
 *
 * - Pinning: a join token carries the sha256 of the control plane's CA certificate (Swarm's SWMTKN
 *   shape, model/join-token.ts). On first contact the agent reads the CA from the server and accepts
 *   it only if its fingerprint is the token's; from then on every connection verifies the server
 *   against that CA alone (and its name), and the CA is kept in the agent's state.
 * - Client certificate: the agent makes an EC P-256 key pair and sends only the public key (no
 *   PKCS#10 request: encoding one would take an ASN.1 library, ~270 kB, as much as the whole agent
 *   bundle again, and its proof of possession adds nothing here: a certificate for a key one does
 *   not hold is useless). The control plane signs a certificate naming the container instance;
 *   the agent presents it on every call and renews it at two thirds of its lifetime.
 */

/** Why the agent refuses a join token or a control plane; it stops rather than retry. */
export class TrustError extends Error {}

/** sha256 of a PEM certificate's DER, 64 lowercase hex (as the control plane's fingerprintOf). */
export function certificateFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** The CA fingerprint a join token pins; a token of another shape is refused before any contact. */
export function pinnedFingerprint(joinToken: string): string {
  const parts = parseJoinToken(joinToken);
  if (!parts) {
    throw new TrustError(
      'BOSUN_JOIN_TOKEN is not a join token of this bosun (bjt_1_<CA fingerprint>_<secret>): create one ' +
        'with `scripts/bosun join-token --cluster NAME` on the control plane.',
    );
  }
  return parts.caFingerprint;
}

/** The CA the server presented, if it is the one the join token names; else a TrustError. */
export function pinCa(caPem: string, fingerprint: string, url: string): string {
  let actual: string;
  try {
    actual = certificateFingerprint(caPem);
  } catch {
    throw new TrustError(`the control plane at ${url} sent no readable CA certificate`);
  }
  if (actual !== fingerprint) {
    throw new TrustError(
      `refusing the control plane at ${url}: its CA has fingerprint ${actual}, the join token names ` +
        `${fingerprint}. Either the URL reaches something else or the token is from another install.`,
    );
  }
  return caPem;
}

/** A new key pair: the private key (PKCS#8 PEM) stays on the host, the public key goes to be certified. */
export function newKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

/** When a certificate valid from `validFrom` to `validTo` (ms) should be renewed: at two thirds of its life. */
export function renewalDueAt(validFrom: number, validTo: number): number {
  return validFrom + ((validTo - validFrom) * 2) / 3;
}

/** renewalDueAt for a PEM certificate. */
export function certificateRenewalDueAt(certPem: string): number {
  const cert = new X509Certificate(certPem);
  return renewalDueAt(new Date(cert.validFrom).getTime(), new Date(cert.validTo).getTime());
}
