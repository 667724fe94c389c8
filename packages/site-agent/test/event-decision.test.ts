import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  generateSigningKeyPair,
  type Manifest,
  ROLLOUT_SCHEMA,
  type RolloutRecord,
  type StatusRecord,
  signManifest,
} from '@ferry/shared';
import { decideEvent, decodeEvent } from '@ferry/site-agent/internal';
import { describe, expect, it } from 'vitest';

const pair = generateSigningKeyPair();
const key = { keyId: pair.keyId, privateKey: createPrivateKey(pair.privateKeyPem) };
const trusted = [{ keyId: pair.keyId, publicKey: createPublicKey(pair.publicKeyPem), source: 't' }];
const site = { site: 'dc1', zone: 'corp', labels: {} };

function manifest(over: Partial<Manifest> = {}): Manifest {
  const {
    signature: _s,
    keyId: _k,
    ...rest
  } = {
    schema: 'ferry/manifest/v1' as const,
    name: 'ubuntu',
    version: '1',
    artifact: 'ubuntu/1/u.ova',
    sha256: 'a'.repeat(64),
    size: 10,
    files: [{ name: 'u.ovf', size: 1, sha256: 'b'.repeat(64) }],
    targets: ['*'],
    labels: {},
    publishedAt: '2026-11-02T00:00:00Z',
    keyId: '',
    signature: '',
    ...over,
  };
  return signManifest(rest, key);
}

function event(kind: 'published' | 'republish', m: Manifest, force = false) {
  const base = { schema: 'ferry/event/v1' as const, id: 'x', sentAt: '2026-11-21T00:00:00Z', manifest: m };
  return kind === 'published' ? { ...base, kind } : { ...base, kind, force };
}

function record(over: Partial<StatusRecord>): StatusRecord {
  return {
    site: 'dc1',
    name: 'ubuntu',
    version: '1',
    sha256: 'a'.repeat(64),
    state: 'ready',
    bytesDone: 0,
    bytesTotal: 0,
    attempts: 1,
    updatedAt: '',
    agentVersion: '0',
    publishedAt: '2026-11-02T00:00:00Z',
    ...over,
  };
}

describe('decodeEvent', () => {
  it.each([
    ['not JSON', Buffer.from('{ nope'), 'EVENT_NOT_JSON'],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0x7b]), 'EVENT_NOT_JSON'],
    ['10 MB', Buffer.alloc(10 * 1024 * 1024, 0x20), 'EVENT_TOO_LARGE'],
    ['wrong schema', Buffer.from('{"schema":"x"}'), 'SCHEMA_INVALID'],
  ])('rejects %s', (_label, data, code) => {
    const r = decodeEvent(data);
    expect('action' in r && r.code).toBe(code);
  });
});

describe('decideEvent', () => {
  const m = manifest();
  it.each<[string, ReturnType<typeof event>, StatusRecord | undefined, string]>([
    ['new image → import', event('published', m), undefined, 'import'],
    ['duplicate of a ready image → ignore', event('published', m), record({}), 'ignore'],
    ['duplicate of a pending job → ignore', event('published', m), record({ state: 'pending' }), 'ignore'],
    ['after a failure → import again', event('published', m), record({ state: 'failed' }), 'import'],
    [
      'republish of a ready image → import (a no-op if the library holds it)',
      event('republish', m),
      record({}),
      'import',
    ],
    ['republish --force → import', event('republish', m, true), record({}), 'import'],
    ['not targeted → ignore', event('published', manifest({ targets: ['zone:pci'] })), undefined, 'ignore'],
    [
      'older manifest with other bytes → rollback refused',
      event('published', manifest({ sha256: 'c'.repeat(64), publishedAt: '2026-11-01T00:00:00Z' })),
      record({}),
      'reject',
    ],
    [
      'newer, other bytes, without replaces → refused',
      event('published', manifest({ sha256: 'c'.repeat(64), publishedAt: '2026-11-03T00:00:00Z' })),
      record({}),
      'reject',
    ],
    [
      'newer, other bytes, replaces the current → import',
      event(
        'published',
        manifest({ sha256: 'c'.repeat(64), publishedAt: '2026-11-03T00:00:00Z', replaces: 'a'.repeat(64) }),
      ),
      record({}),
      'import',
    ],
    ['tampered → rejected', event('published', { ...m, size: 11 }), undefined, 'reject'],
  ])('%s', (_label, ev, current, action) => {
    expect(decideEvent(ev as never, { site, trusted, current }).action).toBe(action);
  });

  it('names the code of a rollback', () => {
    const d = decideEvent(
      event('published', manifest({ sha256: 'c'.repeat(64), publishedAt: '2026-11-01T00:00:00Z' })) as never,
      {
        site,
        trusted,
        current: record({}),
      },
    );
    expect(d).toMatchObject({ action: 'reject', code: 'ROLLBACK_REFUSED' });
  });
});

describe('events of an image under a rollout', () => {
  const m = manifest();
  const rollout = (releasedWaves: number, sha256 = m.sha256): RolloutRecord => ({
    schema: ROLLOUT_SCHEMA,
    name: 'ubuntu',
    version: '1',
    sha256,
    gate: 'none',
    waves: [
      { name: 'canary', targets: ['dc9'], soakMs: 0 },
      { name: 'rest', targets: ['*'], soakMs: 0 },
    ].map((w, i) => (i < releasedWaves ? { ...w, releasedAt: '2026-12-01T00:00:00Z' } : w)),
    createdAt: '2026-12-01T00:00:00Z',
    updatedAt: '2026-12-01T00:00:00Z',
  });

  it.each([
    ['published', 1, 'ignore'],
    ['republish', 1, 'ignore'],
    ['published', 2, 'import'],
    ['republish', 2, 'import'],
  ] as const)('%s with %i wave(s) released: %s at a site of the second wave', (kind, waves, action) => {
    const d = decideEvent(event(kind, m), { site, trusted, rollout: rollout(waves) });
    expect(d.action).toBe(action);
    if (action === 'ignore') expect(d).toMatchObject({ reason: 'rollout wave rest is not released for dc1 yet' });
  });

  it('a rollout of other bytes does not hold these back', () => {
    expect(decideEvent(event('published', m), { site, trusted, rollout: rollout(0, 'c'.repeat(64)) }).action).toBe(
      'import',
    );
  });

  it('a re-signed manifest (new key id, same bytes) is not imported again', () => {
    const next = generateSigningKeyPair();
    const { signature: _s, keyId: _k, ...unsigned } = m;
    const resigned = signManifest(unsigned, { keyId: next.keyId, privateKey: createPrivateKey(next.privateKeyPem) });
    const bothKeys = [...trusted, { keyId: next.keyId, publicKey: createPublicKey(next.publicKeyPem), source: 'n' }];
    expect(resigned.keyId).not.toBe(m.keyId);
    const d = decideEvent(event('published', resigned), {
      site,
      trusted: bothKeys,
      current: record({ state: 'ready' }),
    });
    expect(d).toMatchObject({ action: 'ignore', reason: 'already ready' });
  });
});
