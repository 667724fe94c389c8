/** Pure tests of the status matrix and its rendering (no servers: records and heartbeats in, rows out). */
import {
  type Heartbeat,
  type Manifest,
  type ReconcileReport,
  ROLLOUT_SCHEMA,
  type RolloutRecord,
  type StatusRecord,
} from '@ferry/shared';
import { describe, expect, it } from 'vitest';
import {
  buildStatusMatrix,
  formatAge,
  renderSitesTable,
  renderStatus,
  type StatusInput,
  unknownFilterReason,
} from '../src/internal.js';

const now = new Date('2026-11-21T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const sha = (c: string) => c.repeat(64);

function manifest(name: string, version: string, publishedAt: string, extra: Partial<Manifest> = {}): Manifest {
  return {
    schema: 'ferry/manifest/v1',
    name,
    version,
    artifact: `${name}/${version}/${name}.ova`,
    sha256: sha(version.endsWith('1') ? 'a' : 'b'),
    size: 1000,
    files: [{ name: `${name}.ovf`, size: 10, sha256: sha('c') }],
    targets: ['*'],
    labels: {},
    publishedAt,
    keyId: 'k1',
    signature: 'c2ln',
    ...extra,
  };
}

function record(site: string, m: Manifest, extra: Partial<StatusRecord>): StatusRecord {
  return {
    site,
    name: m.name,
    version: m.version,
    sha256: m.sha256,
    state: 'pending',
    bytesDone: 0,
    bytesTotal: 0,
    attempts: 0,
    updatedAt: ago(30_000),
    agentVersion: '0.1.0',
    ...extra,
  };
}

function heartbeat(site: string, lastSeenAgo: number, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    site,
    zone: site.startsWith('dmz') ? 'dmz' : 'corp',
    labels: {},
    agentVersion: '0.1.0',
    lastSeen: ago(lastSeenAgo),
    queueDepth: 1,
    activeDownloads: 1,
    activeImports: 0,
    suspended: false,
    ...extra,
  };
}

const u1 = manifest('ubuntu', '2026.11.01', ago(20 * 86_400_000));
const u2 = manifest('ubuntu', '2026.11.21', ago(2 * 3_600_000));
const a1 = manifest('alma', '9.1', ago(3 * 86_400_000), { targets: ['zone:dmz'] });
const retired = manifest('alma', '8.1', ago(90 * 86_400_000), { retiredAt: ago(86_400_000) });

const report: ReconcileReport = {
  site: 'dc1',
  startedAt: ago(5 * 60_000),
  finishedAt: ago(4 * 60_000),
  trigger: 'schedule',
  dryRun: false,
  counts: { import: 1, reimport: 0, delete: 2, keep: 5, ignored: 0 },
  errors: [],
};

const input: StatusInput = {
  manifests: [u1, u2, a1, retired],
  records: [
    record('dc1', u2, { state: 'downloading', bytesDone: 450, bytesTotal: 1000, updatedAt: ago(10_000) }),
    record('dc1', u1, { state: 'ready', bytesDone: 1000, bytesTotal: 1000, updatedAt: ago(3 * 3_600_000) }),
    record('dmz1', u2, {
      state: 'failed',
      error: { code: 'CHECKSUM_MISMATCH', message: 'sha256 mismatch' },
      attempts: 3,
      updatedAt: ago(60_000),
    }),
    record('dmz1', a1, { state: 'ready', bytesDone: 1000, bytesTotal: 1000, sha256: sha('f') }),
    // A site that reported once and has no heartbeat any more.
    record('gone', u1, { state: 'ready' }),
  ],
  heartbeats: [heartbeat('dc1', 5_000), heartbeat('dmz1', 5 * 60_000, { suspended: true })],
  reports: [report],
  controls: [{ schema: 'ferry/site-control/v1', site: 'dc1', suspended: true, at: ago(1000), by: 'op@host' }],
};

describe('buildStatusMatrix', () => {
  const m = buildStatusMatrix(input, now);

  it('lists sites from heartbeats and records, marking stale, suspended and requested suspension', () => {
    expect(m.sites.map((s) => s.site)).toEqual(['dc1', 'dmz1', 'gone']);
    const [dc1, dmz1, gone] = m.sites;
    expect(dc1).toMatchObject({ stale: false, suspended: false, suspendRequested: true, zone: 'corp', queueDepth: 1 });
    expect(dc1?.lastReconcile).toMatchObject({ trigger: 'schedule', counts: { delete: 2 } });
    expect(dmz1).toMatchObject({ stale: true, suspended: true, suspendRequested: false });
    expect(gone).toMatchObject({ stale: true, zone: null, lastSeen: null, lastReconcile: null });
  });

  it('orders images by name, newest first, with percent and error code', () => {
    expect(m.images.map((i) => `${i.name}@${i.version}`)).toEqual([
      'alma@9.1',
      'alma@8.1',
      'ubuntu@2026.11.21',
      'ubuntu@2026.11.01',
    ]);
    const u2row = m.images[2]!;
    expect(u2row.sites.dc1).toMatchObject({ state: 'downloading', percent: 45, error: null, outdated: false });
    expect(u2row.sites.dmz1).toMatchObject({
      state: 'failed',
      percent: null,
      error: { code: 'CHECKSUM_MISMATCH', message: 'sha256 mismatch' },
      attempts: 3,
    });
    expect(m.images[0]!.sites.dmz1?.outdated).toBe(true);
    expect(m.images[1]).toMatchObject({ retired: true, retiredAt: retired.retiredAt });
  });

  it('filters by image and site', () => {
    const f = buildStatusMatrix(input, now, { name: 'ubuntu', version: '2026.11.21', sites: ['dc1'] });
    expect(f.sites.map((s) => s.site)).toEqual(['dc1']);
    expect(f.images).toHaveLength(1);
    expect(Object.keys(f.images[0]!.sites)).toEqual(['dc1']);
  });
});

describe('renderStatus', () => {
  const text = renderStatus(buildStatusMatrix(input, now), now);
  const lines = text.split('\n');

  it('draws the image × site matrix with state, percent, error code and age', () => {
    expect(lines[0]).toMatch(
      /^IMAGE\s+PUBLISHED\s+dc1 \(suspend requested\)\s+dmz1 \(stale, suspended\)\s+gone \(stale\)$/,
    );
    const u2line = lines.find((l) => l.startsWith('ubuntu@2026.11.21'))!;
    expect(u2line).toMatch(/^ubuntu@2026\.11\.21\s+2h\s+downloading 45% 10s\s+failed CHECKSUM_MISMATCH 1m\s+-$/);
    const u1line = lines.find((l) => l.startsWith('ubuntu@2026.11.01'))!;
    expect(u1line).toMatch(/20d\s+ready 3h\s+none\s+ready 30s$/);
    // alma@9.1 targets zone:dmz only: dc1 is "-" (not targeted), dmz1 holds other bytes (*).
    expect(lines.find((l) => l.startsWith('alma@9.1'))).toMatch(/3d\s+-\s+ready\* 30s/);
    expect(lines.some((l) => l.startsWith('alma@8.1 (retired)'))).toBe(true);
    expect(text).toContain('*: status of bytes that were replaced since');
    expect(text).toContain('none: targeted, no status yet · -: not targeted');
  });

  it('lists sites and the last reconcile', () => {
    const sites = lines.slice(lines.indexOf('SITES') + 1);
    expect(sites[0]).toMatch(/^SITE\s+ZONE\s+LAST SEEN\s+AGENT\s+QUEUE\s+DOWNLOADS\s+IMPORTS\s+STATE$/);
    expect(sites[1]).toMatch(/^dc1\s+corp\s+5s\s+0\.1\.0\s+1\s+1\s+0\s+SUSPEND REQUESTED$/);
    expect(sites[2]).toMatch(/^dmz1\s+dmz\s+5m\s+.*STALE, SUSPENDED$/);
    expect(sites[3]).toMatch(/^gone\s+-\s+-\s+.*STALE$/);
    const rec = lines.slice(lines.indexOf('LAST RECONCILE') + 1);
    expect(rec[1]).toMatch(/^dc1\s+4m\s+schedule\s+1\s+0\s+2\s+5\s+0\s+0$/);
  });

  it('formats ages compactly', () => {
    expect(formatAge(ago(59_000), now)).toBe('59s');
    expect(formatAge(ago(47 * 3_600_000), now)).toBe('47h');
    expect(formatAge(ago(49 * 3_600_000), now)).toBe('2d');
    expect(formatAge(null, now)).toBe('-');
  });
});

describe('rollouts in the matrix', () => {
  const rollout = (m: Manifest, extra: Partial<RolloutRecord> = {}): RolloutRecord => ({
    schema: ROLLOUT_SCHEMA,
    name: m.name,
    version: m.version,
    sha256: m.sha256,
    gate: 'approval',
    approval: { by: 'alice', at: ago(60_000), note: 'scan 4711 passed' },
    waves: [
      { name: 'canary', targets: ['dc1'], soakMs: 600_000, releasedAt: ago(120_000), readyAt: ago(60_000) },
      { name: 'rest', targets: ['*'], soakMs: 0 },
    ],
    createdAt: ago(200_000),
    updatedAt: ago(60_000),
    ...extra,
  });
  const input = (r: RolloutRecord): StatusInput => ({
    manifests: [u2],
    records: [
      {
        ...record('dc1', u2, { state: 'ready' }),
        check: { passed: true, vm: 'vm-42', durationMs: 900, at: '2026-12-01T10:00:00.000Z' },
      },
      record('dc2', u2, { state: 'pending' }),
    ],
    heartbeats: [heartbeat('dc1', 1_000), heartbeat('dc2', 1_000)],
    reports: [],
    controls: [],
    rollouts: [r],
  });

  it('shows state, soak, approval per image and the wave and deploy check per cell', () => {
    const m = buildStatusMatrix(input(rollout(u2)), now);
    const row = m.images[0]!;
    expect(row.rollout).toMatchObject({
      state: 'soaking',
      wave: 'canary',
      waveNumber: 1,
      of: 2,
      soakUntil: new Date(now.getTime() + 540_000).toISOString(),
      approvedBy: 'alice',
      note: 'scan 4711 passed',
    });
    expect(row.sites.dc1).toMatchObject({ wave: 'canary', check: { passed: true, vm: 'vm-42' } });
    expect(row.sites.dc2).toMatchObject({ wave: 'rest', check: null });
    const text = renderStatus(m, now);
    expect(text).toMatch(
      /ROLLOUTS\nIMAGE\s+ROLLOUT\s+APPROVED\nubuntu@2026\.11\.21\s+wave 1 of 2 \(canary\), soaking until \S+\s+by alice at \S+ \(scan 4711 passed\)/,
    );
    expect(text).toMatch(/canary: ready check ok/);
  });

  it('says halted and why; hides a rollout of bytes the catalog no longer holds', () => {
    const halted = buildStatusMatrix(
      input(rollout(u2, { halt: { reason: 'wave canary: dc1 failed', at: ago(1) } })),
      now,
    );
    expect(halted.images[0]!.rollout).toMatchObject({ state: 'halted', haltReason: 'wave canary: dc1 failed' });
    const other = buildStatusMatrix(input(rollout(u2, { sha256: sha('f') })), now);
    expect(other.images[0]!.rollout).toBeNull();
    expect(other.images[0]!.sites.dc1!.wave).toBeNull();
  });
});

describe('status filters that name nothing', () => {
  it.each([
    [{ name: 'ubuntu' }, null],
    [{ name: 'ubuntu', version: '2026.11.21' }, null],
    [{ name: 'nope' }, 'no image named nope (see: ferry status)'],
    [{ name: 'ubuntu', version: '9' }, 'no version 9 of ubuntu (known: 2026.11.01, 2026.11.21)'],
    [{ sites: ['dc1', 'dmz1'] }, null],
    [{ sites: ['dc1', 'nowhere'] }, 'unknown site nowhere (sites: dc1, dmz1, gone; see: ferry sites)'],
  ])('%j → %s', (filter, reason) => {
    expect(unknownFilterReason(input, filter)).toBe(reason);
  });

  it('keeps every --site given, not only the last', () => {
    const m = buildStatusMatrix(input, now, { sites: ['dc1', 'gone'] });
    expect(m.sites.map((s) => s.site)).toEqual(['dc1', 'gone']);
  });
});

describe('sites: readiness and suspension', () => {
  const m = buildStatusMatrix(
    {
      ...input,
      heartbeats: [
        heartbeat('dc1', 5_000, { ready: false, notReady: ['vcenter: vSphere login: rejected user "x"'] }),
        heartbeat('dc2', 5_000, { ready: true, notReady: [] }),
        heartbeat('dc3', 5_000),
      ],
      controls: [
        {
          schema: 'ferry/site-control/v1',
          site: 'dc2',
          suspended: true,
          at: ago(120_000),
          by: 'op@host',
          reason: 'storage migration',
        },
        { schema: 'ferry/site-control/v1', site: 'dc3', suspended: false, at: ago(1000), by: 'op@host' },
      ],
    },
    now,
  );

  it('carries readiness and who suspended, when and why in the JSON rows', () => {
    const [dc1, dc2, dc3] = m.sites.filter((s) => s.site.startsWith('dc'));
    expect(dc1).toMatchObject({
      ready: false,
      notReady: ['vcenter: vSphere login: rejected user "x"'],
      suspension: null,
    });
    expect(dc2).toMatchObject({
      ready: true,
      suspension: { reason: 'storage migration', by: 'op@host', at: ago(120_000) },
    });
    // A resumed site keeps no suspension; an older agent reports no readiness.
    expect(dc3).toMatchObject({ ready: null, suspension: null });
  });

  it('never shows "ok" for an agent that is not ready, and names the reason and the suspension', () => {
    const text = renderSitesTable(m, now);
    expect(text).toMatch(/^dc1\s.*NOT READY$/m);
    expect(text).toMatch(/^dc2\s.*SUSPEND REQUESTED$/m);
    expect(text).toMatch(/^dc3\s.*up \(readiness not reported\)$/m);
    expect(text).toContain('dc1: not ready: vcenter: vSphere login: rejected user "x"');
    expect(text).toContain('dc2: suspended by op@host 2m ago: storage migration');
  });
});
