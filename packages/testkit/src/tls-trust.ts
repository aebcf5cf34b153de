import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { Agent, buildConnector, setGlobalDispatcher } from 'undici';

/**
 * The CAs of the control planes the tests started (each makes its own, as a new install does), which
 * the test's own https clients trust: node's fetch through a global undici dispatcher (tests call
 * `fetch(endpoint)` as a user's script would, and a fetch takes no CA of its own), and the AWS SDK
 * through `trustingHttpsAgent()`. Child processes get theirs from the env file (AWS_CA_BUNDLE).
 */
const trusted = new Set<string>();

setGlobalDispatcher(
  new Agent({
    // A connector per connection, so a CA trusted after the dispatcher was made counts too.
    connect: (opts, callback) => buildConnector({ ca: [...trusted] })(opts, callback),
  }),
);

/** Trusts a CA (PEM) for every https client of this test process from now on. */
export function trustCa(pem: string): void {
  trusted.add(pem);
}

/** Trusts the CA in `file` (a control plane's STATE_DIR/ca.pem or the env file's AWS_CA_BUNDLE). */
export function trustCaFile(file: string): string {
  const pem = readFileSync(file, 'utf8');
  trustCa(pem);
  return pem;
}

/** An https.Agent trusting the CAs trusted so far (the AWS SDK's `requestHandler: { httpsAgent }`). */
export function trustingHttpsAgent(): HttpsAgent {
  return new HttpsAgent({ keepAlive: true, ca: [...trusted] });
}

/** A key pair as an agent makes one for its client certificate: PKCS#8 PEM, and SPKI DER in base64. */
export function newAgentKeyPair(): { keyPem: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

/**
 * An undici dispatcher for fetch (`fetch(url, { dispatcher })`, undici's fetch) that trusts the test's
 * CAs and, given one, presents a client certificate: what a fake agent talks to the control plane with.
 */
export function agentDispatcher(identity?: { keyPem: string; certPem: string }): Agent {
  return new Agent({
    connect: { ca: [...trusted], ...(identity ? { key: identity.keyPem, cert: identity.certPem } : {}) },
  });
}
