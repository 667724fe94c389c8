import { readFile } from 'node:fs/promises';
import type { Manifest } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonProcess } from '../support/processes.js';
import { SiteWorld } from '../support/site-world.js';
import { freePort } from '../world/ports.js';

const SITES = ['dc1-corp', 'dc2-corp', 'dc2-pci'];
const IMAGES = 40;
let world: SiteWorld;

beforeAll(async () => {
  world = await SiteWorld.start(SITES.map((site) => ({ site })));
});
afterAll(async () => {
  await world?.stop();
});

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

function gauge(text: string, kind: string): number {
  const m = new RegExp(`^ferry_transfers_active\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('load: 40 images × 3 sites with downloads: 2, imports: 1', () => {
  it('all ready; in-flight transfers never exceed the limits; agent RSS stays under 250 MB', async () => {
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
    for (const site of SITES) {
      for (let i = 0; ; i++) {
        if ((await fetch(`${urls[site]}/readyz`).catch(() => undefined))?.ok) break;
        if (i > 100) throw new Error(`agent ${site} not ready: ${procs[site]!.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    const peak = { downloads: 0, imports: 0, rss: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const site of SITES) {
          const text = await (await fetch(`${urls[site]}/metrics`)).text();
          peak.downloads = Math.max(peak.downloads, gauge(text, 'download'));
          peak.imports = Math.max(peak.imports, gauge(text, 'import'));
          peak.rss = Math.max(peak.rss, await rssBytes(procs[site]!.child.pid!));
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const manifests: Manifest[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const ova = await world.buildOva({ name: `load${i}`, diskSize: 3 * 2 ** 20 });
      manifests.push(await world.publish(ova, { name: `load${i}`, version: '1' }));
    }
    for (const site of SITES)
      for (const m of manifests) await world.waitForStatus(site, m.name, m.version, undefined, 180_000);
    sampling = false;
    await sampler;

    expect(peak.downloads).toBeGreaterThanOrEqual(1);
    expect(peak.downloads).toBeLessThanOrEqual(2);
    expect(peak.imports).toBe(1);
    expect(peak.rss).toBeGreaterThan(0);
    expect(peak.rss).toBeLessThan(250 * 2 ** 20);
    console.log(
      `load: peak downloads ${peak.downloads}, imports ${peak.imports}, agent RSS ${(peak.rss / 2 ** 20).toFixed(0)} MiB`,
    );
    for (const site of SITES) {
      procs[site]!.child.kill('SIGTERM');
      expect(await procs[site]!.exited).toBe(0);
    }
  });
});
