/** The rollout planner and the publish flags, as tables (pure: no NATS). */
import { ROLLOUT_SCHEMA, type RolloutRecord, type SiteIdentity, siteReleased, waveOfSite } from '@ferry/shared';
import { describe, expect, it } from 'vitest';
import {
  parseRolloutFlags,
  planRollout,
  type RolloutAction,
  resolveRollout,
  type SiteImageStatus,
} from '../src/internal.js';

const SHA = 'a'.repeat(64);
const T0 = Date.parse('2026-12-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const SITES: SiteIdentity[] = [
  { site: 'dc1', zone: 'corp', labels: { canary: 'true' } },
  { site: 'dc2', zone: 'corp', labels: {} },
  { site: 'dc3', zone: 'pci', labels: {} },
];

function record(patch: Partial<RolloutRecord> = {}, waves: Array<Partial<RolloutRecord['waves'][number]>> = []) {
  const base: RolloutRecord = {
    schema: ROLLOUT_SCHEMA,
    name: 'ubuntu',
    version: '1',
    sha256: SHA,
    gate: 'none',
    waves: [
      { name: 'canary', targets: ['label:canary=true'], soakMs: 5_000 },
      { name: 'rest', targets: ['*'], soakMs: 0 },
    ],
    createdAt: iso(T0),
    updatedAt: iso(T0),
  };
  return { ...base, ...patch, waves: (patch.waves ?? base.waves).map((w, i) => ({ ...w, ...waves[i] })) };
}

const released = { releasedAt: iso(T0), announcedAt: iso(T0) };
const ready: SiteImageStatus = { state: 'ready', sha256: SHA };
const st = (s: Partial<SiteImageStatus>): SiteImageStatus => ({ ...ready, ...s });

const cases: Array<{
  name: string;
  record: RolloutRecord;
  statuses?: Record<string, SiteImageStatus>;
  manifest?: { sha256: string; targets: string[]; retiredAt?: string } | null;
  now?: number;
  want: RolloutAction | Partial<RolloutAction>;
}> = [
  {
    name: 'nothing released: release wave 1 to its sites',
    record: record(),
    want: { kind: 'release', wave: 0, sites: ['dc1'] },
  },
  {
    name: 'held for approval: idle',
    record: record({ gate: 'approval' }),
    want: { kind: 'idle', reason: 'held: waiting for approval' },
  },
  {
    name: 'approved: release wave 1',
    record: record({ gate: 'approval', approval: { by: 'ops', at: iso(T0) } }),
    want: { kind: 'release', wave: 0 },
  },
  {
    name: 'released but not announced (coordinator stopped in between): announce again',
    record: record({}, [{ releasedAt: iso(T0) }]),
    want: { kind: 'release', wave: 0, sites: ['dc1'] },
  },
  {
    name: 'canary downloading: wait for it',
    record: record({}, [released]),
    statuses: { dc1: st({ state: 'downloading' }) },
    want: { kind: 'wait', reason: 'wave canary: waiting for dc1' },
  },
  {
    name: 'canary has no status yet: wait',
    record: record({}, [released]),
    want: { kind: 'wait', reason: 'wave canary: waiting for dc1' },
  },
  {
    name: 'deploy check running (state checking): not ready yet',
    record: record({}, [released]),
    statuses: { dc1: st({ state: 'checking' }) },
    want: { kind: 'wait' },
  },
  {
    name: 'ready with a passed check: the soak starts',
    record: record({}, [released]),
    statuses: { dc1: st({ check: { passed: true } }) },
    want: { kind: 'mark-ready', wave: 0 },
  },
  {
    name: 'failed deploy check halts',
    record: record({}, [released]),
    statuses: {
      dc1: st({
        state: 'failed',
        check: { passed: false },
        error: { code: 'DEPLOY_CHECK_FAILED', message: 'no disk' },
      }),
    },
    want: { kind: 'halt', reason: 'wave canary: dc1: deploy check failed (no disk)' },
  },
  {
    name: 'final failure halts with its code',
    record: record({}, [released]),
    statuses: { dc1: st({ state: 'failed', error: { code: 'CHECKSUM_MISMATCH', message: 'bad bytes' } }) },
    want: { kind: 'halt', reason: 'wave canary: dc1 failed: CHECKSUM_MISMATCH: bad bytes' },
  },
  {
    name: 'a failure the agent will retry does not halt yet',
    record: record({}, [released]),
    statuses: {
      dc1: st({ state: 'failed', retryAt: iso(T0 + 10_000), error: { code: 'STORE_ERROR', message: '503' } }),
    },
    want: { kind: 'wait' },
  },
  {
    name: 'status of other (older) bytes: not ready, not a failure',
    record: record({}, [released]),
    statuses: { dc1: st({ state: 'failed', sha256: 'b'.repeat(64) }) },
    want: { kind: 'wait' },
  },
  {
    name: 'soaking: wait until the soak ends',
    record: record({}, [{ ...released, readyAt: iso(T0 + 1_000) }]),
    statuses: { dc1: ready },
    now: T0 + 2_000,
    want: { kind: 'wait', until: T0 + 6_000 },
  },
  {
    name: 'soak over: release the next wave to the remaining sites',
    record: record({}, [{ ...released, readyAt: iso(T0 + 1_000) }]),
    statuses: { dc1: ready },
    now: T0 + 6_000,
    want: { kind: 'release', wave: 1, sites: ['dc2', 'dc3'] },
  },
  {
    name: 'manifest targets only corp: pci site is not in the wave',
    record: record({}, [{ ...released, readyAt: iso(T0) }]),
    statuses: { dc1: ready },
    manifest: { sha256: SHA, targets: ['zone:corp'] },
    now: T0 + 6_000,
    want: { kind: 'release', wave: 1, sites: ['dc2'] },
  },
  {
    name: 'last wave ready, soak 0: done',
    record: record({}, [
      { ...released, readyAt: iso(T0) },
      { ...released, readyAt: iso(T0 + 7_000) },
    ]),
    statuses: { dc1: ready, dc2: ready, dc3: ready },
    now: T0 + 7_000,
    want: { kind: 'done' },
  },
  {
    name: 'last wave: one site still importing',
    record: record({}, [{ ...released, readyAt: iso(T0) }, released]),
    statuses: { dc1: ready, dc2: ready, dc3: st({ state: 'importing' }) },
    want: { kind: 'wait', reason: 'wave rest: waiting for dc3' },
  },
  {
    name: 'first wave selects no site: halt with what to do',
    record: record(
      {
        waves: [
          { name: 'canary', targets: ['label:canary=nope'], soakMs: 0 },
          { name: 'rest', targets: ['*'], soakMs: 0 },
        ],
      },
      [released],
    ),
    want: { kind: 'halt', reason: expect.stringContaining('selects no site that runs an agent') },
  },
  { name: 'halted: idle', record: record({ halt: { reason: 'by ops', at: iso(T0) } }), want: { kind: 'idle' } },
  { name: 'done: idle', record: record({ doneAt: iso(T0) }), want: { kind: 'idle', reason: 'done' } },
  {
    name: 'not in the catalog (a publish between rollout and catalog write): wait',
    record: record(),
    manifest: null,
    want: { kind: 'wait' },
  },
  {
    name: 'retired: halt',
    record: record({}, [released]),
    manifest: { sha256: SHA, targets: ['*'], retiredAt: iso(T0) },
    want: { kind: 'halt' },
  },
];

describe('planRollout', () => {
  it.each(cases)('$name', ({ record: r, statuses, manifest, now, want }) => {
    const action = planRollout({
      record: r,
      manifest: manifest === null ? undefined : (manifest ?? { sha256: SHA, targets: ['*'] }),
      sites: SITES,
      statuses: new Map(Object.entries(statuses ?? {})),
      now: now ?? T0,
    });
    expect(action).toMatchObject(want);
  });
});

describe('wave membership (shared with the agents)', () => {
  const r = record({}, [released]);
  it.each([
    ['dc1', 0, true],
    ['dc2', 1, false],
    ['dc3', 1, false],
  ] as const)('%s is in wave %i, released %s', (site, wave, isReleased) => {
    const identity = SITES.find((s) => s.site === site)!;
    expect(waveOfSite(r.waves, identity)).toBe(wave);
    expect(siteReleased(r, identity)).toBe(isReleased);
  });
  it('a site no wave names goes with the last wave', () => {
    expect(waveOfSite([{ targets: ['dc1'] }, { targets: ['zone:corp'] }], SITES[2]!)).toBe(1);
  });
});

describe('publish flags', () => {
  it.each([
    [
      { waves: ['canary=label:canary=true,dc9', 'rest=*'], soak: '30m' },
      { canary: ['label:canary=true', 'dc9'], soakMs: 1_800_000 },
    ],
    [{ waves: ['all=*'] }, { all: ['*'], soakMs: 0 }],
  ])('parses %j', (flags, want) => {
    const r = parseRolloutFlags(flags);
    const first = Object.keys(want)[0]!;
    expect(r.waves?.[0]).toEqual({ name: first, targets: want[first as keyof typeof want], soakMs: want.soakMs });
  });
  it.each([
    [{ waves: ['canary'] }, /NAME=SELECTOR/],
    [{ waves: ['c=bad selector'] }, /invalid --wave/],
    [{ waves: ['a=*', 'a=dc1'] }, /unique/],
    [{ soak: '5m' }, /--soak needs --wave/],
    [{ waves: ['a=*'], soak: 'soon' }, /invalid --soak/],
  ])('refuses %j', (flags, message) => {
    expect(() => parseRolloutFlags(flags)).toThrow(message);
  });
  it('policy, flags and the default', () => {
    const policy = { gate: 'none' as const, waves: [{ name: 'canary', targets: ['dc1'], soakMs: 0 }] };
    expect(resolveRollout({ gate: 'none', waves: [] }, { hold: false })).toBeUndefined();
    expect(resolveRollout(policy, { hold: false })).toEqual(policy);
    expect(resolveRollout({ gate: 'none', waves: [] }, { hold: true })).toEqual({
      gate: 'approval',
      waves: [{ name: 'all', targets: ['*'], soakMs: 0 }],
    });
    const flagWaves = [{ name: 'x', targets: ['*'], soakMs: 1 }];
    expect(resolveRollout(policy, { waves: flagWaves, hold: false })?.waves).toEqual(flagWaves);
  });
});
