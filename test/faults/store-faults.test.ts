import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { stageImage } from '../support/images.js';
import { SiteWorld } from '../support/site-world.js';
import { type FaultProxy, startFaultProxy } from '../world/fault-proxy.js';

let world: SiteWorld;
let proxy: FaultProxy;
let coordConfig: string;
const SITE = 'dc1';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE }]);
  proxy = await startFaultProxy(world.s3.port);
  await world.writeConfig(SITE, { s3Endpoint: proxy.url });
  coordConfig = await writeCoordinatorConfig(world);
  await world.startAgent(SITE);
});
afterAll(async () => {
  await proxy?.stop();
  await world?.stop();
});

describe('fault: the zone store', () => {
  it('answering 503 for a while: backoff, then success', async () => {
    proxy.setMode('http503');
    const m = await world.publish(await world.buildOva({ name: 'flaky' }), { name: 'flaky', version: '1' });
    const failed = await world.waitForStatus(SITE, m.name, m.version, (r) => r.state === 'failed' && !!r.retryAt);
    expect(failed.error?.code).toBe('STORE_ERROR');
    expect(failed.error?.message).toMatch(/503|unavailable/i);
    proxy.setMode('pass');
    const ready = await world.waitForStatus(SITE, m.name, m.version, undefined, 60_000);
    expect(ready.attempts).toBeGreaterThan(1);
  });

  it('object deleted: a clear NOT_FOUND that does not retry, then success on `ferry republish` once it is back', async () => {
    const ova = await world.buildOva({ name: 'gone' });
    const m = await stageImage(world.store, world.key, ova, { name: 'gone', version: '1' });
    await world.catalog.put(m);
    await world.store.delete(m.artifact);
    const { EventBus, publishedMsgId } = await import('@ferry/shared');
    await new EventBus(world.nc).publish('all', { kind: 'published', manifest: m }, publishedMsgId(m));
    const failed = await world.waitForStatus(SITE, m.name, m.version, (r) => r.state === 'failed');
    expect(failed.error?.code).toBe('NOT_FOUND');
    expect(failed.error?.message).toContain(m.artifact);
    // No retryAt: the job runner schedules no retry (what it would retry by is exactly this field).
    expect(failed.retryAt).toBeUndefined();
    expect(failed.attempts).toBe(1);

    await stageImage(world.store, world.key, ova, { name: 'gone', version: '1' });
    const r = await ferry(['republish', 'gone@1', '--config', coordConfig]);
    expect(r.code, r.err).toBe(0);
    await world.waitForStatus(SITE, m.name, m.version);
  });
});
