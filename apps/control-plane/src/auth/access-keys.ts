import { randomBytes, randomInt } from 'node:crypto';
import { InvalidParameterError, LimitExceededError, ResourceNotFoundError } from '@bosun/model';
import type { Db } from '../db/client.ts';
import {
  type AccessKeyRow,
  deleteAccessKey as deleteKeyRow,
  findAccessKey,
  findAccessKeysOfUser,
  insertAccessKey,
  listAccessKeys as listKeyRows,
  lockAccessKeys,
  newestActiveKey,
  updateAccessKeyPolicy,
  updateAccessKeyStatus,
} from '../repositories/access-keys.ts';
import { type Policy, PRESET_POLICIES, type PresetName, parsePolicy } from './policy.ts';
import type { SecretBox } from './secret-box.ts';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export const ADMIN_USER = 'admin';
/** IAM's quota: two keys per user, so one can be rotated while the other works. */
export const MAX_KEYS_PER_USER = 2;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const USER_NAME = /^[\w+=,.@-]{1,64}$/;

/** Shaped like an AWS key id (20 upper-case characters) so tools that sanity-check ids accept it. */
function newAccessKeyId(): string {
  let id = 'BKIA';
  for (let i = 0; i < 16; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

export type AdminKey = AccessKey & { status: AccessKeyRow['status'] };

/**
 * The admin user's key for STATE_DIR/env: its newest ACTIVE key, else (the very first start, or
 * every admin key deleted) a new full-access one. When every admin key is INACTIVE it answers the
 * newest with status INACTIVE and changes nothing: deactivating a key is a decision to keep, and the
 * owner gets in again with `scripts/bosun create-access-key --local` on this host.
 */
export async function ensureAdminKey(db: Db, box: SecretBox): Promise<AdminKey> {
  return db.transaction(async (tx) => {
    await lockAccessKeys(tx);
    const active = await newestActiveKey(tx, ADMIN_USER);
    if (active) return { ...openKey(box, active), status: 'ACTIVE' };
    const all = await findAccessKeysOfUser(tx, ADMIN_USER);
    const newest = all.at(-1);
    if (newest) return { ...openKey(box, newest), status: newest.status };
    const key = { accessKeyId: newAccessKeyId(), secretAccessKey: randomBytes(30).toString('base64') };
    await insertAccessKey(tx, {
      accessKeyId: key.accessKeyId,
      secretCiphertext: box.seal(key.secretAccessKey),
      name: ADMIN_USER,
      status: 'ACTIVE',
      policy: PRESET_POLICIES.AdministratorAccess,
      policyName: 'AdministratorAccess',
    });
    return { ...key, status: 'ACTIVE' };
  });
}

function openKey(box: SecretBox, row: AccessKeyRow): AccessKey {
  return { accessKeyId: row.accessKeyId, secretAccessKey: openSecret(box, row.secretCiphertext) };
}

function openSecret(box: SecretBox, sealed: string): string {
  try {
    return box.open(sealed);
  } catch {
    throw new Error(
      'Cannot decrypt the stored access keys: the master key (BOSUN_MASTER_KEY or STATE_DIR/master.key) ' +
        'is not the one they were sealed with.',
    );
  }
}

/** How a new key's policy is given: a preset by name, a document, or (absent) as the user's other key. */
export interface PolicyChoice {
  policyName?: string;
  policyDocument?: string;
}

/** A preset, or a document parsed against the actions bosun knows; syntax errors throw. */
export function resolvePolicy(
  choice: PolicyChoice,
  knownActions: ReadonlySet<string>,
): Pick<AccessKeyRow, 'policy' | 'policyName'> | undefined {
  if (choice.policyName !== undefined && choice.policyDocument !== undefined) {
    throw new InvalidParameterError('Give PolicyName (a preset) or PolicyDocument, not both.');
  }
  if (choice.policyName !== undefined) {
    if (!Object.hasOwn(PRESET_POLICIES, choice.policyName)) {
      throw new InvalidParameterError(
        `Unknown PolicyName '${choice.policyName}'; the presets are ${Object.keys(PRESET_POLICIES).join(', ')}.`,
      );
    }
    return { policy: PRESET_POLICIES[choice.policyName as PresetName], policyName: choice.policyName };
  }
  if (choice.policyDocument !== undefined) {
    return { policy: parsePolicy(choice.policyDocument, knownActions).document, policyName: null };
  }
  return undefined;
}

export interface CreatedKey extends AccessKey {
  userName: string;
  status: 'ACTIVE';
  createDate: Date;
  policyName: string | null;
}

/**
 * A new ACTIVE key for `userName` (at most two per user). Its policy: the one chosen; else, when the
 * user has a key already (rotation), that key's; else EcsFullAccess (every ECS action, none of
 * bosun's own and no escapes to the host).
 */
export async function createAccessKey(
  db: Db,
  box: SecretBox,
  userName: string,
  choice: PolicyChoice,
  knownActions: ReadonlySet<string>,
): Promise<CreatedKey> {
  if (!USER_NAME.test(userName)) {
    throw new InvalidParameterError('UserName must be 1 to 64 letters, digits and +=,.@_-.');
  }
  const chosen = resolvePolicy(choice, knownActions);
  return db.transaction(async (tx) => {
    await lockAccessKeys(tx);
    const existing = await findAccessKeysOfUser(tx, userName);
    if (existing.length >= MAX_KEYS_PER_USER) {
      throw new LimitExceededError(
        `Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}. Delete one of ${userName}'s keys first.`,
      );
    }
    const newest = existing.at(-1);
    const policy = chosen ??
      (newest ? { policy: newest.policy, policyName: newest.policyName } : undefined) ?? {
        policy: PRESET_POLICIES.EcsFullAccess,
        policyName: 'EcsFullAccess',
      };
    const secretAccessKey = randomBytes(30).toString('base64');
    const row = await insertAccessKey(tx, {
      accessKeyId: newAccessKeyId(),
      secretCiphertext: box.seal(secretAccessKey),
      name: userName,
      status: 'ACTIVE',
      ...policy,
    });
    return {
      accessKeyId: row.accessKeyId,
      secretAccessKey,
      userName,
      status: 'ACTIVE',
      createDate: row.createdAt,
      policyName: row.policyName,
    };
  });
}

export async function listAccessKeys(db: Db, userName?: string): Promise<AccessKeyRow[]> {
  return listKeyRows(db, userName);
}

function noSuchKey(accessKeyId: string): ResourceNotFoundError {
  return new ResourceNotFoundError(`The Access Key with id ${accessKeyId} cannot be found.`);
}

export async function setAccessKeyStatus(
  db: Db,
  accessKeyId: string,
  status: AccessKeyRow['status'],
  userName?: string,
): Promise<AccessKeyRow> {
  const row = await db.transaction((tx) => updateAccessKeyStatus(tx, accessKeyId, status, userName));
  if (!row) throw noSuchKey(accessKeyId);
  return row;
}

export async function setAccessKeyPolicy(
  db: Db,
  accessKeyId: string,
  choice: PolicyChoice,
  knownActions: ReadonlySet<string>,
): Promise<AccessKeyRow> {
  const policy = resolvePolicy(choice, knownActions);
  if (!policy) throw new InvalidParameterError('Give PolicyName (a preset) or PolicyDocument.');
  const row = await db.transaction((tx) => updateAccessKeyPolicy(tx, accessKeyId, policy));
  if (!row) throw noSuchKey(accessKeyId);
  return row;
}

export async function removeAccessKey(db: Db, accessKeyId: string, userName?: string): Promise<AccessKeyRow> {
  const row = await db.transaction((tx) => deleteKeyRow(tx, accessKeyId, userName));
  if (!row) throw noSuchKey(accessKeyId);
  return row;
}

/** What a request's signature and authorization need of its key. */
export interface KeyIdentity {
  accessKeyId: string;
  secret: string;
  userName: string;
  policy: Pick<Policy, 'statements'>;
}

/**
 * Looks up keys for signature verification and authorization. Keys are few and rarely change, so a
 * short-lived cache keeps a database round trip off every request: a key deactivated, deleted or
 * given a new policy through this process takes effect at once here (`forget`), and in other
 * control-plane processes within `ttlMs`.
 */
export class AccessKeyStore {
  readonly #cache = new Map<string, { key: KeyIdentity | undefined; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly ttlMs = 5_000,
  ) {}

  /** The ACTIVE key with that id; undefined for an unknown, INACTIVE or deleted one. */
  async lookup(accessKeyId: string, now = Date.now()): Promise<KeyIdentity | undefined> {
    const hit = this.#cache.get(accessKeyId);
    if (hit && hit.until > now) return hit.key;
    const row = await findAccessKey(this.db, accessKeyId);
    const key =
      row && row.status === 'ACTIVE'
        ? {
            accessKeyId,
            secret: openSecret(this.box, row.secretCiphertext),
            userName: row.name,
            policy: storedPolicy(row.policy),
          }
        : undefined;
    // Bound the cache so random key ids sent by a scanner cannot grow it without limit.
    if (this.#cache.size > 1000) this.#cache.clear();
    this.#cache.set(accessKeyId, { key, until: now + this.ttlMs });
    return key;
  }

  async secretFor(accessKeyId: string): Promise<string | undefined> {
    return (await this.lookup(accessKeyId))?.secret;
  }

  forget(accessKeyId: string): void {
    this.#cache.delete(accessKeyId);
  }
}

/** A stored policy was checked when it was stored; one that no longer parses allows nothing. */
function storedPolicy(document: unknown): Pick<Policy, 'statements'> {
  try {
    return parsePolicy(document, undefined);
  } catch {
    return { statements: [] };
  }
}
