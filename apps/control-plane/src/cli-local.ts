import { randomUUID } from 'node:crypto';
import {
  createAccessKey,
  listAccessKeys,
  removeAccessKey,
  setAccessKeyPolicy,
  setAccessKeyStatus,
} from './auth/access-keys.ts';
import { SecretBox } from './auth/secret-box.ts';
import { loadMasterKey } from './context/state-dir.ts';
import { connectDatabase } from './db/client.ts';
import { knownPolicyActions } from './ecs/index.ts';
import { insertAuditEvent } from './repositories/audit-events.ts';

/**
 * `scripts/bosun <key command> --local`: key management straight on the database with the master
 * key, for the owner of the control-plane host, so that no state of the keys (every admin key
 * INACTIVE or deleted) locks the owner out. Needs what the control plane itself has: DATABASE_URL and
 * the master key (BOSUN_MASTER_KEY, or BOSUN_STATE_DIR/master.key, .bosun by default). Each change is
 * audited with the access key id `local`. A running control plane notices within its key-cache time
 * (5 s).
 */
export type LocalCommand =
  | { kind: 'create'; userName: string; policyName?: string; policyDocument?: string }
  | { kind: 'list'; userName?: string }
  | { kind: 'status'; accessKeyId: string; status: 'ACTIVE' | 'INACTIVE' }
  | { kind: 'policy'; accessKeyId: string; policyName?: string; policyDocument?: string }
  | { kind: 'delete'; accessKeyId: string };

export async function runLocal(env: Record<string, string | undefined>, cmd: LocalCommand): Promise<object> {
  const url = env.DATABASE_URL;
  if (!url) throw new Error('--local needs DATABASE_URL: the database the control plane uses.');
  const stateDir = env.BOSUN_STATE_DIR ?? '.bosun';
  const box = new SecretBox(await loadMasterKey(stateDir, env.BOSUN_MASTER_KEY));
  const database = connectDatabase(url, { max: 1 });
  const audit = (action: string, resources: string[]) =>
    insertAuditEvent(database.db, {
      requestId: randomUUID(),
      accessKeyId: 'local',
      userName: env.USER ?? null,
      action,
      resources,
      result: 'ok',
      sourceAddress: 'local',
    });
  try {
    const db = database.db;
    switch (cmd.kind) {
      case 'create': {
        const key = await createAccessKey(
          db,
          box,
          cmd.userName,
          { policyName: cmd.policyName, policyDocument: cmd.policyDocument },
          knownPolicyActions,
        );
        const account = env.BOSUN_ACCOUNT_ID ?? '000000000000';
        await audit('bosun:CreateAccessKey', [`arn:aws:iam::${account}:user/${cmd.userName}`]);
        return { AccessKeyId: key.accessKeyId, SecretAccessKey: key.secretAccessKey, UserName: key.userName };
      }
      case 'list':
        return {
          AccessKeyMetadata: (await listAccessKeys(db, cmd.userName)).map((r) => ({
            UserName: r.name,
            AccessKeyId: r.accessKeyId,
            Status: r.status,
            CreateDate: r.createdAt.toISOString(),
            PolicyName: r.policyName,
          })),
        };
      case 'status': {
        const row = await setAccessKeyStatus(db, cmd.accessKeyId, cmd.status);
        await audit('bosun:UpdateAccessKey', [cmd.accessKeyId]);
        return { AccessKeyId: row.accessKeyId, Status: row.status };
      }
      case 'policy': {
        const row = await setAccessKeyPolicy(
          db,
          cmd.accessKeyId,
          { policyName: cmd.policyName, policyDocument: cmd.policyDocument },
          knownPolicyActions,
        );
        await audit('bosun:PutAccessKeyPolicy', [cmd.accessKeyId]);
        return { AccessKeyId: row.accessKeyId, PolicyName: row.policyName };
      }
      case 'delete': {
        const row = await removeAccessKey(db, cmd.accessKeyId);
        await audit('bosun:DeleteAccessKey', [cmd.accessKeyId]);
        return { AccessKeyId: row.accessKeyId, Deleted: true };
      }
    }
  } finally {
    await database.close();
  }
}
