/**
 * Biometric templates at rest are sealed with AES-256-GCM. The credential id is bound as
 * additional data, so a sealed template moved to another credential fails to open.
 * Layout: 1-byte key id | 12-byte nonce | ciphertext | 16-byte tag.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BiopayError, ErrorCode } from '../errors.js';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = 1;

export class TemplateSealer {
  private constructor(private readonly key: Buffer) {}

  /** From BIOPAY_TEMPLATE_KEY (base64 of 32 bytes) or BIOPAY_TEMPLATE_KEY_FILE (the same, in a file). */
  static fromEnvironment(environment: NodeJS.ProcessEnv = process.env): TemplateSealer {
    const file = environment.BIOPAY_TEMPLATE_KEY_FILE;
    const encoded = environment.BIOPAY_TEMPLATE_KEY ?? (file ? readFileSync(file, 'utf8').trim() : undefined);
    if (!encoded) {
      throw new BiopayError(ErrorCode.BadRequest,
        'templates are encrypted at rest: set BIOPAY_TEMPLATE_KEY (base64 of 32 random bytes) or BIOPAY_TEMPLATE_KEY_FILE');
    }
    return TemplateSealer.fromBase64(encoded);
  }

  static fromBase64(encoded: string): TemplateSealer {
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== KEY_BYTES) {
      throw new BiopayError(ErrorCode.BadRequest, `template key must be ${KEY_BYTES} bytes, base64-encoded; got ${key.length} bytes`);
    }
    return new TemplateSealer(key);
  }

  static generateKeyBase64(): string {
    return randomBytes(KEY_BYTES).toString('base64');
  }

  seal(template: Uint8Array, credentialId: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(credentialId, 'utf8'));
    const body = Buffer.concat([cipher.update(template), cipher.final()]);
    return Buffer.concat([Buffer.of(KEY_ID), nonce, body, cipher.getAuthTag()]);
  }

  open(sealed: Uint8Array, credentialId: string): Buffer {
    if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== KEY_ID) {
      throw new BiopayError(ErrorCode.InvalidTemplate, 'sealed template is malformed or uses an unknown key');
    }
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
    const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonce);
    decipher.setAAD(Buffer.from(credentialId, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (error) {
      throw new BiopayError(ErrorCode.InvalidTemplate, 'sealed template failed authentication (wrong key or tampered)', { cause: error });
    }
  }
}
