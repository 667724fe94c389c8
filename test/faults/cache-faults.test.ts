import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SiteWorld } from '../support/site-world.js';

let world: SiteWorld;
const mounts: string[] = [];

/**
 * A tmpfs of `size` at `dir` (Linux, as root with mount rights); false otherwise, and the tests that
 * need it skip (the summary line counts and lists them).
 */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    mounts.push(dir);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  world = await SiteWorld.start([{ site: 'ro' }, { site: 'full' }, { site: 'quota' }]);
});
afterAll(async () => {
  for (const site of ['ro', 'full', 'quota']) await world?.stopAgent(site);
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  await world?.stop();
});

async function cacheFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => /\.(partial|ova)$/.test(n));
}

describe('fault: the cache', () => {
  it('not writable: a clear CACHE_ERROR in status, no partial file, other work goes on, and it recovers', async (ctx) => {
    const dir = join(world.dir, 'ro-cache');
    await mkdir(dir, { recursive: true });
    const mounted = mountTmpfs(dir, '64m');
    // Without a mount, only a non-root process can be kept out of a directory (by its mode).
    if (!mounted && process.getuid?.() === 0) ctx.skip();
    await world.writeConfig('ro', { extra: { cache: { dir, maxBytes: '1GiB' } } });
    const agent = await world.startAgent('ro');
    const first = await world.publish(await world.buildOva({ name: 'before' }), {
      name: 'before',
      version: '1',
      targets: ['ro'],
    });
    await world.waitForStatus('ro', first.name, first.version);

    if (mounted) execFileSync('mount', ['-o', 'remount,ro', dir]);
    else await chmod(dir, 0o555);
    const m = await world.publish(await world.buildOva({ name: 'blocked' }), {
      name: 'blocked',
      version: '1',
      targets: ['ro'],
    });
    const failed = await world.waitForStatus('ro', m.name, m.version, (r) => r.state === 'failed');
    expect(failed.error?.code).toBe('CACHE_ERROR');
    expect(failed.error?.message).toMatch(/not writable|read-only|EROFS/i);
    expect(await cacheFiles(dir)).not.toContain(`${m.sha256}.partial`);
    const ready = (await (await fetch(`${agent.httpUrl}/readyz`)).json()) as {
      checks: Array<{ name: string; ok: boolean }>;
    };
    expect(ready.checks.find((c) => c.name === 'cache')?.ok).toBe(false);
    expect((await fetch(`${agent.httpUrl}/healthz`)).status).toBe(200);

    // Other work goes on: a republish of an image the library already holds.
    const { EventBus } = await import('@ferry/shared');
    await new EventBus(world.nc).publish('ro', { kind: 'republish', manifest: first, force: false });
    await world.waitForStatus('ro', first.name, first.version);

    if (mounted) execFileSync('mount', ['-o', 'remount,rw', dir]);
    else await chmod(dir, 0o755);
    await new EventBus(world.nc).publish('ro', { kind: 'republish', manifest: m, force: false });
    await world.waitForStatus('ro', m.name, m.version);
  });

  it('full disk: CACHE_ERROR, the partial file removed, smaller images still import', async (ctx) => {
    const dir = join(world.dir, 'full-cache');
    await mkdir(dir, { recursive: true });
    if (!mountTmpfs(dir, '24m')) ctx.skip(); // the quota case below covers a full cache without a mount
    await world.writeConfig('full', { extra: { cache: { dir, maxBytes: '1GiB' } } });
    await world.startAgent('full');
    const big = await world.publish(await world.buildOva({ name: 'huge', diskSize: 40 * 2 ** 20 }), {
      name: 'huge',
      version: '1',
      targets: ['full'],
    });
    const failed = await world.waitForStatus('full', big.name, big.version, (r) => r.state === 'failed');
    expect(failed.error?.code).toBe('CACHE_ERROR');
    expect(failed.error?.message).toMatch(/disk full/);
    expect(await cacheFiles(dir)).toEqual([]);
    const small = await world.publish(await world.buildOva({ name: 'small' }), {
      name: 'small',
      version: '1',
      targets: ['full'],
    });
    await world.waitForStatus('full', small.name, small.version);
  });

  it('over cache.maxBytes: CACHE_ERROR before downloading, nothing written, smaller images still import', async () => {
    await world.writeConfig('quota', { extra: { cache: { dir: join(world.dir, 'quota-cache'), maxBytes: '8MiB' } } });
    await world.startAgent('quota');
    const big = await world.publish(await world.buildOva({ name: 'toobig', diskSize: 12 * 2 ** 20 }), {
      name: 'toobig',
      version: '1',
      targets: ['quota'],
    });
    const failed = await world.waitForStatus('quota', big.name, big.version, (r) => r.state === 'failed');
    expect(failed.error?.code).toBe('CACHE_ERROR');
    expect(failed.error?.message).toMatch(/cache full.*raise cache\.maxBytes/);
    expect(await cacheFiles(join(world.dir, 'quota-cache'))).toEqual([]);
    const small = await world.publish(await world.buildOva({ name: 'fits' }), {
      name: 'fits',
      version: '1',
      targets: ['quota'],
    });
    await world.waitForStatus('quota', small.name, small.version);
  });
});
