// @peculiar/x509 resolves its ASN.1 parsers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import {
  createHash,
  createPublicKey,
  X509Certificate as NodeX509,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

/**
 * The control plane's certificates, made with @peculiar/x509 over Node's WebCrypto: a CA, a server
 * certificate for the control plane's names, and a client certificate per container instance (its
 * mTLS identity). All keys are ECDSA P-256: fast to make, and small on the wire.
 */

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Node's WebCrypto; the library's types name the DOM's Crypto, which this project does not load.
x509.cryptoProvider.set(webcrypto as never);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A PEM certificate with the private key that goes with it (PKCS#8 PEM). */
export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

/** A CA able to sign: its certificate, and its private key as WebCrypto can use it. */
export interface SigningCa {
  certPem: string;
  key: CryptoKey;
}

const DAY_MS = 24 * 3600_000;
/** The CA outlives every certificate it signs; a new CA means every agent must join again. */
const CA_LIFETIME_MS = 10 * 365 * DAY_MS;
/** Renewed on start once less than a third of it is left (state.ts). */
export const SERVER_CERT_LIFETIME_MS = 365 * DAY_MS;
/**
 * Clocks of hosts differ a little: a certificate is valid from a minute before it was made — a tenth
 * of its lifetime at most, so an agent renewing at two thirds of it (validFrom to validTo) does not
 * find a short-lived certificate already due.
 */
const BACKDATE_MS = 60_000;
const backdateMs = (lifetimeMs: number) => Math.min(BACKDATE_MS, lifetimeMs / 10);

/** 16 random bytes, first bit clear: a positive serial as RFC 5280 wants. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

/** PEM text ending in a newline, so PEM blocks can be concatenated into one file (a chain). */
const pemText = (pem: string) => `${pem.replace(/\r\n/g, '\n').trimEnd()}\n`;

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return pemText(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** A new self-signed CA; `name` goes into its subject so operators can tell installs apart. */
export async function createCa(name: string, now: Date): Promise<KeyPairPem> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${name}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemText(cert.toString('pem')), keyPem: await exportKeyPem(keys.privateKey) };
}

/** The CA of a PEM pair, ready to sign. */
export async function signingCa(pair: KeyPairPem): Promise<SigningCa> {
  const der = x509.PemConverter.decodeFirst(pair.keyPem);
  const key = await webcrypto.subtle.importKey('pkcs8', der, EC, false, ['sign']);
  return { certPem: pair.certPem, key };
}

async function issue(
  ca: SigningCa,
  o: {
    subject: string;
    publicKey: CryptoKey | ArrayBuffer;
    names: x509.JsonGeneralNames;
    usage: x509.ExtendedKeyUsage;
    now: Date;
    lifetimeMs: number;
  },
): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: o.subject,
    issuer: caCert.subject,
    notBefore: new Date(o.now.getTime() - backdateMs(o.lifetimeMs)),
    notAfter: new Date(o.now.getTime() + o.lifetimeMs),
    signingAlgorithm: SIGNING,
    publicKey: o.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([o.usage]),
      new x509.SubjectAlternativeNameExtension(o.names),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return pemText(cert.toString('pem'));
}

/** The names a server certificate covers: DNS names and IP addresses, each once. */
export function subjectAltNames(names: readonly string[]): x509.JsonGeneralNames {
  const seen = new Set<string>();
  const out: x509.JsonGeneralNames = [];
  for (const raw of names) {
    const name = raw.trim().replace(/^\[(.*)\]$/, '$1');
    if (name === '' || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push({ type: isIP(name) ? 'ip' : 'dns', value: name });
  }
  return out;
}

/** A server certificate (new key) for `names`: what the control plane's listener presents. */
export async function issueServerCertificate(
  ca: SigningCa,
  names: readonly string[],
  now: Date,
): Promise<KeyPairPem> {
  const keys = await newKeys();
  const certPem = await issue(ca, {
    subject: 'CN=bosun control plane',
    publicKey: keys.publicKey,
    names: subjectAltNames(names),
    usage: x509.ExtendedKeyUsage.serverAuth,
    now,
    lifetimeMs: SERVER_CERT_LIFETIME_MS,
  });
  return { certPem, keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * A container instance's client certificate: CN and a URI SAN name the instance, so the control plane
 * reads the caller's identity from the certificate the TLS handshake verified. `publicKeyDer` is the
 * agent's SubjectPublicKeyInfo (DER): its private key never leaves the host.
 */
export async function issueClientCertificate(
  ca: SigningCa,
  o: { instanceId: string; publicKeyDer: Buffer; now: Date; lifetimeMs: number },
): Promise<string> {
  const der = new Uint8Array(o.publicKeyDer).buffer;
  return issue(ca, {
    subject: `CN=${o.instanceId}`,
    publicKey: der,
    names: [{ type: 'url', value: `urn:bosun:container-instance:${o.instanceId}` }],
    usage: x509.ExtendedKeyUsage.clientAuth,
    now: o.now,
    lifetimeMs: o.lifetimeMs,
  });
}

/** sha256 of a certificate's DER, 64 lowercase hex: what join tokens and instance rows carry. */
export function fingerprintOf(cert: string | Buffer): string {
  const der = typeof cert === 'string' ? new NodeX509(cert).raw : cert;
  return createHash('sha256').update(der).digest('hex');
}

/**
 * The agent's public key (SubjectPublicKeyInfo, DER, base64) if it is one we sign for, an EC P-256
 * key, else why not: bad input from an agent must be a ClientError, not a failure inside the signer.
 */
export function readPublicKey(spkiBase64: string): { der: Buffer } | { error: string } {
  const der = Buffer.from(spkiBase64, 'base64');
  try {
    const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
      return { der };
    return { error: 'publicKey must be an EC P-256 key (SubjectPublicKeyInfo, DER, base64).' };
  } catch {
    return { error: 'publicKey is not a SubjectPublicKeyInfo (DER, base64).' };
  }
}
