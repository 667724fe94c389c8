/**
 * The status page never cuts a label and never hides a refusal (issue 20): in a real headless
 * Chromium at 1400 and 800 px, with long names, long error codes, a refused event, a stale site
 * with frozen transfers, a not-ready agent, a suspended site, a version not in the catalog, a
 * soaking and a halted rollout and a failed deploy check.
 * Every cell is measured in the page (`scrollWidth > clientWidth` means cut text); screenshots
 * go to test-output/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoordinatorDaemon } from '@ferry/coordinator';
import {
  type Heartbeat,
  type Manifest,
  ROLLOUT_SCHEMA,
  type RolloutRecord,
  rolloutKey,
  type SiteControl,
  type StatusRecord,
  signManifest,
  siteControlKey,
  statusKey,
} from '@ferry/shared';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';
import { launchBrowser, startPageDaemon } from '../support/web-browser.js';

const OUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
const LIVE = ['dc1-corp-frankfurt-primary', 'dc2-corp', 'dmz1-perimeter-zone-west'];
const STALE = 'dc9-decommissioned';

/** Elements whose text is cut: laid-out boxes (not inline spans) wider inside than outside. */
const CUT_TEXT = `[...document.querySelectorAll(
  '#matrix .row > *, #matrix .hrow > *, #matrix .site > *, .c .sub, #sites th, #sites td, #legend li, #summary'
)]
  .filter((e) => getComputedStyle(e).display !== 'inline' && e.scrollWidth > e.clientWidth + 1)
  .map((e) => e.textContent)`;

describe('the status page layout', () => {
  let world: SiteWorld;
  let daemon: CoordinatorDaemon;
  let browser: Browser;

  beforeAll(async () => {
    await mkdir(OUT, { recursive: true });
    [world, browser] = await Promise.all([SiteWorld.start([]), launchBrowser()]);
    const now = Date.now();
    const iso = (ago: number) => new Date(now - ago).toISOString();
    const manifest = (name: string, version: string): Manifest =>
      signManifest(
        {
          schema: 'ferry/manifest/v1',
          name,
          version,
          artifact: `${name}/${version}/${name}.ova`,
          sha256: 'a'.repeat(64),
          size: 3 * 1024 ** 3,
          files: [{ name: `${name}.ovf`, size: 1000, sha256: 'b'.repeat(64) }],
          targets: ['*'],
          labels: {},
          publishedAt: iso(3_600_000),
        },
        world.key,
      );
    const long = manifest('windows-server-2022-datacenter-hardened', '2026.11.21-build.4711');
    const short = manifest('alma', '9.4');
    await world.catalog.put(long);
    await world.catalog.put(short);
    const record = (site: string, m: Pick<Manifest, 'name' | 'version'>, extra: Partial<StatusRecord>) =>
      world.topology.status.put(
        statusKey(site, m.name, m.version),
        JSON.stringify({
          site,
          name: m.name,
          version: m.version,
          sha256: 'a'.repeat(64),
          state: 'ready',
          bytesDone: 0,
          bytesTotal: 0,
          attempts: 1,
          updatedAt: iso(33_000),
          agentVersion: '0.1.0',
          ...extra,
        } satisfies StatusRecord),
      );
    const heartbeat = (site: string, extra: Partial<Heartbeat>) =>
      world.topology.sites.put(
        site,
        JSON.stringify({
          site,
          zone: site.startsWith('dmz') ? 'dmz-perimeter' : 'corporate-datacenters',
          labels: {},
          agentVersion: '0.1.0',
          lastSeen: iso(2_000),
          queueDepth: 0,
          activeDownloads: 0,
          activeImports: 0,
          suspended: false,
          ready: true,
          notReady: [],
          ...extra,
        } satisfies Heartbeat),
      );
    await heartbeat(LIVE[0]!, {});
    await heartbeat(LIVE[1]!, {
      ready: false,
      notReady: ['vcenter: vSphere login: vCenter https://vc2.example rejected user "svc-ferry@vsphere.local"'],
    });
    await heartbeat(LIVE[2]!, { suspended: true });
    await heartbeat(STALE, { lastSeen: iso(3 * 3_600_000) });
    const control: SiteControl = {
      schema: 'ferry/site-control/v1',
      site: LIVE[2]!,
      suspended: true,
      at: iso(600_000),
      by: 'alice@jump-host-01',
      reason: 'storage array firmware upgrade until Friday',
    };
    await world.topology.status.put(siteControlKey(LIVE[2]!), JSON.stringify(control));
    await record(LIVE[0]!, long, {
      lastRefusal: {
        code: 'SIGNATURE_INVALID',
        message: 'manifest signed by key 7f3a…, which is not in trust.publicKeys',
        at: iso(20_000),
      },
    });
    await record(LIVE[1]!, long, {
      state: 'failed',
      error: { code: 'VSPHERE_AUTH', message: 'vCenter rejected user "svc-ferry@vsphere.local"' },
    });
    await record(LIVE[2]!, long, { state: 'downloading', bytesDone: 1024 ** 3, bytesTotal: 3 * 1024 ** 3 });
    await record(LIVE[0]!, short, {
      check: {
        passed: false,
        durationMs: 4_200,
        at: iso(10_000),
        error: 'VM vm-7 has 0 disk(s) but the OVF declares 1',
      },
    });
    const rollout = (m: Manifest, extra: Partial<RolloutRecord>) =>
      world.topology.rollouts!.put(
        rolloutKey(m.name, m.version),
        JSON.stringify({
          schema: ROLLOUT_SCHEMA,
          name: m.name,
          version: m.version,
          sha256: m.sha256,
          gate: 'approval',
          approval: { by: 'alice@jump-host-01', at: iso(900_000), note: 'security scan 4711 passed' },
          waves: [
            {
              name: 'canary-frankfurt',
              targets: [LIVE[0]!],
              soakMs: 3_600_000,
              releasedAt: iso(600_000),
              announcedAt: iso(600_000),
              readyAt: iso(60_000),
              sites: [LIVE[0]!],
            },
            { name: 'everything-else', targets: ['*'], soakMs: 0 },
          ],
          createdAt: iso(900_000),
          updatedAt: iso(60_000),
          ...extra,
        } satisfies RolloutRecord),
      );
    // The longest badge ("soak wave 1/2") next to the longest version, and a halted one.
    await rollout(long, {});
    await rollout(short, { halt: { reason: 'wave canary-frankfurt: the deploy check failed', at: iso(30_000) } });
    // The stale site's frozen transfer and failure must not count in the summary.
    await record(STALE, long, { state: 'importing', bytesDone: 10, bytesTotal: 100, updatedAt: iso(3 * 3_600_000) });
    await record(STALE, short, { state: 'failed', error: { code: 'STORE_ERROR', message: 'gone' } });
    // Reported by an agent, unknown to the catalog.
    await record(LIVE[0]!, { name: 'centos-stream-legacy-golden', version: '8.0.2019-final' }, {});
    await world.topology.status.put(
      `${LIVE[0]}._reconcile`,
      JSON.stringify({
        site: LIVE[0],
        startedAt: iso(33_000),
        finishedAt: iso(30_000),
        trigger: 'schedule',
        counts: { import: 0, reimport: 0, delete: 0, keep: 2, ignored: 1 },
        errors: [],
      }),
    );
    daemon = await startPageDaemon(world);
  });
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await world?.stop();
  });

  const pageErrors: string[] = [];
  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
  });

  async function open(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    // A script error (say, a name missing between the page's modules) fails the test (afterEach).
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(daemon.url);
    await page.locator('html[data-ready="true"]').waitFor({ state: 'attached', timeout: 10_000 });
    return page;
  }

  for (const width of [1400, 800]) {
    it(`at ${width} px no label is cut and the sites table fits the window`, async () => {
      const page = await open(width);
      try {
        await page.screenshot({ path: join(OUT, `web-page-layout-${width}.png`), fullPage: true });
        expect(await page.evaluate(CUT_TEXT)).toEqual([]);
        const tableRight = await page.evaluate(`document.getElementById('sites').getBoundingClientRect().right`);
        expect(tableRight).toBeLessThanOrEqual(width);
        expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
      } finally {
        await page.close();
      }
    });
  }

  it('shows a refusal in its cell, and the full story in the detail panel', async () => {
    const page = await open(1400);
    try {
      const refused = page.locator(
        `#matrix-body [data-image="windows-server-2022-datacenter-hardened@2026.11.21-build.4711"] [data-site="${LIVE[0]}"]`,
      );
      await expect.poll(() => refused.locator('.refusal').textContent()).toBe('refused SIGNATURE_INVALID');
      expect(await refused.locator('.refusal').isVisible()).toBe(true);
      await refused.click();
      const detail = page.locator('#detail');
      await detail.waitFor({ state: 'visible' });
      expect(await detail.textContent()).toContain('refused SIGNATURE_INVALID');
      expect(await detail.textContent()).toContain('which is not in trust.publicKeys');
      expect(await detail.locator('dt', { hasText: 'catalog sha256 (unverified here)' }).count()).toBe(1);
      await page.screenshot({ path: join(OUT, 'web-page-refusal.png') });
    } finally {
      await page.close();
    }
  });

  it('shows each rollout as a badge by its version, and the wave and deploy check in cell and detail', async () => {
    const page = await open(1400);
    try {
      const row = (m: string) => page.locator(`#matrix-body [data-image="${m}"]`);
      const soaking = row('windows-server-2022-datacenter-hardened@2026.11.21-build.4711').locator('.badge.rollout');
      await expect.poll(() => soaking.textContent()).toBe('soak wave 1/2');
      expect(await soaking.getAttribute('title')).toMatch(/approved by alice@jump-host-01 .*\(security scan 4711/);
      expect(await row('alma@9.4').locator('.badge.rollout').textContent()).toBe('halted');
      expect(await page.textContent('#legend')).toContain('rollout: waiting for ferry approve');
      const cell = row('alma@9.4').locator(`[data-site="${LIVE[0]}"]`);
      expect(await cell.locator('.sub').textContent()).toBe('check failed');
      expect(await cell.getAttribute('title')).toContain('deploy check failed');
      await cell.click();
      const detail = page.locator('#detail');
      await detail.waitFor({ state: 'visible' });
      expect(await detail.textContent()).toContain('halted: wave canary-frankfurt: the deploy check failed');
      expect(await detail.locator('dt', { hasText: 'deploy check' }).count()).toBe(1);
    } finally {
      await page.close();
    }
  });

  it('counts only live sites, names suspension and readiness, and explains "not in catalog"', async () => {
    const page = await open(1400);
    try {
      // 3 image versions; live cells: 1 failed (VSPHERE_AUTH), 1 downloading, 3 ready; the stale
      // site's importing and failed cells are not counted.
      expect(await page.textContent('#summary')).toBe(
        '3 image versions · 3 live sites (+1 stale, not counted) · 3 ready · 1 transferring · 1 failed · 1 refused',
      );
      const sites = (await page.textContent('#sites tbody')) ?? '';
      expect(sites).toContain('suspended by alice@jump-host-01');
      expect(sites).toContain('storage array firmware upgrade until Friday');
      expect(sites).toContain('not ready: vcenter: vSphere login');
      expect(await page.textContent('#legend')).toContain('not in catalog');
    } finally {
      await page.close();
    }
  });
});
