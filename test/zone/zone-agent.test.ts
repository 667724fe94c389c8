/**
 * Issue 16: one agent per network zone, several vCenters (vcsims) as its targets, on a real
 * nats-server and s3rver. Store bytes are counted by a TCP proxy in front of s3rver.
 */
import { setSiteSuspended } from '@ferry/coordinator';
import { type Manifest, parseHeartbeat, siteKey } from '@ferry/shared';
import { runAgentCli, type SiteAgent, VimClient } from '@ferry/site-agent/internal';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';
import { waitFor } from '../support/wait.js';
import { type FaultProxy, startFaultProxy } from '../world/fault-proxy.js';
import { type BuiltOva, deployableOvfDescriptor, sha256Of } from '../world/ova.js';

const SITES = ['za', 'zb', 'zc'];
let world: SiteWorld;
let proxy: FaultProxy;
let agent: SiteAgent | undefined;
let agentId = '';

beforeAll(async () => {
  world = await SiteWorld.start([
    { site: 'za', zone: 'corp' },
    { site: 'zb', zone: 'corp' },
    { site: 'zc', zone: 'corp' },
    { site: 'zsub', zone: 'corp', sharesVcsimWith: 'za' },
  ]);
  proxy = await startFaultProxy(world.s3.port);
});
afterEach(async () => {
  if (agent) await world.stopAgent(agentId, 2_000);
  agent = undefined;
});
afterAll(async () => {
  await proxy?.stop();
  await world?.stop();
});

/** Every file of the site's item has the manifest's sha256 (read back from vCenter). */
async function expectItemBytes(a: SiteAgent, site: string, manifest: Manifest): Promise<void> {
  const record = await world.waitForStatus(site, manifest.name, manifest.version);
  const library = a.target(site).target.library;
  for (const f of manifest.files) {
    expect(await sha256Of(await library.downloadFile(record.libraryItemId!, f.name)), `${site} ${f.name}`).toBe(
      f.sha256,
    );
  }
}

async function metric(a: SiteAgent, line: RegExp): Promise<number> {
  const text = await (await fetch(`${a.httpUrl}/metrics`)).text();
  const m = line.exec(text);
  if (!m) throw new Error(`no ${line} in /metrics`);
  return Number(m[1]);
}

async function publish(name: string, targets: string[], diskSize = 2 * 2 ** 20): Promise<[BuiltOva, Manifest]> {
  const ova = await world.buildOva({ name, diskSize });
  return [ova, await world.publish(ova, { name, version: '1', targets })];
}

describe('zone agent: one agent, several vCenters', () => {
  it('one publish → every target ready with byte-identical items; the store served the object once', async () => {
    await world.writeZoneConfig(
      'zone1',
      SITES.map((site) => ({ site })),
      { s3Endpoint: proxy.url, concurrency: { downloads: 2, imports: 3 } },
    );
    agentId = 'zone1';
    agent = await world.startAgent(agentId);
    const before = proxy.bytesFromUpstream;
    const [ova, m] = await publish('zone-one', SITES);
    for (const site of SITES) await expectItemBytes(agent, site, m);

    // One GET of the object (plus HTTP framing), not three.
    const served = proxy.bytesFromUpstream - before;
    expect(served).toBeGreaterThanOrEqual(ova.size);
    expect(served).toBeLessThan(ova.size * 1.5);
    expect(await metric(agent, /^ferry_bytes_downloaded_total (\d+)$/m)).toBe(ova.size);
    // One proof of the OVA's entries for the zone: the other targets followed it or used it.
    expect(await metric(agent, /^ferry_ova_proofs\{how="hashed"\} (\d+)$/m)).toBe(1);
    expect(await metric(agent, /^ferry_ova_proofs\{how="reused"\} (\d+)$/m)).toBe(SITES.length - 1);
    for (const site of SITES) {
      expect(
        await metric(agent, new RegExp(`^ferry_site_imports_total\\{site="${site}",result="ready"\\} (\\d+)$`, 'm')),
      ).toBe(1);
      // One heartbeat per site, naming the agent that serves it.
      const entry = await world.topology.sites.get(siteKey(site));
      expect(parseHeartbeat(entry?.json())).toMatchObject({ site, agent: 'zone1', zone: 'corp' });
    }
  });

  it('imports: 2 caps the zone over three vCenters; imports: 1 per target caps each vCenter', async () => {
    await world.writeZoneConfig(
      'zone2',
      SITES.map((site) => ({ site, library: 'zone-cap', imports: 1 })),
      { concurrency: { downloads: 2, imports: 2 } },
    );
    const before = Object.fromEntries(
      await Promise.all(SITES.map(async (s) => [s, await world.vcsims[s]!.updateSessions({ resetPeak: true })])),
    );
    const images: Manifest[] = [];
    for (let i = 0; i < 3; i++) images.push((await publish(`zone-cap${i}`, SITES, 4 * 2 ** 20))[1]);
    agentId = 'zone2';
    agent = await world.startAgent(agentId);
    for (const m of images) for (const site of SITES) await expectItemBytes(agent, site, m);
    // The zone queue's own high-water mark (no vCenter sees the others), and each vCenter's count.
    expect(await metric(agent, /^ferry_transfers_peak\{kind="import"\} (\d+)$/m)).toBe(2);
    for (const site of SITES) {
      const counts = await world.vcsims[site]!.updateSessions();
      expect(counts.peak, site).toBe(1);
      expect(counts.created - before[site]!.created, site).toBe(images.length);
    }
  });

  it('a stopped vCenter holds back no other target and catches up from the cache, without a second download', async () => {
    // zc's vCenter is reached through a proxy that refuses connections while it is "down".
    const zcProxy = await startFaultProxy(Number(new URL(world.vcsims.zc!.url).port));
    await world.writeZoneConfig(
      'zone2b',
      SITES.map((site) => ({
        site,
        library: 'zone-down',
        ...(site === 'zc' ? { vsphereUrl: `https://127.0.0.1:${zcProxy.port}` } : {}),
      })),
      {
        s3Endpoint: proxy.url,
        concurrency: { downloads: 2, imports: 2 },
        extra: {
          reconcile: { enabled: false },
          jobs: { retryBase: '200ms', retryMax: '1s', maxAttempts: 200, shutdownGrace: '2s' },
        },
      },
    );
    zcProxy.setMode('refuse');
    agentId = 'zone2b';
    agent = await world.startAgent(agentId);
    const before = proxy.bytesFromUpstream;
    const images = [];
    for (let i = 0; i < 2; i++) images.push(await publish(`zone-down${i}`, SITES));
    for (const [, m] of images) for (const site of ['za', 'zb']) await expectItemBytes(agent, site, m);
    // zc's jobs wait for their retry meanwhile, each with its error in its status.
    for (const [, m] of images) {
      const zc = await world.waitForStatus('zc', m.name, m.version, (r) => r.state === 'failed');
      expect(zc.retryAt).toBeDefined();
    }

    zcProxy.setMode('pass');
    for (const [, m] of images) await expectItemBytes(agent, 'zc', m);
    const total = images.reduce((sum, [ova]) => sum + ova.size, 0);
    expect(proxy.bytesFromUpstream - before).toBeGreaterThanOrEqual(total);
    expect(proxy.bytesFromUpstream - before).toBeLessThan(total * 1.5);
    await zcProxy.stop();
  });

  it('check and /metrics show every target and the bandwidth limits; suspend is per site', async () => {
    const file = await world.writeZoneConfig(
      'zone5',
      [
        { site: 'za', library: 'zone-bw', bandwidth: { vcenter: '50MiB/s' }, labels: { canary: 'true' } },
        { site: 'zb', library: 'zone-bw' },
      ],
      { extra: { bandwidth: { store: '400MiB/s', vcenter: '200MiB/s' } } },
    );
    let stdout = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stdout += s) } };
    expect(await runAgentCli(['check', '--config', file], io as never)).toBe(0);
    expect(stdout).toMatch(/^OK {4}vcenter za +logged in to https:\/\/127\.0\.0\.1:\d+; library zone-bw/m);
    expect(stdout).toMatch(/^OK {4}vcenter zb /m);
    expect(stdout).toMatch(
      /^OK {4}bandwidth limits agent: store 400 MiB\/s, vcenter 200 MiB\/s; za: vcenter 50\.0 MiB\/s$/m,
    );

    agentId = 'zone5';
    agent = await world.startAgent(agentId);
    const MiB = 2 ** 20;
    expect(
      await metric(agent, /^ferry_bandwidth_limit_bytes_per_second\{scope="agent",direction="store"\} (\d+)$/m),
    ).toBe(400 * MiB);
    expect(
      await metric(agent, /^ferry_bandwidth_limit_bytes_per_second\{scope="za",direction="vcenter"\} (\d+)$/m),
    ).toBe(50 * MiB);

    // `ferry suspend --site zb` holds zb's job `pending`; za imports.
    await setSiteSuspended(world.statusKv, 'zb', true);
    await waitFor(() => agent?.target('zb').suspended, { what: 'zb to obey the suspend' });
    expect(agent.target('za').suspended).toBe(false);
    const [, m] = await publish('zone-suspend', ['za', 'zb']);
    await expectItemBytes(agent, 'za', m);
    expect((await world.status('zb', m.name, m.version))?.state).toBe('pending');
    expect(await metric(agent, /^ferry_site_suspended\{site="zb"\} (\d+)$/m)).toBe(1);
    await setSiteSuspended(world.statusKv, 'zb', false);
    await expectItemBytes(agent, 'zb', m);

    // Selectors per target: a label only za has, then the zone both are in.
    const [, canary] = await publish('zone-canary', ['label:canary=true']);
    await expectItemBytes(agent, 'za', canary);
    const [, corp] = await publish('zone-corp', ['zone:corp']);
    for (const site of ['za', 'zb']) await expectItemBytes(agent, site, corp);
    expect(await world.status('zb', canary.name, canary.version)).toBeUndefined();
  });

  it('a deploy check runs on the target that enables it, not on the others', async () => {
    const vc = world.vcsims.zb!;
    const vim = new VimClient({ url: vc.url, username: vc.username, password: vc.password, insecure: true });
    const resourcePool = (await vim.listObjects('ResourcePool', ['name']))[0]!.id;
    await vim.logout();
    await world.writeZoneConfig('zone6', [
      { site: 'za', library: 'zone-check' },
      { site: 'zb', library: 'zone-check', deployCheck: { enabled: true, resourcePool, timeout: '60s' } },
    ]);
    agentId = 'zone6';
    agent = await world.startAgent(agentId);
    const ova = await world.buildOva({ name: 'zone-check', disks: 2, ovf: deployableOvfDescriptor });
    const m = await world.publish(ova, { name: 'zone-check', version: '1', targets: ['za', 'zb'] });
    const checked = await world.waitForStatus('zb', m.name, m.version, (r) => r.state === 'ready', 90_000);
    expect(checked.check).toMatchObject({ passed: true, vm: expect.stringMatching(/^vm-\d+$/) });
    const plain = await world.waitForStatus('za', m.name, m.version);
    expect(plain.check).toBeUndefined();
  });

  it('a pull target reaches ready through vcsim PULL from the agent listener', async () => {
    await world.writeZoneConfig('zone3', [{ site: 'zb', library: 'zone-pull', transfer: 'pull' }], {
      extra: { pull: { listen: '127.0.0.1:0' } },
    });
    agentId = 'zone3';
    agent = await world.startAgent(agentId, { captureLogs: true });
    expect(agent.rt.pullServer?.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const [, m] = await publish('zone-pull', ['zb']);
    await expectItemBytes(agent, 'zb', m);
    // vCenter fetched the files from the listener (no PUSH upload happened).
    const logs = world.logs.get('zone3') ?? [];
    expect(logs.some((l) => l.msg === 'PULL import completed' && l.files === m.files.length)).toBe(true);
    expect(logs.some((l) => l.msg === 'importing into content library')).toBe(true);
  });

  it('a subscribe target is ready once its subscribed library synced; reconcile repairs a deleted item', async () => {
    await world.writeZoneConfig('zone4', [
      { site: 'za', library: 'zone-src' },
      { site: 'zsub', library: 'zone-sub', subscribe: 'za' },
    ]);
    agentId = 'zone4';
    agent = await world.startAgent(agentId);
    const [, m] = await publish('zone-sub', ['za', 'zsub']);
    await expectItemBytes(agent, 'za', m);
    const synced = await world.waitForStatus('zsub', m.name, m.version);
    const sub = agent.target('zsub').target;
    const item = await sub.importer.findItem(m);
    expect(item?.id).toBe(synced.libraryItemId);

    // By hand, in vCenter (vcsim shares the items of both libraries, so the source's goes too).
    await sub.library.deleteItem(item!.id);
    expect(await sub.importer.findItem(m)).toBeUndefined();
    await Promise.all([agent.target('za').reconciler.run('manual'), agent.target('zsub').reconciler.run('manual')]);
    await waitFor(async () => (await sub.importer.findItem(m)) ?? undefined, {
      what: 'the subscribed item to be back',
      timeoutMs: 60_000,
    });
    await world.waitForStatus('zsub', m.name, m.version, (r) => r.state === 'ready' && r.updatedAt > synced.updatedAt);
  });
});
