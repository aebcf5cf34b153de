import { describe, expect, it } from 'vitest';
import { loadConfig, tlsRefusal } from './settings.ts';

const base = { DATABASE_URL: 'postgres://u:p@h:1/db', REDIS_URL: 'redis://h:2' };

describe('BOSUN_TLS=off: plain HTTP on loopback only', () => {
  it.each([
    { tls: 'on', host: '0.0.0.0', refused: false },
    { tls: 'on', host: '10.0.0.5', refused: false },
    { tls: 'off', host: '127.0.0.1', refused: false },
    { tls: 'off', host: '127.8.9.10', refused: false },
    { tls: 'off', host: 'localhost', refused: false },
    { tls: 'off', host: '::1', refused: false },
    { tls: 'off', host: '[::1]', refused: false },
    { tls: 'off', host: '0.0.0.0', refused: true },
    { tls: 'off', host: '::', refused: true },
    { tls: 'off', host: '192.168.1.2', refused: true },
    { tls: 'off', host: 'bosun.example', refused: true },
    { tls: 'off', host: '127.0.0.1.example', refused: true },
  ] as const)('$tls on $host: refused $refused', ({ tls, host, refused }) => {
    expect(tlsRefusal(tls, host) !== undefined).toBe(refused);
  });

  it('refuses to load such a configuration, saying why', () => {
    expect(() => loadConfig({ ...base, BOSUN_TLS: 'off', BOSUN_LISTEN_HOST: '0.0.0.0' })).toThrow(
      /BOSUN_TLS.*loopback/s,
    );
  });

  it('reads TLS on, names, and the client certificate lifetime', () => {
    const c = loadConfig({
      ...base,
      BOSUN_TLS_NAMES: 'bosun.example, 10.0.0.5',
      BOSUN_AGENT_CERT_LIFETIME_SECONDS: '60',
    });
    expect(c.tls).toMatchObject({
      enabled: true,
      names: ['bosun.example', '10.0.0.5'],
      agentCertLifetimeMs: 60_000,
    });
  });
});
