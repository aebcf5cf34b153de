import { createHash, randomBytes } from 'node:crypto';
import { formatJoinToken, parseJoinToken } from '@bosun/model/join-token';

/**
 * A join token's secret and stored hash. The token's text (`bjt_1_<CA fingerprint>_<secret>`, as
 * Swarm's SWMTKN) is shared with the agent and lives in model/join-token.ts; only the secret's
 * sha256 is stored, the fingerprint being public.
 */
export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** A new token for the CA `caFingerprint`: what the caller is shown once, and the hash that is stored. */
export function newJoinToken(caFingerprint: string): { token: string; secretHash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: formatJoinToken({ caFingerprint, secret }), secretHash: sha256Hex(secret) };
}

/** The secret a token carries, or undefined when the text is not a bosun join token at all. */
export function joinTokenSecret(token: string): string | undefined {
  return parseJoinToken(token)?.secret;
}

/** The stored hash a token is looked up by; undefined for text that cannot be a token. */
export function joinTokenHash(token: string): string | undefined {
  const secret = joinTokenSecret(token);
  return secret === undefined ? undefined : sha256Hex(secret);
}
