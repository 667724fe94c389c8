import { describe, expect, it } from 'vitest';
import type { LibraryInfo } from '../src/transfer/subscription-api.js';
import { type ExpectedFile, judgeSubscribedItem, planSubscription } from '../src/transfer/subscription-verdict.js';
import type { LibraryFileInfo } from '../src/vcenter/content-library-client.js';

const SUM = 'ab'.repeat(32);
const expected: ExpectedFile[] = [
  { name: 'img.ovf', size: 100, checksum: { algorithm: 'SHA256', checksum: SUM } },
  { name: 'img-disk1.vmdk', size: 5000 },
];
const ovf = (extra: Partial<LibraryFileInfo> = {}): LibraryFileInfo => ({ name: 'img.ovf', size: 100, ...extra });
const vmdk = (extra: Partial<LibraryFileInfo> = {}): LibraryFileInfo => ({
  name: 'img-disk1.vmdk',
  size: 5000,
  ...extra,
});

describe('judgeSubscribedItem', () => {
  const cases: {
    what: string;
    actual: LibraryFileInfo[] | undefined;
    state: string;
    missing?: string[];
    wrong?: RegExp;
    bytes: number;
  }[] = [
    { what: 'no item', actual: undefined, state: 'missing', missing: ['img.ovf', 'img-disk1.vmdk'], bytes: 0 },
    { what: 'every file, no checksums reported', actual: [ovf(), vmdk()], state: 'ok', bytes: 5100 },
    {
      what: 'every file, cached, matching checksum (other case)',
      actual: [ovf({ cached: true, checksum: { algorithm: 'sha256', checksum: SUM.toUpperCase() } }), vmdk()],
      state: 'ok',
      bytes: 5100,
    },
    {
      what: 'a checksum of another algorithm is not compared',
      actual: [ovf({ checksum: { algorithm: 'SHA1', checksum: 'ff'.repeat(20) } }), vmdk()],
      state: 'ok',
      bytes: 5100,
    },
    { what: 'a file absent', actual: [ovf()], state: 'incomplete', missing: ['img-disk1.vmdk'], bytes: 100 },
    {
      what: 'a file known but not downloaded',
      actual: [ovf(), vmdk({ cached: false })],
      state: 'incomplete',
      missing: ['img-disk1.vmdk'],
      bytes: 100,
    },
    {
      what: 'a file of the wrong size',
      actual: [ovf(), vmdk({ size: 4096 })],
      state: 'incomplete',
      wrong: /img-disk1\.vmdk \(4096 bytes, expected 5000\)/,
      bytes: 100,
    },
    {
      what: 'a wrong checksum',
      actual: [ovf({ checksum: { algorithm: 'SHA256', checksum: 'cd'.repeat(32) } }), vmdk()],
      state: 'incomplete',
      wrong: /img\.ovf \(SHA256 cdcd/,
      bytes: 5000,
    },
    {
      what: 'extra files do not matter',
      actual: [ovf(), vmdk(), { name: 'img.mf', size: 10 }],
      state: 'ok',
      bytes: 5100,
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const v = judgeSubscribedItem(expected, c.actual);
      expect(v.state).toBe(c.state);
      expect(v.missingFiles).toEqual(c.missing ?? []);
      if (c.wrong) expect(v.wrongFiles.join('; ')).toMatch(c.wrong);
      else expect(v.wrongFiles).toEqual([]);
      expect(v.bytes).toBe(c.bytes);
      expect(v.totalBytes).toBe(5100);
    });
  }
});

describe('planSubscription', () => {
  const URL = 'https://vc1.example/cls/vcsp/lib/abc/lib.json';
  const sub = (s: LibraryInfo['subscription'], type = 'SUBSCRIBED'): LibraryInfo => ({
    id: 'lib-2',
    name: 'golden-sub',
    type,
    description: 'Managed by ferry',
    ...(s ? { subscription: s } : {}),
  });
  const cases: { what: string; lib: LibraryInfo | undefined; action: string; reason?: RegExp }[] = [
    { what: 'no library', lib: undefined, action: 'create' },
    {
      what: 'subscribed to the source, syncing content',
      lib: sub({ subscriptionUrl: URL, onDemand: false, automaticSyncEnabled: true }),
      action: 'keep',
    },
    { what: 'a trailing slash is the same URL', lib: sub({ subscriptionUrl: `${URL}/` }), action: 'keep' },
    {
      what: 'subscribed elsewhere',
      lib: sub({ subscriptionUrl: 'https://vc9.example/cls/vcsp/lib/zzz/lib.json' }),
      action: 'update',
      reason: /subscribes to https:\/\/vc9/,
    },
    { what: 'no subscription info', lib: sub(undefined), action: 'update', reason: /subscribes to nothing/ },
    { what: 'on demand', lib: sub({ subscriptionUrl: URL, onDemand: true }), action: 'update', reason: /on demand/ },
    {
      what: 'automatic sync off',
      lib: sub({ subscriptionUrl: URL, automaticSyncEnabled: false }),
      action: 'update',
      reason: /automatic sync/,
    },
    {
      what: 'a local library of that name',
      lib: sub(undefined, 'LOCAL'),
      action: 'conflict',
      reason: /is a LOCAL library/,
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const plan = planSubscription(c.lib, URL);
      expect(plan.action).toBe(c.action);
      if (c.reason) expect('reason' in plan ? plan.reason : '').toMatch(c.reason);
    });
  }
});
