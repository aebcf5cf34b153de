import { randomBytes, randomInt } from 'node:crypto';
import type { Db } from '../db/client.ts';
import {
  findAccessKey,
  findAccessKeyByName,
  insertAccessKey,
  lockAccessKeys,
} from '../repositories/access-keys.ts';
import type { SecretBox } from './secret-box.ts';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

const ADMIN_KEY_NAME = 'admin';
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Shaped like an AWS key id (20 upper-case characters) so tools that sanity-check ids accept it. */
function newAccessKeyId(): string {
  let id = 'BKIA';
  for (let i = 0; i < 16; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** Returns the admin key, creating it on the very first start (under the access-key lock). */
export async function ensureAdminKey(db: Db, box: SecretBox): Promise<AccessKey> {
  return db.transaction(async (tx) => {
    await lockAccessKeys(tx);
    const existing = await findAccessKeyByName(tx, ADMIN_KEY_NAME);
    if (existing) {
      return {
        accessKeyId: existing.accessKeyId,
        secretAccessKey: openSecret(box, existing.secretCiphertext),
      };
    }
    const key = { accessKeyId: newAccessKeyId(), secretAccessKey: randomBytes(30).toString('base64') };
    await insertAccessKey(tx, {
      accessKeyId: key.accessKeyId,
      secretCiphertext: box.seal(key.secretAccessKey),
      name: ADMIN_KEY_NAME,
      status: 'ACTIVE',
    });
    return key;
  });
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

/**
 * Looks up secrets for signature verification. Keys are few and rarely change, so a short-lived
 * cache keeps a database round trip off every request.
 */
export class AccessKeyStore {
  readonly #cache = new Map<string, { secret: string | undefined; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly ttlMs = 30_000,
  ) {}

  async secretFor(accessKeyId: string, now = Date.now()): Promise<string | undefined> {
    const hit = this.#cache.get(accessKeyId);
    if (hit && hit.until > now) return hit.secret;
    const row = await findAccessKey(this.db, accessKeyId);
    const secret = row && row.status === 'ACTIVE' ? openSecret(this.box, row.secretCiphertext) : undefined;
    // Bound the cache so random key ids sent by a scanner cannot grow it without limit.
    if (this.#cache.size > 1000) this.#cache.clear();
    this.#cache.set(accessKeyId, { secret, until: now + this.ttlMs });
    return secret;
  }
}
