/**
 * Unknown sites are errors, and sites can be removed (real nats-server and s3rver): republish,
 * reconcile, suspend and POST /api/republish refuse a site that never reported, listing the known
 * ones (`--force` addresses it anyway); `ferry sites remove` and DELETE /api/sites/<site> remove a
 * site's heartbeat, control and status records, refusing a live site unless forced.
 */
import { silentLogger } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOva } from '../../../test/world/ova.js';
import { type CoordinatorDaemon, checkSites, startCoordinator } from '../src/index.js';
import { startWorld, type World } from './world.js';

const API_TOKEN = 'api-token-5e1b';
let world: World;
let daemon: CoordinatorDaemon;
let status: KV;
let sites: KV;

const heartbeat = (site: string, agoMs: number) =>
  JSON.stringify({ site, zone: 'z', agentVersion: '0.1.0', lastSeen: new Date(Date.now() - agoMs).toISOString() });
const record = (site: string, name: string, version: string) =>
  JSON.stringify({
    site,
    name,
    version,
    sha256: 'a'.repeat(64),
    state: 'ready',
    bytesDone: 1,
    bytesTotal: 1,
    attempts: 1,
    updatedAt: new Date().toISOString(),
    agentVersion: '0.1.0',
  });

beforeAll(async () => {
  world = await startWorld({ extraConfig: 'http: { listen: "127.0.0.1:0" }', env: { FERRY_API_TOKEN: API_TOKEN } });
  const ova = await buildOva(world.dir, { name: 'centos', seed: 's1' });
  const r = await world.ferry('publish', ova.path, '--name', 'centos', '--version', '7');
  expect(r.code, r.stderr).toBe(0);
  const kvm = new Kvm(world.nc);
  sites = await kvm.open('ferry_sites');
  status = await kvm.open('ferry_status');
  // dc1 is alive, dc2 went quiet an hour ago, dc3 has only status records, ghost only a control record.
  await sites.put('dc1', heartbeat('dc1', 2_000));
  await sites.put('dc2', heartbeat('dc2', 3_600_000));
  for (const [site, version] of [
    ['dc1', '7'],
    ['dc2', '7'],
    ['dc2', '6'],
    ['dc3', '7'],
  ] as const) {
    await status.put(`${site}.centos.${version}`, record(site, 'centos', version));
  }
  await status.put('dc2._reconcile', JSON.stringify({ site: 'dc2' }));
  await status.put('dc2._control', JSON.stringify({ site: 'dc2' }));
  await status.put('ghost._control', JSON.stringify({ site: 'ghost' }));
  daemon = await startCoordinator(await world.config(), { logger: silentLogger(), discoverAtStart: false });
});
afterAll(async () => {
  await daemon?.stop();
  await world?.stop();
});

async function keys(kv: KV): Promise<string[]> {
  const out: string[] = [];
  for await (const k of await kv.keys()) out.push(k);
  return out.sort();
}

async function subjects(): Promise<string[]> {
  const jsm = await jetstreamManager(world.nc);
  const info = await jsm.streams.info('FERRY_EVENTS', { subjects_filter: '>' });
  return Object.keys(info.state.subjects ?? {}).sort();
}

const KNOWN = 'known sites: dc1, dc2, dc3';

describe('checkSites', () => {
  const known = ['dc1', 'dc2'];
  it.each([
    { requested: [], force: false, result: [] },
    { requested: ['dc1', 'dc1', 'dc2'], force: false, result: ['dc1', 'dc2'] },
    { requested: ['dc9'], force: true, result: ['dc9'] },
    { requested: ['dc1', 'dc9'], force: false, error: /^unknown site "dc9" \(known sites: dc1, dc2\): check/ },
    { requested: ['all'], force: true, error: /^invalid site "all"/ },
  ])('$requested force=$force', ({ requested, force, result, error }) => {
    if (error) expect(() => checkSites(requested, known, { force })).toThrow(error);
    else expect(checkSites(requested, known, { force })).toEqual(result);
  });
  it('says when no site has reported', () => {
    expect(() => checkSites(['dc1'], [])).toThrow(/no site has reported yet/);
  });
});

describe('unknown sites are refused with the known ones', () => {
  it('ferry republish --site nowhere (and --force addresses it)', async () => {
    const r = await world.ferry('republish', 'centos@7', '--site', 'nowhere');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `ferry: unknown site "nowhere" (${KNOWN}): check the spelling, or pass --force to address a site that has not reported yet\n`,
    );
    expect(await subjects()).not.toContain('ferry.events.nowhere.republish');
    expect((await world.ferry('republish', 'centos@7', '--site', 'nowhere', '--force')).code).toBe(0);
    expect(await subjects()).toContain('ferry.events.nowhere.republish');
    // A site known only from its status records is known.
    expect((await world.ferry('republish', 'centos@7', '--site', 'dc3')).code).toBe(0);
  });

  it('ferry reconcile --site nowhere', async () => {
    const r = await world.ferry('reconcile', '--site', 'dc1', '--site', 'nowhere');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`unknown site "nowhere" (${KNOWN})`);
    expect(await subjects()).not.toContain('ferry.events.dc1.reconcile');
    expect((await world.ferry('reconcile', '--site', 'nowhere', '--force')).code).toBe(0);
    expect(await subjects()).toContain('ferry.events.nowhere.reconcile');
  });

  it('ferry suspend --site nowhere creates no control record; a control record alone does not make a site known', async () => {
    const r = await world.ferry('suspend', '--site', 'nowhere');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`unknown site "nowhere" (${KNOWN})`);
    expect(await status.get('nowhere._control')).toBeNull();
    expect((await world.ferry('suspend', '--site', 'ghost')).code).toBe(1);
    const forced = await world.ferry('suspend', '--site', 'dc4', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('no agent has reported as dc4 yet');
    expect((await status.get('dc4._control'))?.json()).toMatchObject({ site: 'dc4', suspended: true });
    await status.purge('dc4._control');
  });

  it('POST /api/republish {"site":"nope"}', async () => {
    const post = (site: string) =>
      fetch(`${daemon.url}/api/republish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
        body: JSON.stringify({ name: 'centos', version: '7', site }),
      });
    const res = await post('nope');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; knownSites: string[] };
    expect(body.error).toMatch(/^unknown site "nope" \(known sites: dc1, dc2, dc3\)/);
    expect(body.knownSites).toEqual(['dc1', 'dc2', 'dc3']);
    expect(await subjects()).not.toContain('ferry.events.nope.republish');
    expect((await post('dc1')).status).toBe(202);
  });
});

describe('removing a site', () => {
  it('ferry sites remove refuses a live site, removes a quiet one entirely', async () => {
    const alive = await world.ferry('sites', 'remove', 'dc1');
    expect(alive.code).toBe(1);
    expect(alive.stderr).toMatch(
      /^ferry: site dc1 is alive \(last heartbeat \d+ s ago\): stop its agent first, or pass --force\n$/,
    );
    expect(await keys(sites)).toContain('dc1');

    const r = await world.ferry('sites', 'remove', 'dc2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('site dc2 removed (heartbeat and 4 status key(s))\n');
    expect(await keys(sites)).toEqual(['dc1']);
    expect((await keys(status)).filter((k) => k.startsWith('dc2.'))).toEqual([]);
    const listed = JSON.parse((await world.ferry('sites', '--json')).stdout) as { sites: Array<{ site: string }> };
    expect(listed.sites.map((s) => s.site)).not.toContain('dc2');

    const again = await world.ferry('sites', 'remove', 'dc2');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^ferry: unknown site "dc2" \(known sites: dc1, dc3\): nothing to remove/);

    // A stale column left by an old `suspend --site <typo>` can be removed too.
    expect((await world.ferry('sites', 'remove', 'ghost')).code).toBe(0);
    expect(await keys(status)).not.toContain('ghost._control');

    expect((await world.ferry('sites', 'remove', 'dc1', '--force')).code).toBe(0);
    expect(await keys(sites)).toEqual([]);
    expect((await keys(status)).filter((k) => k.startsWith('dc1.'))).toEqual([]);
  });

  it('DELETE /api/sites/<site> needs the token', async () => {
    const del = (site: string, token?: string) =>
      fetch(`${daemon.url}/api/sites/${site}`, {
        method: 'DELETE',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    expect((await del('dc3')).status).toBe(401);
    expect((await del('dc3', 'wrong')).status).toBe(401);
    expect((await keys(status)).filter((k) => k.startsWith('dc3.'))).toEqual(['dc3.centos.7']);
    const ok = await del('dc3', API_TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ site: 'dc3', heartbeat: false, statusKeys: ['dc3.centos.7'] });
    expect((await keys(status)).filter((k) => k.startsWith('dc3.'))).toEqual([]);
    expect((await del('dc3', API_TOKEN)).status).toBe(404);
  });
});
