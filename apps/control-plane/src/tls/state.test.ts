import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, fingerprintOf, issueServerCertificate, signingCa } from './certificates.ts';
import { loadTls } from './state.ts';

const dirs: string[] = [];
const stateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-tls-state-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('loadTls', () => {
  it('makes a CA (key 0600) and a server certificate for the names on first start, and keeps them', async () => {
    const dir = stateDir();
    const first = await loadTls(dir, { names: ['localhost', '127.0.0.1', '::1', 'bosun.example'] });
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'server.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).toBe(first.serverCaPem);
    expect(first.serverCaFingerprint).toBe(fingerprintOf(first.serverCaPem));
    const server = new X509Certificate(first.serverCertPem);
    expect(server.checkIssued(new X509Certificate(first.serverCaPem))).toBe(true);
    expect(server.checkHost('bosun.example')).toBe('bosun.example');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('other.example')).toBeUndefined();

    const again = await loadTls(dir, { names: ['localhost', '127.0.0.1', '::1', 'bosun.example'] });
    expect(again.serverCaPem).toBe(first.serverCaPem);
    expect(again.serverCertPem).toBe(first.serverCertPem);
  });

  it('issues a new server certificate, from the same CA, when the names change', async () => {
    const dir = stateDir();
    const first = await loadTls(dir, { names: ['localhost'] });
    const renamed = await loadTls(dir, { names: ['localhost', 'new.example'] });
    expect(renamed.serverCaFingerprint).toBe(first.serverCaFingerprint);
    expect(new X509Certificate(renamed.serverCertPem).checkHost('new.example')).toBe('new.example');
  });

  it("uses the operator's certificate when all of BOSUN_TLS_CERT/KEY/CA are given, and refuses some of them", async () => {
    const dir = stateDir();
    const own = await createCa('corporate CA', new Date());
    const issued = await issueServerCertificate(await signingCa(own), ['bosun.corp'], new Date());
    const { writeFileSync } = await import('node:fs');
    const f = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const files = {
      certFile: f('c.pem', issued.certPem),
      keyFile: f('k.pem', issued.keyPem),
      caFile: f('ca-own.pem', own.certPem),
    };
    const tls = await loadTls(join(dir, 'state'), files);
    expect(tls.serverCertPem).toBe(issued.certPem);
    expect(tls.serverCaFingerprint).toBe(fingerprintOf(own.certPem));
    expect(tls.serverCaFile).toBe(files.caFile);
    // Agents' certificates still come from the install's own CA.
    expect(tls.agentCa.certPem).not.toBe(own.certPem);
    await expect(loadTls(join(dir, 'state'), { certFile: files.certFile })).rejects.toThrow(/all three/);
  });
});
