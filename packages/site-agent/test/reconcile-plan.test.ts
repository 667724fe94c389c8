import type { Manifest } from '@ferry/shared';
import { type ActualItem, countActions, formatMarker, parseMarker, planReconcile } from '@ferry/site-agent/internal';
import { describe, expect, it } from 'vitest';

const site = { site: 'dc1', zone: 'corp', labels: { region: 'eu' } };
const sha = (c: string) => c.repeat(64);

function m(name: string, version: string, opts: Partial<Manifest> = {}): Manifest {
  return {
    schema: 'ferry/manifest/v1',
    name,
    version,
    artifact: `${name}/${version}/x.ova`,
    sha256: sha(version.at(-1)!),
    size: 100,
    files: [
      { name: 'x.ovf', size: 10, sha256: sha('a') },
      { name: 'x-disk1.vmdk', size: 80, sha256: sha('b') },
    ],
    targets: ['*'],
    labels: {},
    publishedAt: `2026-11-0${version.at(-1)}T00:00:00Z`,
    keyId: 'k',
    signature: 'AA==',
    ...opts,
  };
}

function item(man: Manifest, extra: Partial<ActualItem> = {}): ActualItem {
  return {
    id: `id-${man.name}-${man.version}`,
    name: `${man.name}-${man.version}`,
    marker: { name: man.name, version: man.version, sha256: man.sha256 },
    files: man.files.map((f) => ({ name: f.name, size: f.size })),
    ...extra,
  };
}

const itemName = (x: Pick<Manifest, 'name' | 'version'>) => `${x.name}-${x.version}`;

function plan(catalog: Manifest[], items: ActualItem[], opts: { keepVersions?: number; prune?: boolean } = {}) {
  return planReconcile({
    site,
    catalog,
    items,
    keepVersions: opts.keepVersions ?? 3,
    prune: opts.prune ?? true,
    itemName,
  });
}

function summary(actions: ReturnType<typeof plan>): string[] {
  return actions
    .map((a) =>
      a.kind === 'import' || a.kind === 'keep' || a.kind === 'reimport'
        ? `${a.kind} ${a.manifest.name}@${a.manifest.version}`
        : `${a.kind} ${a.itemName}`,
    )
    .sort();
}

describe('planReconcile', () => {
  const v1 = m('ubuntu', '1');
  const v2 = m('ubuntu', '2');
  const v3 = m('ubuntu', '3');
  const v4 = m('ubuntu', '4');

  it.each<[string, Manifest[], ActualItem[], { keepVersions?: number; prune?: boolean }, string[]]>([
    ['empty library: import everything desired', [v1, v2], [], {}, ['import ubuntu@1', 'import ubuntu@2']],
    ['in sync: keep', [v1], [item(v1)], {}, ['keep ubuntu@1']],
    [
      'other sha256: reimport',
      [v1],
      [item(v1, { marker: { name: 'ubuntu', version: '1', sha256: sha('f') } })],
      {},
      ['reimport ubuntu@1'],
    ],
    [
      'unfinished import: reimport',
      [v1],
      [item(v1, { marker: { ...item(v1).marker!, importing: true } })],
      {},
      ['reimport ubuntu@1'],
    ],
    ['missing file: reimport', [v1], [item(v1, { files: [{ name: 'x.ovf', size: 10 }] })], {}, ['reimport ubuntu@1']],
    [
      'short file: reimport',
      [v1],
      [
        item(v1, {
          files: [
            { name: 'x.ovf', size: 10 },
            { name: 'x-disk1.vmdk', size: 79 },
          ],
        }),
      ],
      {},
      ['reimport ubuntu@1'],
    ],
    [
      'file with another reported SHA-256: reimport',
      [v1],
      [
        item(v1, {
          files: [
            { name: 'x.ovf', size: 10 },
            { name: 'x-disk1.vmdk', size: 80, checksum: { algorithm: 'SHA256', checksum: sha('c') } },
          ],
        }),
      ],
      {},
      ['reimport ubuntu@1'],
    ],
    [
      'deploy check failed on these bytes: neither kept nor re-imported',
      [v1],
      [item(v1, { marker: { ...item(v1).marker!, checkFailed: true } })],
      {},
      ['ignore ubuntu-1'],
    ],
    [
      'deploy check failed on older bytes, catalog has new ones: reimport',
      [v1],
      [item(v1, { marker: { name: 'ubuntu', version: '1', sha256: sha('f'), checkFailed: true } })],
      {},
      ['reimport ubuntu@1'],
    ],
    [
      'deploy check did not finish: asked for again (no force: only the check runs)',
      [v1],
      [item(v1, { marker: { ...item(v1).marker!, checking: true } })],
      {},
      ['import ubuntu@1'],
    ],
    ['not ferry’s: ignore', [], [{ id: 'x', name: 'hand-made' }], {}, ['ignore hand-made']],
    [
      'retention 2 of 4: keep newest two, import missing, delete older',
      [v1, v2, v3, v4],
      [item(v1), item(v2), item(v3)],
      { keepVersions: 2 },
      ['delete ubuntu-1', 'delete ubuntu-2', 'import ubuntu@4', 'keep ubuntu@3'],
    ],
    [
      'retired newest brings a version back into retention',
      [v1, v2, v3, { ...v4, retiredAt: '2026-11-10T00:00:00Z' }],
      [item(v3), item(v4)],
      { keepVersions: 2 },
      ['delete ubuntu-4', 'import ubuntu@2', 'keep ubuntu@3'],
    ],
    [
      'prune off: never delete',
      [{ ...v1, retiredAt: '2026-11-10T00:00:00Z' }],
      [item(v1)],
      { prune: false },
      ['ignore ubuntu-1'],
    ],
    [
      'catalog rolled back to an older manifest: no reimport',
      [v1],
      [item(v1, { marker: { name: 'ubuntu', version: '1', sha256: sha('f'), publishedAt: '2026-11-09T00:00:00Z' } })],
      {},
      ['ignore ubuntu-1'],
    ],
    ['unknown to the catalog (lost catalog): left alone', [], [item(v1)], {}, ['ignore ubuntu-1']],
    ['not targeted here: not imported', [m('win', '1', { targets: ['zone:pci'] })], [], {}, []],
    ['targeted by label', [m('win', '1', { targets: ['label:region=eu'] })], [], {}, ['import win@1']],
  ])('%s', (_label, catalog, items, opts, expected) => {
    expect(summary(plan(catalog, items, opts))).toEqual(expected);
  });

  it('counts actions', () => {
    expect(countActions(plan([v1, v2], [item(v1)]))).toEqual({ import: 1, reimport: 0, delete: 0, keep: 1, ignore: 0 });
  });
});

describe('planReconcile with rollouts', () => {
  const v1 = m('ubuntu', '1');
  const v2 = m('ubuntu', '2');
  const heldV2 = (x: Manifest) => (x.version === '2' ? 'rollout wave rest is not released for dc1 yet' : undefined);

  it('does not import a version whose wave is not released, and keeps the older one within retention', () => {
    const actions = planReconcile({
      site,
      catalog: [v1, v2],
      items: [item(v1)],
      keepVersions: 1,
      prune: true,
      itemName,
      heldBack: heldV2,
    });
    expect(summary(actions)).toEqual(['keep ubuntu@1']);
  });

  it('leaves an item of a held version alone (no delete, no re-import)', () => {
    const actions = planReconcile({
      site,
      catalog: [v1, v2],
      items: [item(v1), item(v2)],
      keepVersions: 1,
      prune: true,
      itemName,
      heldBack: heldV2,
    });
    expect(actions.find((a) => a.kind === 'ignore')).toMatchObject({
      itemName: 'ubuntu-2',
      reason: expect.stringContaining('not released'),
    });
    expect(summary(actions)).toEqual(['ignore ubuntu-2', 'keep ubuntu@1']);
  });

  it('imports it once released', () => {
    const actions = planReconcile({
      site,
      catalog: [v1, v2],
      items: [item(v1)],
      keepVersions: 1,
      prune: true,
      itemName,
      heldBack: () => undefined,
    });
    expect(summary(actions)).toEqual(['delete ubuntu-1', 'import ubuntu@2']);
  });
});

describe('item marker', () => {
  it('round-trips and ignores foreign descriptions', () => {
    const marker = { name: 'ubuntu', version: '1.2', sha256: sha('a'), publishedAt: '2026-11-21T00:00:00Z' };
    expect(parseMarker(formatMarker(marker))).toEqual(marker);
    expect(parseMarker(formatMarker({ ...marker, importing: true }))?.importing).toBe(true);
    expect(parseMarker(formatMarker({ ...marker, checking: true }))).toEqual({ ...marker, checking: true });
    expect(parseMarker(formatMarker({ ...marker, checkFailed: true }))).toEqual({ ...marker, checkFailed: true });
    expect(parseMarker('Golden image made by hand')).toBeUndefined();
    expect(parseMarker('ferry:{not json')).toBeUndefined();
  });
});
