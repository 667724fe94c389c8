import type { Manifest } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';

const SITES = ['dc1-corp', 'dc2-corp', 'dc2-pci'];
let world: SiteWorld;

beforeAll(async () => {
  world = await SiteWorld.start(
    SITES.map((site) => ({ site })),
    { nats: 'leaves' },
  );
  for (const site of SITES) await world.startAgent(site);
});
afterAll(async () => {
  await world?.stop();
});

describe('fault: a site cut off from the hub', () => {
  it('imports what it missed, in order, once each, when its leaf node comes back', async () => {
    const cut = 'dc2-pci';
    await world.leaves[cut]!.stop();
    const published: Manifest[] = [];
    for (const v of ['1', '2']) {
      published.push(
        await world.publish(await world.buildOva({ name: 'island', seed: `island-${v}` }), {
          name: 'island',
          version: v,
        }),
      );
    }
    for (const site of SITES.filter((s) => s !== cut)) {
      for (const m of published) await world.waitForStatus(site, m.name, m.version);
    }
    // The hub has no record of the cut-off site's progress: it never received the events.
    expect(await world.status(cut, 'island', '1')).toBeUndefined();

    const order: string[] = [];
    const watch = await world.statusKv.watch({ key: `${cut}.island.>` });
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT') continue;
        const r = e.json<{ version: string; state: string }>();
        const tag = `${r.version}:${r.state}`;
        if (!order.includes(tag)) order.push(tag);
      }
    })();
    await world.leaves[cut]!.restart();
    const ready = [];
    for (const m of published) ready.push(await world.waitForStatus(cut, m.name, m.version, undefined, 90_000));
    watch.stop();
    // In order: the first event's job was recorded before the second's.
    expect(order.indexOf('1:pending')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('1:pending')).toBeLessThan(order.indexOf('2:pending'));
    const agent = world.agents.get(cut)!;
    const items = await agent.rt.library.listItems(await agent.rt.libraryId());
    expect(
      items
        .filter((i) => i.name.startsWith('island-'))
        .map((i) => i.name)
        .sort(),
    ).toEqual(['island-1', 'island-2']);
    const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ferry_imports_total\{result="ready"\} 2$/m);
    expect(ready.every((r) => r.attempts === 1)).toBe(true);
  });
});
