import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with Node's crypto (a primitive, not hand-rolled crypto). Output is
 * base64(iv ‖ tag ‖ ciphertext); GCM's tag makes a wrong master key fail loudly instead of
 * yielding a garbage secret.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(keyHex: string) {
    this.#key = Buffer.from(keyHex, 'hex');
    if (this.#key.length !== 32) throw new Error('master key must be 32 bytes (64 hex characters)');
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
  }

  open(sealed: string): string {
    const buf = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, buf.subarray(0, 12));
    decipher.setAuthTag(buf.subarray(12, 28));
    return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]).toString('utf8');
  }
}
