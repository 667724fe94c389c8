import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';
import { type FaultProxy, startFaultProxy } from '../world/fault-proxy.js';
import { sha256Of } from '../world/ova.js';

let world: SiteWorld;
let proxy: FaultProxy;
const SITE = 'dc1';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE }]);
  proxy = await startFaultProxy(world.s3.port);
  // The agent reads the store through a counting proxy.
  await world.writeConfig(SITE, { s3Endpoint: proxy.url });
});
afterAll(async () => {
  await proxy?.stop();
  await world?.stop();
});

/** Update sessions open in vcsim now (counted by vcsim itself). */
async function openSessions(): Promise<number> {
  return (await world.vcsims[SITE]!.updateSessions()).open;
}

describe('fault: kill -9 of the agent', () => {
  it('while download and import overlap: resumes the download by Range, one byte-identical item', async () => {
    const ova = await world.buildOva({ name: 'dl', diskSize: 400 * 2 ** 20 });
    let agent = world.startAgentProcess(SITE);
    const m = await world.publish(ova, { name: 'dl', version: '1' });
    // One pass: the import follows the cache file, so both byte counts are in the record at once.
    const overlap = await world.waitForStatus(
      SITE,
      m.name,
      m.version,
      (r) =>
        r.state === 'importing' &&
        r.bytesDone > 0 &&
        r.bytesDownloaded !== undefined &&
        r.bytesDownloaded > 50 * 2 ** 20 &&
        r.bytesDownloaded < ova.size,
    );
    agent.child.kill('SIGKILL');
    await agent.exited;
    const cacheDir = join(world.dir, 'sites', SITE, 'cache');
    const partial = (await readdir(cacheDir)).find((n) => n.endsWith('.partial'));
    expect(partial, `killed at ${overlap.bytesDownloaded} downloaded`).toBeDefined();
    const partialSize = (await stat(join(cacheDir, partial!))).size;
    // Large enough that a restart from zero reads clearly more than the rest of the file.
    expect(partialSize).toBeGreaterThan(8 * 2 ** 20);
    const readBeforeRestart = proxy.bytesFromUpstream;

    agent = world.startAgentProcess(SITE);
    const r = await world.waitForStatus(SITE, m.name, m.version, undefined, 90_000);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    // Resumed: the second run read only what the first had not written (plus HTTP headers).
    const read = proxy.bytesFromUpstream - readBeforeRestart;
    expect(read).toBeGreaterThanOrEqual(ova.size - partialSize);
    expect(read).toBeLessThan(ova.size - partialSize + 2 ** 20);
    expect(await readdir(cacheDir)).not.toContain(partial);
    expect(await openSessions()).toBe(0);
    const a = await world.startAgent(SITE);
    const items = (await a.rt.library.listItems(await a.rt.libraryId())).filter((i) => i.name === 'dl-1');
    expect(items.map((i) => i.id)).toEqual([r.libraryItemId]);
    for (const f of ova.files) {
      expect(await sha256Of(await a.rt.library.downloadFile(r.libraryItemId!, f.name)), f.name).toBe(f.sha256);
    }
    expect(await a.rt.library.listUpdateSessions({ activeOnly: true })).toEqual([]);
    await world.stopAgent(SITE);
  });

  it('during upload: restarts, one item, no open update session', async () => {
    const ova = await world.buildOva({ name: 'ul', diskSize: 400 * 2 ** 20 });
    let agent = world.startAgentProcess(SITE);
    const m = await world.publish(ova, { name: 'ul', version: '1' });
    await world.waitForStatus(SITE, m.name, m.version, (r) => r.state === 'importing' && r.bytesDone > 0, 60_000);
    agent.child.kill('SIGKILL');
    await agent.exited;
    agent = world.startAgentProcess(SITE);
    const r = await world.waitForStatus(SITE, m.name, m.version, undefined, 90_000);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const a = await world.startAgent(SITE);
    const items = (await a.rt.library.listItems(await a.rt.libraryId())).filter((i) => i.name === 'ul-1');
    expect(items.map((i) => i.id)).toEqual([r.libraryItemId]);
    expect(await a.rt.library.listUpdateSessions({ activeOnly: true })).toEqual([]);
    await world.stopAgent(SITE);
  });
});
