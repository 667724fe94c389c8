import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';
import { type FaultProxy, startFaultProxy } from '../world/fault-proxy.js';

let world: SiteWorld;
let proxy: FaultProxy;

beforeAll(async () => {
  world = await SiteWorld.start([{ site: 'dc1' }, { site: 'dc-idle', vcsim: { sessionIdleMs: 400 } }]);
  const vc = world.vcsims.dc1!;
  proxy = await startFaultProxy(Number(new URL(vc.url).port));
  // dc1's agent reaches its vCenter through a proxy the test can cut.
  await world.writeConfig('dc1', { vcsim: { ...vc, url: `https://127.0.0.1:${proxy.port}` } });
});
afterAll(async () => {
  await proxy?.stop();
  await world?.stop();
});

describe('fault: the vCenter', () => {
  it('unreachable during an upload: the job fails cleanly, retries with backoff, and finishes when it is back', async () => {
    const agent = await world.startAgent('dc1');
    const m = await world.publish(await world.buildOva({ name: 'vcdown', diskSize: 300 * 2 ** 20 }), {
      name: 'vcdown',
      version: '1',
    });
    await world.waitForStatus('dc1', m.name, m.version, (r) => r.state === 'importing' && r.bytesDone > 0);
    proxy.setMode('refuse');
    const failed = await world.waitForStatus('dc1', m.name, m.version, (r) => r.state === 'failed');
    expect(failed.error?.code).toMatch(/^VSPHERE_/);
    expect(failed.retryAt).toBeDefined();
    await new Promise((r) => setTimeout(r, 1_000));
    proxy.setMode('pass');
    const ready = await world.waitForStatus('dc1', m.name, m.version, undefined, 90_000);
    expect(ready.attempts).toBeGreaterThan(1);
    const items = (await agent.rt.library.listItems(await agent.rt.libraryId())).filter((i) => i.name === 'vcdown-1');
    expect(items.map((i) => i.id)).toEqual([ready.libraryItemId]);
    expect(await agent.rt.library.listUpdateSessions({ activeOnly: true })).toEqual([]);
    const files = await agent.rt.library.listFiles(ready.libraryItemId!);
    expect(files.find((f) => f.name.endsWith('.vmdk'))?.size).toBe(300 * 2 ** 20);
  });

  it('a session that expires in the middle of a long upload: the agent logs in again and finishes in one attempt', async () => {
    const vc = world.vcsims['dc-idle']!;
    await world.writeConfig('dc-idle', { vcsim: vc });
    const file = world.configs.get('dc-idle')!;
    const { readFile, writeFile } = await import('node:fs/promises');
    const { parse, stringify } = await import('yaml');
    const cfg = parse(await readFile(file, 'utf8'));
    cfg.vsphere.keepAlive = '1h';
    await writeFile(file, stringify(cfg));
    const agent = await world.startAgent('dc-idle', { captureLogs: true });
    const m = await world.publish(await world.buildOva({ name: 'idle', disks: 3, diskSize: 150 * 2 ** 20 }), {
      name: 'idle',
      version: '1',
      targets: ['dc-idle'],
    });
    const ready = await world.waitForStatus('dc-idle', m.name, m.version, undefined, 90_000);
    expect(ready.attempts).toBe(1);
    const relogins = world.logs
      .get('dc-idle')!
      .filter((l) => /session expired or was deleted, logging in again/.test(String(l.msg)));
    expect(relogins.length).toBeGreaterThan(0);
    const files = await agent.rt.library.listFiles(ready.libraryItemId!);
    expect(files.filter((f) => f.size === 150 * 2 ** 20)).toHaveLength(3);
  });
});
