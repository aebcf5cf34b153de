/**
 * A join token's text, as Swarm's SWMTKN: `bjt_1_<ca>_<secret>`. `ca` is the sha256 (64 lowercase hex)
 * of the DER of the CA certificate the control plane's TLS chain ends in: the joining agent trusts a
 * server only if it presents that CA (pinning on first contact, before anything secret is sent).
 * `secret` is 32 random bytes in base64url. The control plane stores the token's sha256, never the
 * token. Shared by both ends (the agent imports this file alone: `@bosun/model/join-token`).
 */
export interface JoinTokenParts {
  /** sha256 of the CA certificate's DER, 64 lowercase hex. */
  caFingerprint: string;
  secret: string;
}

const JOIN_TOKEN_RE = /^bjt_1_([0-9a-f]{64})_([A-Za-z0-9_-]{43})$/;

export function formatJoinToken(parts: JoinTokenParts): string {
  return `bjt_1_${parts.caFingerprint}_${parts.secret}`;
}

/** The parts of a well-formed token; undefined for anything else (an old `bjt_<secret>` token too). */
export function parseJoinToken(token: string): JoinTokenParts | undefined {
  const m = JOIN_TOKEN_RE.exec(token.trim());
  if (!m) return undefined;
  return { caFingerprint: m[1] as string, secret: m[2] as string };
}
