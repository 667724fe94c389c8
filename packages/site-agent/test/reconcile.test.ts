import { PassThrough } from 'node:stream';
import { EVENTS_STREAM, EventBus, type Manifest, signManifest } from '@ferry/shared';
import { runAgentCli, type SiteAgent } from '@ferry/site-agent/internal';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedInSyncItems } from '../../../test/support/in-sync-items.js';
import { SiteWorld } from '../../../test/support/site-world.js';

let world: SiteWorld;
const SITE = 'dc1';
const SCALE = 'dc-scale';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE }, { site: SCALE }]);
  await world.writeConfig(SITE, {
    extra: { reconcile: { enabled: true, schedule: '0 0 1 1 *', jitter: '0s' }, retention: { keepVersions: 2 } },
  });
});
afterAll(async () => {
  await world?.stop();
});

async function names(agent: SiteAgent): Promise<string[]> {
  const items = await agent.rt.library.listItems(await agent.rt.libraryId(true));
  return items.map((i) => i.name).sort();
}

function unsigned(m: Manifest) {
  const { signature: _s, keyId: _k, ...rest } = m;
  return rest;
}

describe('reconciliation (nats-server, s3rver, vcsim)', () => {
  let agent: SiteAgent;
  const first: Manifest[] = [];

  it('with the agent down and the events purged, its first pass imports all three images', async () => {
    for (const n of ['alpha', 'beta', 'gamma']) {
      first.push(await world.publish(await world.buildOva({ name: n }), { name: n, version: '1', targets: [SITE] }));
    }
    const jsm = await jetstreamManager(world.nc);
    await jsm.streams.purge(EVENTS_STREAM);
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(0);
    agent = await world.startAgent(SITE);
    for (const m of first) await world.waitForStatus(SITE, m.name, m.version);
    expect(await names(agent)).toEqual(['alpha-1', 'beta-1', 'gamma-1']);
    const report = agent.reconciler.lastReport!;
    expect(report.trigger).toBe('start');
    expect(report.counts.import).toBe(3);
    const stored = await world.statusKv.get(`${SITE}._reconcile`);
    expect(stored?.json<{ counts: { import: number } }>().counts.import).toBe(3);
  });

  it('re-imports an item deleted by hand, replaces an item whose file changed, leaves foreign items alone', async () => {
    const lib = agent.rt.library;
    const libraryId = await agent.rt.libraryId();
    const items = await lib.listItems(libraryId);
    const alpha = items.find((i) => i.name === 'alpha-1')!;
    const beta = items.find((i) => i.name === 'beta-1')!;
    await lib.deleteItem(alpha.id);
    // Someone uploads other bytes over beta's disk.
    const disk = first[1]!.files.find((f) => f.name.endsWith('.vmdk'))!;
    const session = await lib.openUpdateSession(beta.id);
    const url = await session.addFile({ name: disk.name, size: 1000 });
    await session.upload(url, new PassThrough().end(Buffer.alloc(1000, 7)), 1000);
    await session.complete();
    const foreignId = await lib.createItem(libraryId, { name: 'hand-made', description: 'made by a person' });

    const report = await agent.reconciler.run('manual');
    expect(report.counts).toMatchObject({ import: 1, reimport: 1, ignored: 1 });
    await world.waitForStatus(SITE, 'alpha', '1', (r) => r.state === 'ready' && r.libraryItemId !== alpha.id);
    await world.waitForStatus(
      SITE,
      'beta',
      '1',
      (r) => r.state === 'ready' && Date.parse(r.updatedAt) > Date.parse(report.startedAt),
    );
    const betaFiles = await lib.listFiles(beta.id);
    expect(betaFiles.find((f) => f.name === disk.name)?.size).toBe(disk.size);
    expect(await lib.getItem(foreignId)).toMatchObject({ name: 'hand-made', description: 'made by a person' });
    expect(await names(agent)).toEqual(['alpha-1', 'beta-1', 'gamma-1', 'hand-made']);
  });

  it('a vCenter rebuilt empty gets every catalog image back in one pass', async () => {
    // A rebuilt vCenter has new managed-object ids: the zone's config is re-rendered with the new
    // datastore id and the agent restarted, as an operator's deploy tooling would do.
    await world.stopAgent(SITE);
    await world.vcsims[SITE]!.restart();
    await world.writeConfig(SITE, {
      vcsim: world.vcsims[SITE]!,
      extra: { reconcile: { enabled: true, schedule: '0 0 1 1 *', jitter: '0s' }, retention: { keepVersions: 2 } },
    });
    const restartedAt = Date.now();
    agent = await world.startAgent(SITE);
    for (const m of first) {
      await world.waitForStatus(
        SITE,
        m.name,
        m.version,
        (r) => r.state === 'ready' && Date.parse(r.updatedAt) > restartedAt,
      );
    }
    const report = agent.reconciler.lastReport!;
    expect(report).toMatchObject({ trigger: 'start', errors: [] });
    expect(report.counts.import).toBe(3);
    expect(await names(agent)).toEqual(['alpha-1', 'beta-1', 'gamma-1']);
  });

  it('keepVersions 2: versions 1..4 end as 3 and 4; retiring 4 leaves 3 and brings 2 back', async () => {
    const versions: Manifest[] = [];
    for (const v of [1, 2, 3, 4]) {
      const ova = await world.buildOva({ name: 'rolling', seed: `rolling-${v}` });
      versions.push(
        await world.publish(ova, {
          name: 'rolling',
          version: String(v),
          targets: [SITE],
          publishedAt: `2026-11-0${v}T00:00:00Z`,
        }),
      );
    }
    for (const m of versions)
      await world.waitForStatus(SITE, m.name, m.version, (r) => r.state === 'ready' || r.state === 'retired');
    await agent.reconciler.run('manual');
    const rolling = async () => (await names(agent)).filter((n) => n.startsWith('rolling'));
    expect(await rolling()).toEqual(['rolling-3', 'rolling-4']);

    const retired = signManifest({ ...unsigned(versions[3]!), retiredAt: new Date().toISOString() }, world.key);
    await world.catalog.put(retired);
    await new EventBus(world.nc).publish('all', { kind: 'retired', manifest: retired });
    await world.waitForStatus(SITE, 'rolling', '4', (r) => r.state === 'retired');
    expect(await rolling()).toEqual(['rolling-3']);
    const report = await agent.reconciler.run('manual');
    expect(report.counts.import).toBe(1);
    await world.waitForStatus(
      SITE,
      'rolling',
      '2',
      (r) => r.state === 'ready' && Date.parse(r.updatedAt) > Date.parse(report.startedAt),
    );
    expect(await rolling()).toEqual(['rolling-2', 'rolling-3']);
  });

  it('`ferry-agent reconcile --dry-run` prints the plan and changes nothing', async () => {
    const lib = agent.rt.library;
    const gamma = (await lib.listItems(await agent.rt.libraryId())).find((i) => i.name === 'gamma-1')!;
    await lib.deleteItem(gamma.id);
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d) => (out += d));
    const code = await runAgentCli(['reconcile', '--config', world.configs.get(SITE)!, '--dry-run'], {
      stdout,
      stderr: stdout,
    });
    expect(code, out).toBe(0);
    expect(out).toMatch(/reconcile plan for dc1 \(library golden-images\): 1 import, 0 reimport, 0 delete/);
    expect(out).toMatch(/^ {2}import +gamma@1 +missing from the library$/m);
    expect(await names(agent)).not.toContain('gamma-1');
  });

  it('a pass over 1000 catalog entries and 1000 in-sync items keeps all 1000 and transfers nothing', async () => {
    const scale = await world.startAgent(SCALE);
    const lib = scale.rt.library;
    const libraryId = await scale.rt.libraryId();
    await seedInSyncItems({
      count: 1000,
      site: SCALE,
      catalog: world.catalog,
      key: world.key,
      library: lib,
      libraryId,
    });
    // How long the pass takes is measured by the bench (bench/scenarios/reconcile.ts), not asserted.
    const report = await scale.reconciler.run('manual');
    expect(report.errors).toEqual([]);
    expect(report.counts).toMatchObject({ keep: 1000, import: 0, reimport: 0, delete: 0 });
    expect(scale.rt.queues.peak.imports).toBe(0);
    expect(scale.rt.queues.peak.downloads).toBe(0);
  });
});
