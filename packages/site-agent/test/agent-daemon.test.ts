import { eventSubject, type Manifest, signManifest } from '@ferry/shared';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestKey } from '../../../test/support/images.js';
import { SiteWorld } from '../../../test/support/site-world.js';
import { waitFor } from '../../../test/support/wait.js';

let world: SiteWorld;

beforeAll(async () => {
  world = await SiteWorld.start([
    { site: 'dc1-corp', zone: 'corporate' },
    { site: 'dc2-pci', zone: 'pci', labels: { tier: 'secure' } },
  ]);
});
afterAll(async () => {
  await world?.stop();
});

async function itemsNamed(site: string, name: string) {
  const agent = world.agents.get(site)!;
  const libraryId = await agent.rt.libraryId();
  return (await agent.rt.library.listItems(libraryId)).filter((i) => i.name === name);
}

describe('site agent daemon (nats-server, s3rver, vcsim)', () => {
  it('an event for * lands in both libraries; a targeted one only in its site', async () => {
    await world.startAgent('dc1-corp');
    await world.startAgent('dc2-pci');
    const all = await world.publish(await world.buildOva({ name: 'base' }), { name: 'base', version: '1' });
    const pciOnly = await world.publish(await world.buildOva({ name: 'pci' }), {
      name: 'pci',
      version: '1',
      targets: ['zone:pci'],
    });
    for (const site of ['dc1-corp', 'dc2-pci']) {
      const r = await world.waitForStatus(site, 'base', '1');
      expect(r.libraryItemId).toBeTruthy();
      expect(await itemsNamed(site, 'base-1')).toHaveLength(1);
    }
    await world.waitForStatus('dc2-pci', 'pci', '1');
    expect(await itemsNamed('dc2-pci', 'pci-1')).toHaveLength(1);
    expect(await world.status('dc1-corp', pciOnly.name, pciOnly.version)).toBeUndefined();
    expect(await itemsNamed('dc1-corp', 'pci-1')).toHaveLength(0);
    expect(all.targets).toEqual(['*']);
  });

  it('an agent stopped before three events imports all three when it starts again', async () => {
    await world.stopAgent('dc1-corp');
    const manifests: Manifest[] = [];
    for (const v of ['1', '2', '3']) {
      manifests.push(
        await world.publish(await world.buildOva({ name: 'late', seed: `late-${v}` }), { name: 'late', version: v }),
      );
    }
    await world.startAgent('dc1-corp');
    for (const m of manifests) {
      await world.waitForStatus('dc1-corp', m.name, m.version);
      expect(await itemsNamed('dc1-corp', `late-${m.version}`)).toHaveLength(1);
    }
  });

  it('rejects a non-JSON event, an unsigned and a foreign-signed manifest; the next image still imports', async () => {
    const agent = world.agents.get('dc1-corp')!;
    const js = jetstream(world.nc);
    const rejectedBefore = await counter(agent, 'ferry_events_rejected_total');
    await js.publish(eventSubject('all', 'published'), 'this is { not json');

    const ova = await world.buildOva({ name: 'evil' });
    const genuine = await (await import('../../../test/support/images.js')).stageImage(world.store, world.key, ova, {
      name: 'unsigned',
      version: '1',
    });
    const { signature: _s, ...unsigned } = genuine;
    await js.publish(
      eventSubject('all', 'published'),
      JSON.stringify({
        schema: 'ferry/event/v1',
        id: 'u1',
        sentAt: new Date().toISOString(),
        kind: 'published',
        manifest: unsigned,
      }),
    );
    const stranger = await makeTestKey(world.dir, 'stranger');
    const foreign = signManifest({ ...unsignedFields(genuine), name: 'foreign' }, stranger);
    await js.publish(
      eventSubject('all', 'published'),
      JSON.stringify({
        schema: 'ferry/event/v1',
        id: 'f1',
        sentAt: new Date().toISOString(),
        kind: 'published',
        manifest: foreign,
      }),
    );
    const good = await world.publish(await world.buildOva({ name: 'after' }), { name: 'after', version: '1' });

    await world.waitForStatus('dc1-corp', good.name, good.version);
    const unsignedStatus = await world.waitForStatus('dc1-corp', 'unsigned', '1', (r) => r.state === 'failed');
    expect(unsignedStatus.error?.code).toBe('SCHEMA_INVALID');
    expect(unsignedStatus.error?.message).toMatch(/signature/);
    const foreignStatus = await world.waitForStatus('dc1-corp', 'foreign', '1', (r) => r.state === 'failed');
    expect(foreignStatus.error).toMatchObject({ code: 'SIGNATURE_INVALID' });
    expect(foreignStatus.error?.message).toContain(stranger.keyId);
    expect(await counter(agent, 'ferry_events_rejected_total')).toBe(rejectedBefore + 3);
    expect(await itemsNamed('dc1-corp', 'foreign-1')).toHaveLength(0);
  });

  it('/metrics is Prometheus text whose byte counters equal the image sizes', async () => {
    await world.stopAgent('dc2-pci');
    const agent = await world.startAgent('dc2-pci');
    const ova = await world.buildOva({ name: 'metered', diskSize: 3 * 2 ** 20 });
    const m = await world.publish(ova, { name: 'metered', version: '1', targets: ['dc2-pci'] });
    await world.waitForStatus('dc2-pci', m.name, m.version);
    const text = await (await fetch(`${agent.httpUrl}/metrics`)).text();
    const samples = parsePrometheus(text);
    expect(samples.get('ferry_bytes_downloaded_total')).toBe(ova.size);
    expect(samples.get('ferry_bytes_imported_total')).toBe(ova.files.reduce((s, f) => s + f.size, 0));
    expect(samples.get('ferry_imports_total{result="ready"}')).toBe(1);
    expect((await fetch(`${agent.httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${agent.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('writes a heartbeat with zone, labels, version, queue depth and free cache bytes', async () => {
    // Its own agent: this test does not lean on one another test started.
    await world.stopAgent('dc2-pci');
    const revisionBefore = (await world.topology.sites.get('dc2-pci'))?.revision ?? 0;
    await world.startAgent('dc2-pci', { heartbeatIntervalMs: 200 });
    // A heartbeat written by this agent, not one left over from an earlier one.
    const hb = await waitFor(
      async () => {
        const entry = await world.topology.sites.get('dc2-pci');
        return entry && entry.revision > revisionBefore ? entry.json<Record<string, unknown>>() : undefined;
      },
      { what: 'a heartbeat of dc2-pci written after its start' },
    );
    expect(hb).toMatchObject({
      site: 'dc2-pci',
      zone: 'pci',
      labels: { tier: 'secure' },
      agentVersion: expect.any(String),
    });
    expect(hb.queueDepth).toBe(0);
    expect(hb.cacheFreeBytes).toBeGreaterThan(0);
  });
});

function unsignedFields(m: Manifest) {
  const { signature: _s, keyId: _k, ...rest } = m;
  return rest;
}

async function counter(agent: { httpUrl?: string }, name: string): Promise<number> {
  const text = await (await fetch(`${agent.httpUrl}/metrics`)).text();
  let total = 0;
  for (const [k, v] of parsePrometheus(text)) if (k === name || k.startsWith(`${name}{`)) total += v;
  return total;
}

/** Strict enough parse of the text format: every non-comment line is `name{labels} value`. */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}
