/**
 * No silent endings (issue 18.6): the agent's suspend/resume watch survives losing its
 * connection or its iterator. Real nats-server, restarted under a running agent; and a watch
 * whose iterator is closed under it (as when its consumer is lost): suspend must still work after.
 */
import { type Logger, siteControlKey } from '@ferry/shared';
import { ControlWatch, type WatchIterator } from '@ferry/site-agent/internal';
import { KvWatchInclude } from '@nats-io/kv';
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

async function until(what: string, pred: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const control = (suspended: boolean) =>
  JSON.stringify({
    schema: 'ferry/site-control/v1',
    site: SITE,
    suspended,
    at: new Date().toISOString(),
    by: 'test',
  });

describe('suspend/resume watch', () => {
  it('still obeys suspend and resume after the NATS server restarted under it', async () => {
    const agent = await world.startAgent(SITE, { captureLogs: true });
    await world.statusKv.put(siteControlKey(SITE), control(true));
    await until('suspended', () => agent.suspended);
    await world.statusKv.put(siteControlKey(SITE), control(false));
    await until('resumed', () => !agent.suspended);

    await world.nats.restart();
    await world.retry(() => world.statusKv.put(siteControlKey(SITE), control(true)));
    await until('suspended after the restart', () => agent.suspended);
    await world.retry(() => world.statusKv.put(siteControlKey(SITE), control(false)));
    await until('resumed after the restart', () => !agent.suspended);
    expect(agent.suspended).toBe(false);
    await world.stopAgent(SITE);
  });

  it('a watch that ends is logged and opened again, and applies what changed meanwhile', async () => {
    const key = siteControlKey('dc9');
    const opened: WatchIterator[] = [];
    const seen: boolean[] = [];
    const warnings: string[] = [];
    const log: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (a: object | string, b?: string) => void warnings.push(typeof a === 'string' ? a : (b ?? '')),
      error: () => undefined,
      child: () => log,
    };
    await world.statusKv.put(key, JSON.stringify({ suspended: false }));
    const watch = new ControlWatch({
      open: async () => {
        const w = await world.statusKv.watch({ key, include: KvWatchInclude.LastValue });
        opened.push(w);
        return w;
      },
      apply: (v) => seen.push((v as { suspended: boolean }).suspended),
      log,
      backoff: { baseMs: 50, maxMs: 200 },
    });
    watch.start();
    await until('the current value', () => seen.length === 1);

    // Drop the watch under it, then suspend while (possibly) no watch runs.
    opened[0]!.stop();
    await world.statusKv.put(key, JSON.stringify({ suspended: true }));
    await until('watching again', () => opened.length === 2);
    await until('the suspension applied', () => seen.at(-1) === true);
    expect(warnings).toContain('suspend/resume watch ended; watching again');

    await world.statusKv.put(key, JSON.stringify({ suspended: false }));
    await until('the resume applied', () => seen.at(-1) === false);
    await watch.stop();
    expect(opened).toHaveLength(2);
  });
});
