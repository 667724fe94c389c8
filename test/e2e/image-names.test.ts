/**
 * Image names as people write them (dots, `+build` metadata) go all the way: `ferry publish` →
 * store path → catalog/status keys → agents → library items → `ferry status/republish/retire`,
 * with every output showing the plain names.
 */
import { type KvEntry, KvWatchInclude } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { SiteWorld } from '../support/site-world.js';

const SITES = ['dc1-corp', 'dc2-corp'];
const IMAGES = [
  { name: 'ubuntu-22.04', version: '22.04.5' },
  { name: 'rhel-9.4', version: '2026.12.01' },
  { name: 'win_2022', version: '1.2.3+build.7' },
];

let world: SiteWorld;
let config: string;

interface StatusJson {
  images: Array<{ name: string; version: string; sites: Record<string, { state: string } | undefined> }>;
}

beforeAll(async () => {
  world = await SiteWorld.start(SITES.map((site) => ({ site, zone: 'corporate' })));
  config = await writeCoordinatorConfig(world);
  for (const site of SITES) await world.startAgent(site);
});
afterAll(async () => {
  await world?.stop();
});

describe('dotted image names and semver build metadata', () => {
  it('publish reaches ready at both sites; items, store paths and outputs carry the plain names', async () => {
    for (const [i, image] of IMAGES.entries()) {
      const ova = await world.buildOva({ name: image.name, seed: `names-${i}` });
      const r = await ferry([
        'publish',
        ova.path,
        '--name',
        image.name,
        '--version',
        image.version,
        '--config',
        config,
      ]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`${image.name}@${image.version}`);
    }
    for (const image of IMAGES) {
      for (const site of SITES) await world.waitForStatus(site, image.name, image.version);
      const manifest = await world.catalog.get(image.name, image.version);
      expect(manifest?.artifact).toBe(`${image.name}/${image.version}/${image.name}.ova`);
      for (const site of SITES) {
        const item = await world.agents.get(site)!.rt.importer.findItem(image);
        expect(item?.name).toBe(`${image.name}-${image.version}`);
      }
    }
    // The catalog lists every image back with its plain name (the keys are encoded, the values are not).
    const listed = (await world.catalog.list()).map((m) => `${m.name}@${m.version}`).sort();
    expect(listed).toEqual(IMAGES.map((i) => `${i.name}@${i.version}`).sort());

    const text = await ferry(['status', '--config', config]);
    expect(text.code, text.err).toBe(0);
    for (const image of IMAGES) {
      expect(text.out).toContain(image.name);
      expect(text.out).toContain(image.version);
    }
    expect(text.out).not.toContain('=2E');
    expect(text.out).not.toContain('=2B');
  });

  it('`ferry status ubuntu-22.04` shows only that image, by its plain name', async () => {
    const r = await ferry(['status', 'ubuntu-22.04', '--json', '--config', config]);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as StatusJson;
    expect(doc.images.map((i) => `${i.name}@${i.version}`)).toEqual(['ubuntu-22.04@22.04.5']);
    for (const site of SITES) expect(doc.images[0]!.sites[site]?.state).toBe('ready');
  });

  it('`ferry republish ubuntu-22.04@22.04.5 --force` re-imports it at the site', async () => {
    const site = 'dc1-corp';
    const { name, version } = IMAGES[0]!;
    const key = (await world.statusKv.keys(`${site}.ubuntu-22=2E04.>`)) as AsyncIterable<string>;
    const keys: string[] = [];
    for await (const k of key) keys.push(k);
    expect(keys).toEqual([`${site}.ubuntu-22=2E04.22=2E04=2E5`]);

    const states: string[] = [];
    const watch = await world.statusKv.watch({ key: keys[0]!, include: KvWatchInclude.UpdatesOnly });
    const watching = (async () => {
      for await (const e of watch as AsyncIterable<KvEntry>) {
        states.push((e.json() as { state: string }).state);
        if (states.length > 1 && states.at(-1) === 'ready') break;
      }
    })();
    const r = await ferry(['republish', `${name}@${version}`, '--site', site, '--force', '--json', '--config', config]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name, version });
    await watching;
    watch.stop();
    expect(states[0]).not.toBe('ready');
    expect(states.at(-1)).toBe('ready');
  });

  it('`ferry retire win_2022@1.2.3+build.7` removes the item at both sites and leaves the others', async () => {
    const r = await ferry(['retire', 'win_2022@1.2.3+build.7', '--config', config]);
    expect(r.code, r.err).toBe(0);
    for (const site of SITES) {
      await world.waitForStatus(site, 'win_2022', '1.2.3+build.7', (s) => s.state === 'retired');
      const agent = world.agents.get(site)!;
      expect(await agent.rt.importer.findItem({ name: 'win_2022', version: '1.2.3+build.7' })).toBeUndefined();
      expect(await agent.rt.importer.findItem({ name: 'rhel-9.4', version: '2026.12.01' })).toBeDefined();
    }
    const retired = await world.catalog.get('win_2022', '1.2.3+build.7');
    expect(retired?.retiredAt).toBeDefined();
  });

  it('a name outside the rule is refused at publish with the rule', async () => {
    const ova = await world.buildOva({ name: 'bad' });
    for (const [name, version] of [
      ['.hidden', '1'],
      ['ubuntu..22', '1'],
      ['ubuntu', '1.'],
      ['ub=untu', '1'],
    ] as const) {
      const r = await ferry(['publish', ova.path, '--name', name, '--version', version, '--config', config]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/starting with a letter or digit, without "\.\." and not ending in "\."/);
    }
  });
});
