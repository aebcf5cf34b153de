import { X509Certificate } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  createCa,
  fingerprintOf,
  issueServerCertificate,
  type KeyPairPem,
  SERVER_CERT_LIFETIME_MS,
  type SigningCa,
  signingCa,
  subjectAltNames,
} from './certificates.ts';

/** What the control plane serves TLS with, and signs agents' certificates with. */
export interface TlsMaterial {
  /** The listener's certificate chain (PEM: its certificate, then the CA's) and private key. */
  serverCertPem: string;
  serverKeyPem: string;
  /** The CA the server's chain ends in: clients trust it (AWS_CA_BUNDLE), agents pin it. */
  serverCaPem: string;
  serverCaFile: string;
  /** sha256 of serverCaPem's DER: what join tokens carry. */
  serverCaFingerprint: string;
  /** bosun's own CA (STATE_DIR/ca.key): signs and verifies the agents' client certificates. */
  agentCa: SigningCa;
}

export interface TlsFiles {
  /** BOSUN_TLS_CERT / BOSUN_TLS_KEY / BOSUN_TLS_CA: the operator's own server certificate. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFile?: string | undefined;
  /** Extra names for the generated server certificate (BOSUN_TLS_NAMES). */
  names?: readonly string[];
}

/** Names every generated server certificate covers, besides the configured ones. */
export function defaultServerNames(listenHost: string): string[] {
  const names = ['localhost', '127.0.0.1', '::1', hostname()];
  if (!['0.0.0.0', '::', '[::]', ''].includes(listenHost)) names.push(listenHost);
  return names;
}

const PEM_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_RE = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/;

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Replaces `file` whole (temp file + rename): a reader sees the old content or the new. */
async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}

/**
 * The install's CA, from STATE_DIR/ca.key (its key and certificate, mode 0600), made on first start.
 * Made in a temp file and linked into place, which fails if another process of the install got there
 * first: then theirs is used, so processes sharing a state directory share one CA.
 */
async function loadOrCreateCa(stateDir: string, now: Date): Promise<KeyPairPem> {
  const file = join(stateDir, 'ca.key');
  const parse = (text: string): KeyPairPem => {
    const certPem = text.match(PEM_RE)?.[0];
    const keyPem = KEY_RE.exec(text)?.[0];
    if (!certPem || !keyPem) throw new Error(`${file} is corrupt: expected a private key and a certificate`);
    return { certPem: `${certPem}\n`, keyPem: `${keyPem}\n` };
  };
  const existing = await readIfThere(file);
  if (existing !== undefined) return parse(existing);
  const ca = await createCa(`bosun CA ${hostname()} ${now.toISOString().slice(0, 10)}`, now);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${ca.keyPem}${ca.certPem}`, { mode: 0o600 });
  try {
    await link(tmp, file);
    return ca;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return parse(await readFile(file, 'utf8'));
  } finally {
    await unlink(tmp);
  }
}

/** Whether a stored server certificate still serves: same names, and a third of its life left. */
function serverCertServes(certPem: string, names: readonly string[], now: Date): boolean {
  const cert = new X509Certificate(certPem);
  // Node prints an IPv6 SAN expanded (0:0:…:1), so each name is checked as TLS would check it.
  const covers = (n: { type?: string; value?: string }) =>
    n.type === 'ip'
      ? cert.checkIP(String(n.value)) !== undefined
      : cert.checkHost(String(n.value), { wildcards: false, subject: 'never' }) !== undefined;
  const leftMs = new Date(cert.validTo).getTime() - now.getTime();
  return subjectAltNames(names).every(covers) && leftMs > SERVER_CERT_LIFETIME_MS / 3;
}

/**
 * TLS for the control plane: the operator's certificate (BOSUN_TLS_CERT/KEY/CA) if configured, else
 * STATE_DIR/server.pem and server.key, issued by the install's CA for `names` (made again when the names
 * change or it nears its end). The install's CA (STATE_DIR/ca.key) always exists: it signs agents'
 * client certificates. STATE_DIR/ca.pem is the CA clients trust (AWS_CA_BUNDLE).
 */
export async function loadTls(stateDir: string, files: TlsFiles, now = new Date()): Promise<TlsMaterial> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const caPair = await loadOrCreateCa(stateDir, now);
  const agentCa = await signingCa(caPair);
  const configured = [files.certFile, files.keyFile, files.caFile].filter(Boolean).length;
  if (configured > 0) {
    if (configured !== 3 || !files.certFile || !files.keyFile || !files.caFile) {
      throw new Error('BOSUN_TLS_CERT, BOSUN_TLS_KEY and BOSUN_TLS_CA go together: set all three or none.');
    }
    const serverCaPem = (await readFile(files.caFile, 'utf8')).match(PEM_RE)?.[0];
    if (!serverCaPem) throw new Error(`BOSUN_TLS_CA (${files.caFile}) holds no PEM certificate`);
    return {
      serverCertPem: await readFile(files.certFile, 'utf8'),
      serverKeyPem: await readFile(files.keyFile, 'utf8'),
      serverCaPem: `${serverCaPem}\n`,
      serverCaFile: files.caFile,
      serverCaFingerprint: fingerprintOf(serverCaPem),
      agentCa,
    };
  }
  const serverCaFile = join(stateDir, 'ca.pem');
  if ((await readIfThere(serverCaFile)) !== caPair.certPem)
    await writeAtomically(serverCaFile, caPair.certPem, 0o644);
  const names = files.names ?? [];
  const certFile = join(stateDir, 'server.pem');
  const keyFile = join(stateDir, 'server.key');
  let certPem = await readIfThere(certFile);
  let keyPem = await readIfThere(keyFile);
  const issuedByCa = (pem: string) =>
    new X509Certificate(pem).verify(new X509Certificate(caPair.certPem).publicKey);
  if (!certPem || !keyPem || !issuedByCa(certPem) || !serverCertServes(certPem, names, now)) {
    const issued = await issueServerCertificate(agentCa, names, now);
    certPem = issued.certPem;
    keyPem = issued.keyPem;
    await writeAtomically(keyFile, keyPem, 0o600);
    await writeAtomically(certFile, certPem, 0o644);
  }
  return {
    serverCertPem: `${certPem}${caPair.certPem}`,
    serverKeyPem: keyPem,
    serverCaPem: caPair.certPem,
    serverCaFile,
    serverCaFingerprint: fingerprintOf(caPair.certPem),
    agentCa,
  };
}
