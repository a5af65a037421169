import { describe, expect, it } from 'vitest';
import { TemplateSealer } from '../../../core/association/template-crypto.js';
import { ErrorCode } from '../../../core/errors.js';

describe('template sealing (AES-256-GCM)', () => {
  const sealer = TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64());
  const template = Buffer.from('FMR\u0000 20\u0000 some minutiae bytes');

  it('round-trips and never stores the plain template', () => {
    const sealed = sealer.seal(template, 'cred_1');
    expect(sealed.includes(template)).toBe(false);
    expect(sealer.open(sealed, 'cred_1')).toEqual(template);
  });

  it('refuses a sealed template moved to another credential, tampered, or under another key', () => {
    const sealed = sealer.seal(template, 'cred_1');
    expect(() => sealer.open(sealed, 'cred_2')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidTemplate }));
    const tampered = Buffer.from(sealed);
    tampered[20] = tampered[20]! ^ 1;
    expect(() => sealer.open(tampered, 'cred_1')).toThrow(/authentication/);
    const other = TemplateSealer.fromBase64(TemplateSealer.generateKeyBase64());
    expect(() => other.open(sealed, 'cred_1')).toThrow(/authentication/);
    expect(() => sealer.open(Buffer.alloc(5), 'cred_1')).toThrow(/malformed/);
  });

  it('refuses keys of the wrong size and a missing key', () => {
    expect(() => TemplateSealer.fromBase64(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
    expect(() => TemplateSealer.fromEnvironment({})).toThrow(/BIOPAY_TEMPLATE_KEY/);
  });
});
