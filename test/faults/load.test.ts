import type { Manifest } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonProcess } from '../support/processes.js';
import { SiteWorld } from '../support/site-world.js';
import { freePort } from '../world/ports.js';

// Agent memory under load is measured by the bench (bench/scenarios/memory.ts), not asserted here.
const SITES = ['dc1-corp', 'dc2-corp', 'dc2-pci'];
const IMAGES = 40;
let world: SiteWorld;

beforeAll(async () => {
  world = await SiteWorld.start(SITES.map((site) => ({ site })));
});
afterAll(async () => {
  await world?.stop();
});

describe('load: 40 images × 3 sites with downloads: 2, imports: 1', () => {
  it('all ready, one item each; at most one update session open at once per vCenter, two downloads per agent', async () => {
    // The backlog is published first, so every agent meets 40 events at once and its limits are
    // actually reached (with agents already running, slow publishing would keep them under).
    const manifests: Manifest[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const ova = await world.buildOva({ name: `load${i}`, diskSize: 3 * 2 ** 20 });
      manifests.push(await world.publish(ova, { name: `load${i}`, version: '1' }));
    }
    const before = Object.fromEntries(
      await Promise.all(
        SITES.map(async (s) => [s, await world.vcsims[s]!.updateSessions({ resetPeak: true })] as const),
      ),
    );
    const urls: Record<string, string> = {};
    const procs: Record<string, DaemonProcess> = {};
    for (const site of SITES) {
      const port = await freePort();
      urls[site] = `http://127.0.0.1:${port}`;
      await world.writeConfig(site, {
        concurrency: { downloads: 2, imports: 1 },
        extra: { http: { listen: `127.0.0.1:${port}` } },
      });
      procs[site] = world.startAgentProcess(site);
    }
    for (const site of SITES)
      for (const m of manifests) await world.waitForStatus(site, m.name, m.version, undefined, 180_000);

    for (const site of SITES) {
      // Counted by vcsim itself, at every create and complete: no overshoot can slip between samples.
      const after = await world.vcsims[site]!.updateSessions();
      expect(after.created - before[site]!.created, site).toBe(IMAGES);
      expect(after.peak, site).toBe(1);
      expect(after.open, site).toBe(0);
      const metrics = await (await fetch(`${urls[site]}/metrics`)).text();
      expect(metrics, site).toMatch(new RegExp(`^ferry_imports_total\\{result="ready"\\} ${IMAGES}$`, 'm'));
      // The download queue's own high-water mark (no store-side count can tell the sites apart).
      expect(metrics, site).toMatch(/^ferry_transfers_peak\{kind="download"\} 2$/m);
      expect(metrics, site).toMatch(/^ferry_transfers_peak\{kind="import"\} 1$/m);
    }
    for (const site of SITES) {
      procs[site]!.child.kill('SIGTERM');
      expect(await procs[site]!.exited).toBe(0);
    }
  });
});
