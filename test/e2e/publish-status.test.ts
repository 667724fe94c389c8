import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { SiteWorld } from '../support/site-world.js';
import { waitFor } from '../support/wait.js';

let world: SiteWorld;
let config: string;
const SITES = ['dc1-corp', 'dc2-corp'];

interface StatusJson {
  sites: Array<{ site: string; suspended: boolean; suspendRequested: boolean; stale: boolean }>;
  images: Array<{
    name: string;
    version: string;
    sites: Record<string, { state: string; percent: number | null } | undefined>;
  }>;
}

async function status(): Promise<StatusJson> {
  const r = await ferry(['status', '--json', '--config', config]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as StatusJson;
}

beforeAll(async () => {
  world = await SiteWorld.start(SITES.map((site) => ({ site, zone: 'corporate' })));
  config = await writeCoordinatorConfig(world);
  for (const site of SITES) await world.startAgent(site);
});
afterAll(async () => {
  await world?.stop();
});

describe('ferry publish → agents → ferry status', () => {
  it('`ferry status --json` moves from pending to ready at both sites', async () => {
    const ova = await world.buildOva({ name: 'ubuntu', diskSize: 120 * 2 ** 20 });
    const published = await ferry([
      'publish',
      ova.path,
      '--name',
      'ubuntu',
      '--version',
      '2026.11.21',
      '--config',
      config,
    ]);
    expect(published.code, published.err).toBe(0);
    const seen: Record<string, string[]> = Object.fromEntries(SITES.map((s) => [s, []]));
    await waitFor(
      async () => {
        const s = await status();
        const row = s.images.find((i) => i.name === 'ubuntu' && i.version === '2026.11.21');
        for (const site of SITES) {
          const state = row?.sites[site]?.state ?? 'none';
          if (seen[site]!.at(-1) !== state) seen[site]!.push(state);
        }
        return SITES.every((site) => seen[site]!.at(-1) === 'ready');
      },
      { what: () => `ubuntu ready at every site; seen ${JSON.stringify(seen)}`, timeoutMs: 60_000, intervalMs: 50 },
    );
    for (const site of SITES) {
      const states = seen[site]!;
      expect(states.at(-1)).toBe('ready');
      // Seen at least one state before ready, and only states of the documented order.
      expect(states.length, JSON.stringify(seen)).toBeGreaterThan(1);
      const order = ['none', 'pending', 'downloading', 'verifying', 'importing', 'ready'];
      const idx = states.map((x) => order.indexOf(x));
      expect(idx.every((v) => v >= 0)).toBe(true);
      expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    }
  });

  it('a suspended site takes no new jobs until resumed, and says so', async () => {
    const suspend = await ferry(['suspend', '--site', 'dc2-corp', '--config', config]);
    expect(suspend.code, suspend.err).toBe(0);
    await waitFor(async () => (await status()).sites.find((s) => s.site === 'dc2-corp')?.suspended === true, {
      what: 'dc2-corp shown as suspended',
    });

    const ova = await world.buildOva({ name: 'held' });
    expect((await ferry(['publish', ova.path, '--name', 'held', '--version', '1', '--config', config])).code).toBe(0);
    await world.waitForStatus('dc1-corp', 'held', '1');
    const agent = world.agents.get('dc2-corp')!;
    expect((await world.status('dc2-corp', 'held', '1'))?.state).toBe('pending');
    const report = await agent.reconciler.run('manual');
    expect(report.errors.join()).toMatch(/suspended/);
    expect(await agent.rt.importer.findItem({ name: 'held', version: '1' })).toBeUndefined();

    expect((await ferry(['resume', '--site', 'dc2-corp', '--config', config])).code).toBe(0);
    await world.waitForStatus('dc2-corp', 'held', '1');
    expect((await status()).sites.find((s) => s.site === 'dc2-corp')?.suspended).toBe(false);
  });
});
