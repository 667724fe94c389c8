/**
 * Rollouts in waves, the approval gate and key rotation, end to end: real nats-server, s3rver and
 * one vcsim per site; the `ferry` CLI in-process; the coordinator daemon in-process (restarted in
 * one test); three agents in this process. Sites: dc1 is the canary (label canary=true).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CoordinatorDaemon, startCoordinator } from '@ferry/coordinator';
import {
  imageSidecarPath,
  loadCoordinatorConfig,
  parseManifest,
  type RolloutRecord,
  silentLogger,
} from '@ferry/shared';
import { Kvm } from '@nats-io/kv';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { eventsAbout, readRollout } from '../support/rollout-state.js';
import { SiteWorld } from '../support/site-world.js';
import { waitFor } from '../support/wait.js';

const SITES = ['dc1', 'dc2', 'dc3'];
const API_TOKEN = 'rollout-api-token-5e1d';
const HTTP = { listen: '127.0.0.1:0', tokenFile: 'api.token', tokenName: 'scanner' };
const WAVES = ['--wave', 'canary=label:canary=true', '--wave', 'rest=*'];
/** The first rollout uses a dotted name and version (KV keys escape `.`). */
const NAME = 'ubuntu-22.04';
const VERSION = '2026.12.01';

let world: SiteWorld;
let config: string;
let daemon: CoordinatorDaemon | undefined;

async function startDaemon(): Promise<CoordinatorDaemon> {
  daemon = await startCoordinator(await loadCoordinatorConfig(config), {
    logger: silentLogger(),
    discoverAtStart: false,
    rollouts: { intervalMs: 2_000 },
  });
  return daemon;
}

async function cli(...args: string[]): Promise<string> {
  const r = await ferry([...args, '--config', config]);
  expect(r.code, `ferry ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

const rollout = (name: string, version: string): Promise<RolloutRecord | undefined> =>
  readRollout(world.nc, name, version);
const eventsFor = (name: string, version: string) => eventsAbout(world.nc, name, version);

/** `waitFor` (90 s: a rollout spans imports at three sites) whose timeout shows `ferry status --json`. */
async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  try {
    return await waitFor(fn, { what, timeoutMs: 90_000 });
  } catch (err) {
    const status = await ferry(['status', '--json', '--config', config]);
    throw new Error(`${(err as Error).message}; ferry status: ${status.out}`, { cause: err });
  }
}

interface StatusJson {
  images: Array<{
    name: string;
    version: string;
    rollout: { state: string; wave: string; of: number; approvedBy: string | null; note: string | null } | null;
    sites: Record<string, { state: string; wave: string | null } | undefined>;
  }>;
}

async function statusRow(name: string, version: string) {
  const s = JSON.parse(await cli('status', '--json')) as StatusJson;
  return s.images.find((i) => i.name === name && i.version === version);
}

beforeAll(async () => {
  world = await SiteWorld.start([
    { site: 'dc1', zone: 'corp', labels: { canary: 'true' } },
    { site: 'dc2', zone: 'corp' },
    { site: 'dc3', zone: 'corp' },
  ]);
  await writeFile(join(world.dir, 'api.token'), API_TOKEN);
  config = await writeCoordinatorConfig(world, { discovery: { enabled: false }, http: HTTP });
  for (const site of SITES) await world.startAgent(site);
  await startDaemon();
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  await world?.stop();
});

describe('rollouts in waves', () => {
  it('the canary is ready and soaked before the other sites get the image; then they finish', async () => {
    const ova = await world.buildOva({ name: 'waves' });
    const published = await cli('publish', ova.path, '--name', NAME, '--version', VERSION, ...WAVES, '--soak', '5s');
    expect(published).toMatch(/rollout ubuntu-22\.04@2026\.12\.01 .*\n\s+state\s+wave 1 of 2 \(canary\)/);
    // Dotted names: the rollout's KV key escapes the dots, as the catalog's does.
    const kv = await new Kvm(world.nc).open('ferry_rollouts');
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys).toContain('ubuntu-22=2E04.2026=2E12=2E01');

    // While the rollout runs: whenever dc2 or dc3 has any status for the image, the canary is ready.
    let sawOthersBeforeCanary = false;
    await until('all sites ready', async () => {
      const [c, ...others] = await Promise.all(SITES.map((s) => world.status(s, NAME, VERSION)));
      if (others.some((o) => o !== undefined) && c?.state !== 'ready') sawOthersBeforeCanary = true;
      return others.every((o) => o?.state === 'ready') && c?.state === 'ready' ? true : undefined;
    });
    expect(sawOthersBeforeCanary).toBe(false);

    const record = await until('rollout done', async () => {
      const r = await rollout(NAME, VERSION);
      return r?.doneAt ? r : undefined;
    });
    const [canary, rest] = record.waves;
    expect(canary!.sites).toEqual(['dc1']);
    expect(rest!.sites).toEqual(['dc2', 'dc3']);
    const canaryReady = Date.parse((await world.status('dc1', NAME, VERSION))!.updatedAt);
    // The second wave was released only after the canary's ready record and its 5 s soak.
    expect(Date.parse(canary!.readyAt!)).toBeGreaterThanOrEqual(canaryReady);
    expect(Date.parse(rest!.releasedAt!)).toBeGreaterThanOrEqual(Date.parse(canary!.readyAt!) + 5_000);

    // Events went to the wave's sites, never to `all`, and the others' only after the soak.
    const events = await eventsFor(NAME, VERSION);
    expect(events.map((e) => e.subject).sort()).toEqual([
      'ferry.events.dc1.published',
      'ferry.events.dc2.published',
      'ferry.events.dc3.published',
    ]);
    for (const e of events.filter((x) => !x.subject.includes('.dc1.'))) {
      expect(Date.parse(e.sentAt)).toBeGreaterThanOrEqual(canaryReady + 5_000);
    }

    const row = await statusRow(NAME, VERSION);
    expect(row?.rollout).toMatchObject({ state: 'done', of: 2 });
    expect(row?.sites.dc1?.wave).toBe('canary');
    expect(row?.sites.dc3?.wave).toBe('rest');
    expect(await cli('rollout', 'status', `${NAME}@${VERSION}`)).toMatch(/state\s+done/);
  });

  it('--hold: nothing downloads (events or reconcile) until ferry approve; the approval is shown', async () => {
    const ova = await world.buildOva({ name: 'held', seed: 'held' });
    await cli('publish', ova.path, '--name', 'held', '--version', '1', '--hold');
    expect((await rollout('held', '1'))?.gate).toBe('approval');
    // Every agent reconciles against the catalog, which now holds the image: each must leave it.
    for (const site of SITES) {
      const report = await world.agents.get(site)!.reconciler.run('event');
      expect(report.counts.import, site).toBe(0);
    }
    expect(await eventsFor('held', '1')).toEqual([]);
    for (const site of SITES) expect(await world.status(site, 'held', '1'), site).toBeUndefined();
    expect((await statusRow('held', '1'))?.rollout?.state).toBe('held');

    await cli('approve', 'held@1', '--note', 'scan 4711 passed');
    for (const site of SITES) await world.waitForStatus(site, 'held', '1');
    const row = await statusRow('held', '1');
    expect(row?.rollout?.approvedBy).toEqual(expect.any(String));
    expect(row?.rollout?.note).toBe('scan 4711 passed');
    expect(await cli('status')).toMatch(/held@1\s+.*by \S+ at .*\(scan 4711 passed\)/);
  });

  it('POST /api/approve (a scanner with the API token) approves, recorded as the token name', async () => {
    const ova = await world.buildOva({ name: 'scanned', seed: 'scanned' });
    await cli('publish', ova.path, '--name', 'scanned', '--version', '1', '--hold');
    const post = (headers: Record<string, string>) =>
      fetch(`${daemon!.url}/api/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: 'scanned', version: '1', note: 'scan 4712 passed' }),
      });
    expect((await post({})).status).toBe(401);
    expect((await rollout('scanned', '1'))?.approval).toBeUndefined();
    const ok = await post({ authorization: `Bearer ${API_TOKEN}` });
    expect(ok.status).toBe(200);
    for (const site of SITES) await world.waitForStatus(site, 'scanned', '1');
    expect((await statusRow('scanned', '1'))?.rollout).toMatchObject({
      approvedBy: 'api:scanner',
      note: 'scan 4712 passed',
    });
  });

  it('halt stops a soaking rollout, promote is refused until resume, then promote releases the next wave', async () => {
    const ova = await world.buildOva({ name: 'manual', seed: 'manual' });
    await cli('publish', ova.path, '--name', 'manual', '--version', '1', ...WAVES, '--soak', '1h');
    await until('the canary soaking', async () =>
      (await rollout('manual', '1'))?.waves[0]?.readyAt ? true : undefined,
    );
    expect(await cli('rollout', 'status', 'manual@1')).toMatch(/soaking until/);

    expect(await cli('halt', 'manual@1', '--reason', 'ticket 123')).toMatch(/halted: by \S+: ticket 123/);
    const refused = await ferry(['promote', 'manual@1', '--config', config]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/halted .*ferry resume manual@1 first/);
    expect((await statusRow('manual', '1'))?.rollout?.state).toBe('halted');

    await cli('resume', 'manual@1');
    expect((await rollout('manual', '1'))?.halt).toBeUndefined();
    await cli('promote', 'manual@1');
    for (const site of SITES) await world.waitForStatus(site, 'manual', '1');
    // The last wave soaks too (--soak applies to every wave) before the rollout is done.
    const r = await until('the last wave ready', async () => {
      const x = await rollout('manual', '1');
      return x?.waves[1]?.readyAt ? x : undefined;
    });
    expect(r.waves[1]!.promotedBy).toEqual(expect.any(String));
    expect(r.doneAt).toBeUndefined();
  });

  it('a coordinator restart during the soak continues the rollout', async () => {
    const ova = await world.buildOva({ name: 'restart', seed: 'restart' });
    // The soak must outlast noticing it and stopping the daemon, on a loaded machine too: the
    // restart has to fall inside it for this test to test anything.
    const soakMs = 15_000;
    await cli('publish', ova.path, '--name', 'restart', '--version', '1', ...WAVES, '--soak', `${soakMs / 1000}s`);
    await until('the canary soaking', async () =>
      (await rollout('restart', '1'))?.waves[0]?.readyAt ? true : undefined,
    );
    await daemon!.stop();
    daemon = undefined;
    expect((await rollout('restart', '1'))?.waves[1]?.releasedAt).toBeUndefined();
    await startDaemon();
    for (const site of SITES) await world.waitForStatus(site, 'restart', '1');
    // The restarted daemon released wave 2 once the soak begun before the restart was over, and
    // went on (wave 2 ready; its own soak, which `done` would wait for, adds nothing here).
    const r = await until('wave 2 ready', async () => {
      const x = await rollout('restart', '1');
      return x?.waves[1]?.readyAt ? x : undefined;
    });
    expect(Date.parse(r.waves[1]!.releasedAt!)).toBeGreaterThanOrEqual(Date.parse(r.waves[0]!.readyAt!) + soakMs);
  });

  it('an agent offline during its wave imports the image when it returns', async () => {
    await world.stopAgent('dc3');
    const ova = await world.buildOva({ name: 'offline', seed: 'offline' });
    await cli('publish', ova.path, '--name', 'offline', '--version', '1', ...WAVES, '--soak', '1s');
    await world.waitForStatus('dc2', 'offline', '1');
    const r = await until('wave 2 released', async () => {
      const x = await rollout('offline', '1');
      return x?.waves[1]?.announcedAt ? x : undefined;
    });
    expect(r.waves[1]!.sites).toContain('dc3');
    expect(r.doneAt).toBeUndefined();
    expect(await world.status('dc3', 'offline', '1')).toBeUndefined();
    await world.startAgent('dc3');
    await world.waitForStatus('dc3', 'offline', '1');
    await until('rollout done', async () => ((await rollout('offline', '1'))?.doneAt ? true : undefined));
  });
});

describe('the web page', () => {
  it('shows the rollout state of each image (with the approval) and the wave of each cell', async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      await page.addInitScript(`sessionStorage.setItem('ferry-api-token', ${JSON.stringify(API_TOKEN)})`);
      await page.goto(daemon!.url);
      const badge = page.locator('#matrix-body [data-image="scanned@1"] .badge.rollout');
      await badge.waitFor({ timeout: 30_000 });
      expect(await badge.getAttribute('title')).toMatch(/approved by api:scanner .*\(scan 4712 passed\)/);
      const done = page.locator(`#matrix-body [data-image="${NAME}@${VERSION}"] .badge.rollout`);
      expect(await done.textContent()).toBe('done');
      const cell = page.locator(`#matrix-body [data-image="${NAME}@${VERSION}"] [data-site="dc1"]`);
      expect(await cell.getAttribute('title')).toContain('wave canary');
    } finally {
      await browser.close();
    }
  });
});

describe('key rotation', () => {
  it('resign, then the old key removed from agents: reconcile keeps everything and a new publish verifies', async () => {
    const old = await world.buildOva({ name: 'before', seed: 'before' });
    await cli('publish', old.path, '--name', 'before', '--version', '1');
    for (const site of SITES) await world.waitForStatus(site, 'before', '1');
    const keyOut = join(world.dir, 'keys', 'next');
    const keygen = await ferry(['keygen', '--out', keyOut]);
    expect(keygen.code, keygen.err).toBe(0);
    const resigned = JSON.parse(await cli('resign', '--key', `${keyOut}.key`, '--all', '--json')) as {
      keyId: string;
      resigned: unknown[];
    };
    const manifestCount = (await world.catalog.list()).length;
    expect(resigned.resigned).toHaveLength(manifestCount);
    const manifests = await world.catalog.list();
    expect(manifests.every((m) => m.keyId === resigned.keyId)).toBe(true);
    // Each version's sidecar in the store (the source of truth) carries the new signature too.
    for (const m of manifests) {
      const sidecar = await world.store.get(imageSidecarPath(m.artifact, m.name, m.version));
      let text = '';
      for await (const chunk of sidecar) text += chunk;
      expect(parseManifest(JSON.parse(text)).keyId, `${m.name}@${m.version}`).toBe(resigned.keyId);
    }

    const before = new Map<string, string>();
    for (const site of SITES) {
      for (const m of manifests)
        before.set(`${site} ${m.name}`, (await world.status(site, m.name, m.version))!.updatedAt);
      await world.stopAgent(site);
      await world.writeConfig(site, { publicKeyFile: `${keyOut}.pub` });
      await world.startAgent(site);
    }
    for (const site of SITES) {
      const report = await world.agents.get(site)!.reconciler.run('event');
      expect(report.errors, site).toEqual([]);
      expect(report.counts, site).toMatchObject({ import: 0, reimport: 0, delete: 0, keep: manifests.length });
      for (const m of manifests) {
        const s = await world.status(site, m.name, m.version);
        expect(s?.state).toBe('ready');
        expect(s?.updatedAt, `${site} ${m.name} re-imported`).toBe(before.get(`${site} ${m.name}`));
      }
    }

    config = await writeCoordinatorConfig(world, {
      discovery: { enabled: false },
      http: HTTP,
      signing: { privateKeyFile: `${keyOut}.key` },
    });
    const ova = await world.buildOva({ name: 'after', seed: 'after' });
    await cli('publish', ova.path, '--name', 'after', '--version', '1');
    for (const site of SITES) await world.waitForStatus(site, 'after', '1');
  });
});
