import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  canonicalJson,
  generateSigningKeyPair,
  keyIdOf,
  parseEvent,
  parseManifest,
  SchemaError,
  SignatureError,
  signManifest,
  verifyManifest,
} from '@ferry/shared';
import { describe, expect, it } from 'vitest';

function keys() {
  const pair = generateSigningKeyPair();
  const privateKey = createPrivateKey(pair.privateKeyPem);
  const publicKey = createPublicKey(pair.publicKeyPem);
  return {
    signing: { keyId: pair.keyId, privateKey },
    trusted: { keyId: pair.keyId, publicKey, source: 'test' },
  };
}

const base = {
  schema: 'ferry/manifest/v1' as const,
  name: 'ubuntu-22_04',
  version: '2026.11.21',
  artifact: 'ubuntu-22_04/2026.11.21/ubuntu.ova',
  sha256: 'a'.repeat(64),
  size: 1234,
  files: [{ name: 'ubuntu.ovf', size: 10, sha256: 'b'.repeat(64) }],
  targets: ['*'],
  labels: { os: 'ubuntu' },
  publishedAt: '2026-11-21T10:00:00Z',
};

function schemaError(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SchemaError);
    return err as SchemaError;
  }
  throw new Error('expected a SchemaError');
}

describe('manifest', () => {
  it('signs and verifies; key order does not matter', () => {
    const k = keys();
    const m = signManifest(base, k.signing);
    expect(m.keyId).toBe(k.signing.keyId);
    const reordered = JSON.parse(canonicalJson(m)) as typeof m;
    expect(verifyManifest(parseManifest(reordered), [k.trusted]).keyId).toBe(k.trusted.keyId);
  });

  it('refuses a tampered manifest', () => {
    const k = keys();
    const m = signManifest(base, k.signing);
    const tampered = { ...m, sha256: 'c'.repeat(64) };
    expect(() => verifyManifest(tampered, [k.trusted])).toThrow(SignatureError);
    expect(() => verifyManifest(tampered, [k.trusted])).toThrow(/does not verify/);
  });

  it('refuses a manifest signed by an untrusted key and names the key', () => {
    const a = keys();
    const b = keys();
    const m = signManifest(base, a.signing);
    expect(() => verifyManifest(m, [b.trusted])).toThrow(new RegExp(`key ${a.signing.keyId}.*not in trust.publicKeys`));
  });

  it('accepts either of two trusted keys (rotation)', () => {
    const a = keys();
    const b = keys();
    expect(verifyManifest(signManifest(base, b.signing), [a.trusted, b.trusted]).keyId).toBe(b.signing.keyId);
  });

  it('key id is stable for the same public key', () => {
    const k = keys();
    expect(keyIdOf(k.trusted.publicKey)).toBe(k.signing.keyId);
    expect(k.signing.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('names the field and value of a bad sha256', () => {
    const k = keys();
    const m = { ...signManifest(base, k.signing), sha256: 'xyz' };
    const err = schemaError(() => parseManifest(m));
    expect(err.message).toContain('sha256');
    expect(err.message).toContain('"xyz"');
  });

  it('names a negative size', () => {
    const m = { ...signManifest(base, keys().signing), size: -5 };
    expect(schemaError(() => parseManifest(m)).message).toMatch(/size: .*-5/);
  });

  it('refuses an artifact path that leaves the store prefix', () => {
    const m = { ...signManifest(base, keys().signing), artifact: '../etc/passwd' };
    expect(schemaError(() => parseManifest(m)).message).toMatch(/artifact: .*"\.\.\/etc\/passwd"/);
  });

  it('names an unknown field and bad target selector', () => {
    const m = { ...signManifest(base, keys().signing), targets: ['zone:'], extra: 1 };
    const msg = schemaError(() => parseManifest(m)).message;
    expect(msg).toContain('targets.0');
    expect(msg).toContain('extra');
  });
});

describe('event', () => {
  it('parses a published event and rejects an unknown kind', () => {
    const manifest = signManifest(base, keys().signing);
    const ev = parseEvent({
      schema: 'ferry/event/v1',
      id: 'x',
      sentAt: '2026-11-21T10:00:00Z',
      kind: 'published',
      manifest,
    });
    expect(ev.kind).toBe('published');
    expect(() =>
      parseEvent({ schema: 'ferry/event/v1', id: 'x', sentAt: '2026-11-21T10:00:00Z', kind: 'nuke' }),
    ).toThrow(SchemaError);
  });
});
