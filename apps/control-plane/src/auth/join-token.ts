import { createHash, randomBytes } from 'node:crypto';

/**
 * The join token's textual shape, in one place: `bjt_<secret>`, the secret 32 random bytes in
 * base64url. Only the secret's sha256 is stored. A shape that carries more (e.g. the CA's
 * fingerprint, as Swarm's SWMTKN does) changes `formatJoinToken` and `joinTokenSecret` only.
 */
export const JOIN_TOKEN_PREFIX = 'bjt_';
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** A new token: what the caller is shown once, and the hash that is stored. */
export function newJoinToken(): { token: string; secretHash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: formatJoinToken(secret), secretHash: sha256Hex(secret) };
}

export function formatJoinToken(secret: string): string {
  return `${JOIN_TOKEN_PREFIX}${secret}`;
}

/** The secret a token carries, or undefined when the text is not a bosun join token at all. */
export function joinTokenSecret(token: string): string | undefined {
  if (!token.startsWith(JOIN_TOKEN_PREFIX)) return undefined;
  const secret = token.slice(JOIN_TOKEN_PREFIX.length);
  return SECRET_RE.test(secret) ? secret : undefined;
}

/** The stored hash a token is looked up by; undefined for text that cannot be a token. */
export function joinTokenHash(token: string): string | undefined {
  const secret = joinTokenSecret(token);
  return secret === undefined ? undefined : sha256Hex(secret);
}
