import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';

let world: SiteWorld;
const SITE = 'dc1';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE }]);
});
afterAll(async () => {
  await world?.stop();
});

describe('fault: the NATS server restarts during an import', () => {
  it('the import finishes, status ends ready, no event is lost or imported twice', async () => {
    const agent = await world.startAgent(SITE);
    const big = await world.publish(await world.buildOva({ name: 'big', diskSize: 200 * 2 ** 20 }), {
      name: 'big',
      version: '1',
    });
    await world.waitForStatus(SITE, 'big', '1', (r) => r.state === 'downloading' || r.state === 'importing');

    // Restart with the store dir kept; the test's own client reconnects too.
    await world.nats.restart();
    const ova = await world.buildOva({ name: 'after' });
    const after = await world.retry(() => world.publish(ova, { name: 'after', version: '1' }));

    await world.waitForStatus(SITE, big.name, big.version, undefined, 90_000);
    await world.waitForStatus(SITE, after.name, after.version, undefined, 90_000);
    const items = await agent.rt.library.listItems(await agent.rt.libraryId());
    expect(items.map((i) => i.name).sort()).toEqual(['after-1', 'big-1']);
    const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ferry_imports_total\{result="ready"\} 2$/m);
    expect(metrics).not.toMatch(/^ferry_imports_total\{result="failed"\} [1-9]/m);
  });
});
