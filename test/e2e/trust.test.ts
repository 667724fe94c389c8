import { EVENT_SCHEMA, eventSubject, type Manifest, signManifest } from '@ferry/shared';
import { parseMarker } from '@ferry/site-agent/internal';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { makeTestKey, stageImage } from '../support/images.js';
import { SiteWorld } from '../support/site-world.js';

let world: SiteWorld;
let config: string;
const SITE = 'dc1';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE }]);
  config = await writeCoordinatorConfig(world);
  await world.startAgent(SITE);
});
afterAll(async () => {
  await world?.stop();
});

let injected = 0;
async function inject(manifest: Manifest): Promise<void> {
  injected += 1;
  const event = {
    schema: EVENT_SCHEMA,
    id: `inject-${injected}`,
    sentAt: new Date().toISOString(),
    kind: 'published',
    manifest,
  };
  await jetstream(world.nc).publish(eventSubject('all', 'published'), JSON.stringify(event));
}

async function itemSha(): Promise<string | undefined> {
  const agent = world.agents.get(SITE)!;
  const item = await agent.rt.importer.findItem({ name: 'golden', version: '1' });
  return parseMarker(item?.description)?.sha256;
}

describe('trust: forged and replayed manifests', () => {
  it('refuses a manifest signed by another key and a replayed older one; the library keeps the genuine item', async () => {
    const genuine = await world.buildOva({ name: 'golden', seed: 'genuine' });
    expect(
      (await ferry(['publish', genuine.path, '--name', 'golden', '--version', '1', '--config', config])).code,
    ).toBe(0);
    const first = (await world.catalog.get('golden', '1'))!;
    await world.waitForStatus(SITE, 'golden', '1');
    expect(await itemSha()).toBe(genuine.sha256);

    // 1. Forged: same name and version, other bytes, signed with a key the agents do not trust.
    const evil = await world.buildOva({ name: 'golden', seed: 'evil' });
    const attacker = await makeTestKey(world.dir, 'attacker');
    const staged = await stageImage(world.store, attacker, evil, { name: 'golden', version: '1' });
    const { signature: _s, keyId: _k, ...body } = staged;
    await inject(
      signManifest(
        { ...body, artifact: 'golden/1/evil.ova', publishedAt: new Date().toISOString(), replaces: genuine.sha256 },
        attacker,
      ),
    );
    const afterForgery = await world.waitForStatus(
      SITE,
      'golden',
      '1',
      (r) => r.lastRefusal?.code === 'SIGNATURE_INVALID',
    );
    expect(afterForgery.state).toBe('ready');
    expect(afterForgery.sha256).toBe(genuine.sha256);
    expect(afterForgery.lastRefusal?.message).toContain(attacker.keyId);
    expect(await itemSha()).toBe(genuine.sha256);

    // 2. A legitimate replacement (--replace), then the old manifest replayed.
    const fixed = await world.buildOva({ name: 'golden', seed: 'fixed' });
    const replaced = await ferry([
      'publish',
      fixed.path,
      '--name',
      'golden',
      '--version',
      '1',
      '--replace',
      '--config',
      config,
    ]);
    expect(replaced.code, replaced.err).toBe(0);
    await world.waitForStatus(SITE, 'golden', '1', (r) => r.state === 'ready' && r.sha256 === fixed.sha256);
    expect(await itemSha()).toBe(fixed.sha256);

    await inject(first);
    const afterReplay = await world.waitForStatus(
      SITE,
      'golden',
      '1',
      (r) => r.lastRefusal?.code === 'ROLLBACK_REFUSED',
    );
    expect(afterReplay).toMatchObject({ state: 'ready', sha256: fixed.sha256 });
    expect(afterReplay.lastRefusal?.message).toMatch(/not newer|rollback/);
    expect(await itemSha()).toBe(fixed.sha256);

    // Operators see the refusal next to the good state.
    const shown = await ferry(['status', 'golden@1', '--json', '--config', config]);
    const cell = (
      JSON.parse(shown.out) as {
        images: Array<{ sites: Record<string, { state: string; refused: { code: string } | null }> }>;
      }
    ).images[0]!.sites[SITE]!;
    expect(cell).toMatchObject({ state: 'ready', refused: { code: 'ROLLBACK_REFUSED' } });

    // A reconcile pass agrees: nothing to roll back.
    const report = await world.agents.get(SITE)!.reconciler.run('manual');
    expect(report.counts.reimport).toBe(0);
    expect(await itemSha()).toBe(fixed.sha256);
  });

  it('refuses a 10 MB event at the stream and goes on with the next one', async () => {
    const js = jetstream(world.nc);
    const err = await js
      .publish(eventSubject('all', 'published'), Buffer.alloc(10 * 1024 * 1024, 0x7b))
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/maximum|payload|size/i);
    const next = await world.publish(await world.buildOva({ name: 'next' }), { name: 'next', version: '1' });
    await world.waitForStatus(SITE, next.name, next.version);
  });

  it('a signed manifest whose artifact leaves the store prefix is refused with a failed status', async () => {
    const ova = await world.buildOva({ name: 'escape' });
    const staged = await stageImage(world.store, world.key, ova, { name: 'escape', version: '1' });
    const { signature: _s, keyId: _k, ...body } = staged;
    // Signed by the trusted key (a compromised pipeline): the schema still refuses the path.
    await inject(signManifest({ ...body, artifact: '../../etc/shadow' }, world.key));
    const failed = await world.waitForStatus(SITE, 'escape', '1', (r) => r.state === 'failed');
    expect(failed.error?.code).toBe('SCHEMA_INVALID');
    expect(failed.error?.message).toContain('artifact');
  });
});
