import { SecretBox } from './auth/secret-box.ts';
import { loadConfig, settingsOf } from './context/settings.ts';
import { startControlPlane } from './context/start.ts';
import { loadMasterKey, writeClientEnv } from './context/state-dir.ts';
import { applyMigrations } from './db/migrate.ts';
import { defaultServerNames, loadTls } from './tls/state.ts';

/**
 * The control-plane process: config → migrations (under an advisory lock, so several processes may
 * start at once) → master key → the control plane (context/start.ts) → `STATE_DIR/env` for clients;
 * SIGTERM or SIGINT shuts down in reverse.
 */
async function main() {
  const config = loadConfig();
  await applyMigrations(config.databaseUrl);
  const box = new SecretBox(await loadMasterKey(config.stateDir, config.masterKeyHex));
  const publicHost = config.publicUrl ? new URL(config.publicUrl).hostname : undefined;
  const material = await loadTls(config.stateDir, {
    certFile: config.tls.certFile,
    keyFile: config.tls.keyFile,
    caFile: config.tls.caFile,
    names: [
      ...defaultServerNames(config.listenHost),
      ...(publicHost ? [publicHost] : []),
      ...config.tls.names,
    ],
  });
  const running = await startControlPlane({
    databaseUrl: config.databaseUrl,
    redisUrl: config.redisUrl,
    box,
    scope: { region: config.region, accountId: config.accountId },
    settings: settingsOf(config),
    queuePrefix: config.queuePrefix,
    bodyLimitBytes: config.bodyLimitBytes,
    logLevel: config.logLevel,
    listen: { host: config.listenHost, port: config.port },
    timeouts: config.timeouts,
    tls: { material, serve: config.tls.enabled, agentCertLifetimeMs: config.tls.agentCertLifetimeMs },
    ...(config.clockOffsetMs === 0 ? {} : { clock: () => new Date(Date.now() + config.clockOffsetMs) }),
  });
  const { app, adminKey } = running;
  const endpoint = config.publicUrl ?? running.address.replace('0.0.0.0', '127.0.0.1');
  if (adminKey.status === 'ACTIVE') {
    const envFile = await writeClientEnv(config.stateDir, adminKey, {
      region: config.region,
      endpoint,
      ...(config.tls.enabled ? { caFile: material.serverCaFile } : {}),
    });
    app.log.info(
      { endpoint, envFile, accessKeyId: adminKey.accessKeyId, caFingerprint: material.serverCaFingerprint },
      'bosun control plane ready',
    );
  } else {
    // Deactivated on purpose: not re-activated, and STATE_DIR/env is not rewritten with it.
    app.log.warn(
      { endpoint, accessKeyId: adminKey.accessKeyId, caFingerprint: material.serverCaFingerprint },
      'bosun control plane ready; every admin access key is INACTIVE: make a new one on this host with ' +
        '`scripts/bosun create-access-key --local --name admin --policy AdministratorAccess`',
    );
  }

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    await running.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
